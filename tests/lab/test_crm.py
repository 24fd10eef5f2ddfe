"""Click-to-dial and the CRM hooks with real calls through Asterisk (issue 21, items 3 and 4).

One lab site for the module (extension 201 in queue 700 behind the inbound route 5553700, an outbound route
to the carrier's telco line, the console served over real HTTP with an agent's page open on extension 201),
set up as ``test_agent_desk`` does, with its helpers.  Click-to-dial: the agent's phone (the carrier's
registered extension 201) rings first; once it answers, the pbx dials the number through the extension's
outbound route, past the dial guard (the pbx's own FastAGI service), and the carrier's telco line receives
it with the route's caller ID.  Webhooks: the webhook service runs in the test against a receiver on
127.0.0.1 that fails twice first.  CRM lookup: a CRM on 127.0.0.1 answering in 3 s, or never.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass

import pytest
import requests

from appliance.access import apitokens
from appliance.callcenter import webhooks
from appliance.model.database import close_database
from appliance.model.models import AuditEntry
from appliance.site import service
from tests.conftest import Pbx, wait_reachable
from tests.lab.helpers import add, add_carrier_trunk
from tests.lab.test_agent_desk import CALLER, Desk, _served, _wait_calls_gone
from tests.lab.test_agent_desk import _site as _desk_site
from tests.web.test_callcenter_pages import token_of

pytestmark = pytest.mark.lab

MOBILE = "13912345678"
INTERNATIONAL = "00442079460000"
COMPANY_NUMBER = "02155550000"  # the outbound route's caller ID
RING_SECONDS = 1.5  # the agent's phone rings this long before it is picked up


@dataclass
class Site:
    pbx: Pbx
    phones: object  # lab.carrier.Carrier
    url: str
    desk: Desk  # the agent's page on extension 201 (console user "alice"), open for the whole module


@pytest.fixture(scope="module")
def site(tmp_path_factory, rootfs):
    from lab.carrier import Phone, start_carrier
    from lab.pbx import start_pbx

    install, instance = start_pbx(tmp_path_factory.mktemp("crm") / "pbx-home", rootfs)
    pbx = Pbx(install, instance)
    phones = server = desk = None
    try:
        service.save_settings({"country_code": "86", "area_code": "21"}, user="test")
        _desk_site()
        pbx.apply()
        phones = start_carrier(instance.sip_port, [Phone(e.number, e.password)
                                                   for e in service.list_objects("extension")], rootfs)
        phones.wait_registered(["201"])
        wait_reachable(pbx, ["201"])
        add_carrier_trunk(phones)
        add("outbound_route", name="out", patterns=[{"match": "_1NXXXXXXXXX"}, {"match": "_00X."}], trunks=["telco"],
            caller_id=COMPANY_NUMBER)
        pbx.apply()
        server = _served(pbx)
        desk = Desk(server.url)
        desk.wait_state()
        yield Site(pbx, phones, server.url, desk)
    finally:
        if desk is not None:
            desk.close()
        if server is not None:
            server.close()
        if phones is not None:
            phones.stop()
        instance.stop()
        close_database()


@pytest.fixture
def quiet(site):
    """Each test starts with no call up and leaves the CRM settings off again."""
    _wait_calls_gone(site.pbx)
    yield site
    service.save_settings({"crm_lookup_url": "", "crm_open_url": "", "webhook_url": ""}, "test")
    _wait_calls_gone(site.pbx)


def _dialled(phones, mark: int, number: str) -> tuple[dict, dict]:
    """The agent's phone ringing, then the carrier's telco line receiving ``number``: checked to come after
    the phone has rung its RING_SECONDS and been picked up (the pbx dials only an answered phone's call)."""
    rang = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=20)
    out = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == number, since=mark, timeout=20)
    assert out["_time"] - rang["_time"] >= RING_SECONDS, "the number was dialled before the agent's phone answered"
    assert rang["Local"].endswith(f":{phones.phones_port}")  # the phone, not the trunk
    assert out["Local"].endswith(f":{phones.telco_port}") and out["CallerID"] == COMPANY_NUMBER, out
    return rang, out


