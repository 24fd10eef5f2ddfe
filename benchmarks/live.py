"""The object road on the 10,000-extension site (``make bench``, from ``benchmarks.run``): how long from a save
through the REST API until the phone sees the change.

Over real HTTP (the console's WSGI server) and real SIP (``lab.sip_client``), on the same Asterisk the core
benchmark loaded with the large site:

* create: ``POST /api/v1/extensions`` sent → a REGISTER with the new password answered 200 (and, apart,
  until the save returned: the endpoint pushed and found in Asterisk, ``edit_live_saved_*``);
* password: ``PUT`` with a new password sent → a REGISTER with it answered 200 (the old one then refused);
* delete: ``DELETE`` sent → a REGISTER with the old password refused.

Each clock stops at the first answer that shows the change (a REGISTER is sent as soon as the save returns and
again until then).  The numbers are made in a number range the dialplan already has (one full apply opens it
first), so every save goes the object road.  Keys: ``edit_live_p50_ms``/``p95``/``max`` (create), the same for
``password_live_*`` and ``delete_live_*``, with the load average when they were measured.

About one password change (or delete) in ten to twenty waits ~2 s on the 10,000-extension site, never on a small
one.  That is Asterisk's, not this measurement's (traced 2026-12-07, SIP logger and res_pjsip debug on): the first
REGISTER after the change is given to a distributor serializer that does not run it for seconds, its
retransmissions too, while the next REGISTER (another Call-ID, another serializer) is answered in milliseconds.
Just before, the phone's first registration on the extension created a moment earlier made res_pjsip_options
meet an AOR it had not known since Asterisk started, with qualify on: it then reads every endpoint (10,000
realtime rows) to find those using it, a task of seconds; and Asterisk 22.10.1's taskpool hands new tasks to an
executor inside a long task while others are idle (asterisk/asterisk#2074, fixed by #2075 after 22.10.1).  A
real phone waits the same, and so may any SIP request that lands on that executor meanwhile.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import requests

from appliance.access import accounts, apitokens
from appliance.provisioning import apply
from appliance.services.http_server import make_server
from appliance.site import schemas, service
from appliance.web.app import create_app
from lab.sip_client import SipClient

FIRST = 20000  # a range of its own (_2XXXX): the site's extensions are 10000-19999


def _percentiles(name: str, values_ms: list[float]) -> dict:
    ordered = sorted(values_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {f"{name}_p50_ms": round(statistics.median(ordered), 1), f"{name}_p95_ms": round(p95, 1),
            f"{name}_max_ms": round(ordered[-1], 1), f"{name}_count": len(ordered)}


def _until(condition, timeout: float = 90.0) -> float:
    """Seconds until ``condition()`` holds (tried at once, then again without pause)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"the change never reached the phone within {timeout:.0f} s")
    return time.perf_counter() - start


def _explained(condition, what: str, number: str, reply, last: list, pbx) -> None:
    """``_until``, and when the phone never sees the change: what it was answered and what Asterisk holds."""
    try:
        _until(condition)
    except SystemExit as error:
        raise SystemExit(f"{what}: {error}: {number}'s REGISTER answered {last[0]}; the save said "
                         f"{reply.status_code} {reply.headers.get('X-Linebox-Live')!r}; Asterisk shows:\n"
                         + pbx.cli(f"pjsip show endpoint {number}", timeout=120)[-1500:]) from None


def measure(install, pbx, edits: int = 50) -> dict:
    facts, target = install.facts(), install.target()
    service.save_object("extension", {"number": str(FIRST), "name": "Range opener"}, "bench", create=True)
    opened = apply.apply(service.snapshot, facts, target, user="bench")
    if not opened.ok:
        raise SystemExit(f"apply opening the 2XXXX range failed: {opened.error}")
    accounts.ensure_first_admin()
    token = apitokens.create_token("admin", "bench-live", actor="bench")
    server = make_server(create_app(install), "127.0.0.1", 0)
    server.start()
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    phone = SipClient("127.0.0.1", ("127.0.0.1", pbx.sip_port), timeout=2.0)
    api = f"{server.url}/api/v1/extensions"

    last: list = [None]

    def registers(number: str, password: str) -> bool:
        answer = phone.register(number, password)
        last[0] = answer.status if answer is not None else None
        return answer is not None and answer.status == 200

    created, saved, changed, deleted, not_live = [], [], [], [], []
    try:
        for i in range(1, edits + 1):
            number = str(FIRST + i)
            start = time.perf_counter()
            reply = http.post(api, json={"number": number, "name": f"Live {i}"}, timeout=60)
            if reply.status_code != 201:
                raise SystemExit(f"create {number}: {reply.status_code} {reply.text}")
            saved.append((time.perf_counter() - start) * 1000)  # the save returned: the endpoint is in Asterisk
            if not reply.headers.get("X-Linebox-Live", "").startswith("yes"):
                not_live.append(f"{number}: {reply.headers.get('X-Linebox-Live')}")
            password = reply.json()["password"]
            try:
                _until(lambda number=number, password=password: registers(number, password))
            except SystemExit as error:
                raise SystemExit(f"{error}: {number}'s REGISTER answered {last[0]}; the save said "
                                 f"{reply.headers.get('X-Linebox-Live')!r} after {saved[-1]:.0f} ms; Asterisk shows:\n"
                                 + pbx.cli(f"pjsip show endpoint {number}", timeout=120)[-1500:]) from None
            created.append((time.perf_counter() - start) * 1000)

            new_password = schemas.strong_secret()  # one the password policy accepts
            start = time.perf_counter()
            current = http.get(f"{api}/{number}", timeout=60).json()
            reply = http.put(f"{api}/{number}", json={**current, "password": new_password}, timeout=60)
            if reply.status_code != 200:
                raise SystemExit(f"password of {number}: {reply.status_code} {reply.text}")
            _explained(lambda number=number, new_password=new_password: registers(number, new_password),
                       "new password", number, reply, last, pbx)
            changed.append((time.perf_counter() - start) * 1000)
            if registers(number, password):
                raise SystemExit(f"{number}: the old password still registers after the change")

            start = time.perf_counter()
            reply = http.delete(f"{api}/{number}", timeout=60)
            if reply.status_code != 204:
                raise SystemExit(f"delete {number}: {reply.status_code} {reply.text}")
            _explained(lambda number=number, new_password=new_password: not registers(number, new_password),
                       "delete", number, reply, last, pbx)
            deleted.append((time.perf_counter() - start) * 1000)
            if i % 10 == 0:
                print(f"{i} extensions: create→200 {created[-1]:.1f} ms, password {changed[-1]:.1f} ms, "
                      f"delete {deleted[-1]:.1f} ms", file=sys.stderr, flush=True)
    finally:
        phone.close()
        server.close()
    return {**_percentiles("edit_live", created), **_percentiles("edit_live_saved", saved),
            **_percentiles("password_live", changed),
            **_percentiles("delete_live", deleted), "edit_live_not_live": not_live,
            "edit_live_load_average": round(os.getloadavg()[0], 2),
            "edit_live_goal_p95_ms": 100}