def test_click_to_dial_rings_the_agents_phone_then_the_carrier_gets_the_call_with_the_routes_caller_id(quiet):
    phones, url, agent = quiet.phones, quiet.url, quiet.desk.session
    phones.set_behaviour("201", "answer", hold=3, ring=RING_SECONDS)
    phones.set_behaviour(MOBILE, "answer", hold=2, ring=0)
    # from the agent page's form
    mark = phones.mark()
    answer = agent.post(f"{url}/agent/dial", allow_redirects=False, data={
        "csrf_token": token_of(agent, f"{url}/agent"), "number": "139 1234 5678"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/agent")
    _dialled(phones, mark, MOBILE)
    assert any(e.action == "dial" and e.key == "201" and e.after == {"number": MOBILE}
               for e in AuditEntry.select())
    _wait_calls_gone(quiet.pbx)

    # through the REST API with the agent's token
    token = apitokens.create_token("alice", "crm", "test")
    mark = phones.mark()
    api = requests.post(f"{url}/api/v1/dial", json={"number": MOBILE},
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert api.status_code == 202 and api.json() == {"number": MOBILE, "status": "ringing"}, api.text
    _dialled(phones, mark, MOBILE)
    refused = requests.post(f"{url}/api/v1/dial", json={"number": "1;Hangup"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert refused.status_code == 422 and "1;Hangup" in refused.text
    _wait_calls_gone(quiet.pbx)

    # the extension's dial permission holds: an international number (blocked on a new site) is refused by
    # the dial guard after the agent picks up, and never reaches the carrier
    mark = phones.mark()
    assert requests.post(f"{url}/api/v1/dial", json={"number": INTERNATIONAL},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 202
    phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "201", since=mark, timeout=20)
    _wait_calls_gone(quiet.pbx, timeout=20)
    assert not [e for e in phones.events[mark:] if e.get("UserEvent") == "CarrierIncoming"
                and e.get("Exten") == INTERNATIONAL]
    phones.set_behaviour("201", "answer", hold=4, ring=1)  # as the queue calls below expect


class Receiver:
    """A webhook receiver on 127.0.0.1: records every request (time, headers, body) and answers ``codes`` in
    turn (then 200): 500 twice makes the sender retry."""

    def __init__(self, codes: tuple[int, ...] = ()):
        self.requests: list[tuple[float, dict, bytes, int]] = []
        self.codes = list(codes)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                code = receiver.codes.pop(0) if receiver.codes else 200
                receiver.requests.append((time.monotonic(), dict(self.headers), body, code))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[dict]:
        """The bodies answered 200, in the order they arrived (the failed attempts left out)."""
        return [json.loads(body) for _, _, body, code in self.requests if code == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhooks_reach_the_receiver_signed_in_order_and_a_failing_one_gets_retries(quiet):
    from appliance.services import webhooks as webhook_service
    phones, desk = quiet.phones, quiet.desk
    receiver = Receiver(codes=(500, 500))  # the first delivery fails twice, then the receiver is back
    service.save_settings({"webhook_url": receiver.url}, "test")
    stop, ready = threading.Event(), threading.Event()
    sender = threading.Thread(target=webhook_service.run, args=(quiet.pbx.install, stop),
                              kwargs={"retry_seconds": (0.5, 0.5, 0.5), "ready": ready}, daemon=True)
    sender.start()
    try:
        assert ready.wait(15), "the webhook service did not follow AMI"
        mark = phones.mark()
        phones.call("telco", "5553700", tag="hooked", hold=3)
        seen, _, connected = desk.wait_pop("connected", len(desk.pops))
        desk.save(connected, "Sale", "wants the blue one")
        phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "hooked", since=mark, timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and [e["event"] for e in receiver.accepted()][-1:] != ["call.ended"]:
            time.sleep(0.1)
        events = receiver.accepted()
        assert [e["event"] for e in events] == ["call.ringing", "call.answered", "call.disposition", "call.ended"]
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)
        assert {e["data"]["call"] for e in events} == {connected["uniqueid"]}
        assert events[0]["data"]["caller"] == CALLER and events[0]["data"]["agent"] == "201"
        assert (events[3]["data"]["disposition"], events[3]["data"]["note"]) == ("Sale", "wants the blue one")
        # every request signed over its exact body, with its timestamp
        key = webhooks.secret()
        for _, headers, body, _code in receiver.requests:
            timestamp = headers["X-Linebox-Timestamp"]
            assert abs(int(timestamp) - time.time()) < 60
            expected = "v1=" + hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["X-Linebox-Signature"], expected)
        # the first event was tried three times before anything later was sent; the log says so
        first = [json.loads(body)["id"] for _, _, body, _code in receiver.requests[:3]]
        assert first == [events[0]["id"]] * 3
        log = {row.id: row for row in webhooks.recent()}
        assert (log[events[0]["id"]].attempts, log[events[0]["id"]].status) == (3, "delivered")
        assert all(log[e["id"]].attempts == 1 for e in events[1:])
    finally:
        stop.set()
        sender.join(10)
        receiver.close()


class Crm:
    """A CRM on 127.0.0.1 answering ``/lookup?number=...``: after ``delay`` seconds with a contact, or (for the
    numbers in ``silent``) not at all until the test ends."""

    def __init__(self, delay: float, silent: tuple[str, ...] = ()):
        self.asked: list[tuple[float, str]] = []
        self.release = threading.Event()
        crm_server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                number = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("number", [""])[0]
                crm_server.asked.append((time.monotonic(), number))
                if crm_server.release.wait(30 if number in silent else delay):
                    return  # the test is over
                body = json.dumps({"name": "Dana <b>Smith</b>", "company": "Acme", "link": "javascript:alert(1)",
                                   "extra": "x" * 100}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/lookup?number={{number}}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_slow_or_silent_crm_never_delays_the_call_and_its_answer_follows_the_pop(quiet):
    phones, desk = quiet.phones, quiet.desk
    crm_server = Crm(delay=3.0, silent=("+15550002222",))
    service.save_settings({"crm_lookup_url": crm_server.url, "crm_open_url": "https://crm.example/open/{number}"},
                          "test")
    try:
        seen = len(desk.pops)
        for tag, caller in (("slow", CALLER), ("silent", "+15550002222")):
            mark = phones.mark()
            placed = time.monotonic()
            phones.call("telco", "5553700", tag=tag, hold=2, caller=caller)
            rang = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=20)
            seen, (popped, _), ringing = desk.wait_pop("ringing", seen)
            # the call reached the agent sooner than the CRM answers, and the pop came as the phone rang
            assert rang["_time"] - placed < 2.5, f"{tag}: the agent's phone rang {rang['_time'] - placed:.1f} s late"
            print(f"\n{tag} CRM: the phone rang {rang['_time'] - placed:.2f} s after the call was placed, "
                  f"the pop {1000 * (popped - rang['_time']):.0f} ms after it rang")
            assert popped - rang["_time"] < 1.0 and ringing["crm_pending"] is True
            assert ringing["crm_open"] == "https://crm.example/open/" + urllib.parse.quote(caller, safe="")
            seen, (answered, _), found = desk.wait_pop("crm", seen, timeout=15)
            assert found["uniqueid"] == ringing["uniqueid"]
            if tag == "slow":
                assert answered - popped >= 2.0  # the CRM's answer came after the pop, not before it
                # untrusted: text as sent (the page writes it as text), a link that is no http(s) dropped
                assert found["crm"] == {"found": True, "name": "Dana <b>Smith</b>", "company": "Acme", "link": ""}
            else:
                assert found["crm"] == {"found": False, "error": "timed out"}
            phones.wait_for("CallerHangup", lambda e, tag=tag: e.get("Tag") == tag, since=mark, timeout=30)
            seen += 1
        assert [number for _, number in crm_server.asked] == [CALLER, "+15550002222"]
        # the same caller again: answered from the cache at once, the CRM not asked
        from appliance.callcenter import crm
        started = time.monotonic()
        assert crm.lookup(crm_server.url, CALLER)["name"] == "Dana <b>Smith</b>"
        assert time.monotonic() - started < 0.5 and len(crm_server.asked) == 2
    finally:
        crm_server.close()
