"""The object road (``appliance.provisioning.live``) on the lab's real Asterisk 22: an extension saved through
the REST API is live when the save returns, with nothing reloaded.

One pbx (and one console over real HTTP) for the module: each test uses extensions of its own.  A phone is
the lab's SIP client (``lab.sip_client``), which REGISTERs once and reports the answer; a call is held by
the carrier's phone against the pbx's echo test (*43).
"""

from __future__ import annotations

import re
import time

import pytest
import requests

from appliance.access import accounts, apitokens
from appliance.model.database import close_database
from appliance.provisioning import projection
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app
from lab.sip_client import SipClient
from tests.lab.helpers import add
from tests.lab.test_apply_reloads import watch_reloads

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]


class Live:
    """The module's pbx, its console's API and a phone."""

    def __init__(self, pbx, url: str, token: str) -> None:
        self.pbx, self.url = pbx, url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.phone = SipClient("127.0.0.1", ("127.0.0.1", pbx.instance.sip_port))

    def create(self, number: str, **fields) -> requests.Response:
        return self.http.post(f"{self.url}/api/v1/extensions", json={"number": number, "name": f"Phone {number}",
                                                                      **fields}, timeout=30)

    def put(self, number: str, **changes) -> requests.Response:
        current = self.http.get(f"{self.url}/api/v1/extensions/{number}", timeout=30).json()
        return self.http.put(f"{self.url}/api/v1/extensions/{number}", json={**current, **changes}, timeout=30)

    def register(self, number: str, password: str) -> int | None:
        answer = self.phone.register(number, password)
        return answer.status if answer else None


@pytest.fixture(scope="module")
def live(tmp_path_factory, rootfs):
    from lab.pbx import start_pbx
    install, instance = start_pbx(tmp_path_factory.mktemp("live") / "pbx-home", rootfs)
    server = None
    try:
        from tests.conftest import Pbx
        pbx = Pbx(install, instance)
        add("extension", number="100", name="Alice")  # the 1XX range: its dialplan pattern
        add("extension", number="101", name="Bob")
        pbx.apply()
        accounts.ensure_first_admin()
        token = apitokens.create_token("admin", "live-test", actor="test")
        server = make_server(create_app(install), "127.0.0.1", 0)
        server.start()
        yield Live(pbx, server.url, token)
    finally:
        if server is not None:
            server.close()
        instance.stop()
        close_database()


def test_an_extension_created_through_the_api_registers_at_once_with_nothing_reloaded(live):
    reloaded = watch_reloads(live.pbx)
    created = live.create("150")
    assert created.status_code == 201, created.text
    assert created.headers["X-Linebox-Live"].startswith("yes; revision="), created.headers
    assert "X-Linebox-Apply-Needed" not in created.headers
    password = created.json()["password"]
    # at once: no wait, no retry
    assert live.register("150", password) == 200
    assert reloaded() == []  # neither res_pjsip nor the dialplan: rows and a cache expiry only
    # the revision the rows hold is the database's, and linebox status / diag say it
    from appliance.support.diagnostics import check_config
    revision = projection.revision(live.pbx.install.target().projection_file)
    assert created.headers["X-Linebox-Live"] == f"yes; revision={revision}"
    assert f"revision {revision}" in check_config(live.pbx.install).text


def test_a_new_password_is_live_at_once_and_the_old_one_refused(live):
    password = live.create("151").json()["password"]
    assert live.register("151", password) == 200
    changed = live.put("151", password="N3wPassw0rdAbCdEf")
    assert changed.status_code == 200 and changed.headers["X-Linebox-Live"].startswith("yes"), changed.headers
    assert live.register("151", password) == 401
    assert live.register("151", "N3wPassw0rdAbCdEf") == 200


def test_a_deleted_extension_is_refused_at_once_and_its_registration_is_gone(live):
    password = live.create("152").json()["password"]
    assert live.register("152", password) == 200
    assert "152/sip:" in live.pbx.cli("pjsip show contacts")
    deleted = live.http.delete(f"{live.url}/api/v1/extensions/152", timeout=30)
    assert deleted.status_code == 204 and deleted.headers["X-Linebox-Live"].startswith("yes"), deleted.headers
    assert live.register("152", password) != 200
    assert "152/sip:" not in live.pbx.cli("pjsip show contacts")
    assert "Unable to find object 152" in live.pbx.cli("pjsip show endpoint 152")


def test_a_phone_registered_before_its_caller_id_changes_keeps_working(live):
    password = live.create("153", name="Before").json()["password"]
    assert live.register("153", password) == 200
    assert live.put("153", name="After").headers["X-Linebox-Live"].startswith("yes")
    shown = live.pbx.cli("pjsip show endpoint 153")
    assert '"After" <153>' in shown and "153/sip:" in shown, shown  # new caller ID, the same registration
    assert live.register("153", password) == 200
    answer = live.phone.invite("153", password, "*43")  # a call from it: the echo test answers
    assert answer is not None and answer.status == 200


def test_an_edit_asterisk_refuses_leaves_the_old_object_live_and_says_why(live, monkeypatch):
    password = live.create("154", name="Kept").json()["password"]
    real_rows = projection.extension_rows

    def refused_rows(ext, networks, *args, **kwargs):
        """A value Linebox accepted but this Asterisk does not (as after an upgrade that dropped it)."""
        rows = real_rows(ext, networks, *args, **kwargs)
        if ext.number == "154" and "ps_endpoints" in rows:
            row = list(rows["ps_endpoints"]["154"])
            row[projection.TABLES["ps_endpoints"].index("dtmf_mode")] = "smoke_signals"
            rows["ps_endpoints"]["154"] = tuple(row)
        return rows
    monkeypatch.setattr(projection, "extension_rows", refused_rows)
    edited = live.put("154", name="Refused")
    live_header = edited.headers["X-Linebox-Live"]
    assert live_header.startswith("no; ") and "154" in live_header and "previous version stays live" in live_header
    assert "dtmf_mode" in live_header or "smoke_signals" in live_header, live_header  # why, from Asterisk's log
    shown = live.pbx.cli("pjsip show endpoint 154")
    assert '"Kept" <154>' in shown, shown
    assert live.register("154", password) == 200
    with projection.connect(live.pbx.install.target().projection_file) as db:
        row = projection.read_rows(db, {"ps_endpoints": ["154"]})["ps_endpoints"]["154"]
    assert "smoke_signals" not in row and '"Kept" <154>' in row


def test_a_call_on_one_extension_is_not_disturbed_by_thirty_edits_of_another(live, rootfs):
    from lab.carrier import Phone, start_carrier
    password = live.create("155").json()["password"]
    live.create("156")
    phones = start_carrier(live.pbx.instance.sip_port, [Phone("155", password)], rootfs)
    try:
        phones.wait_registered(["155"])
        phones.call("ph155", "*43", tag="long-call", hold=120)
        channel = _wait_channel(live.pbx, "PJSIP/155-")
        for i in range(30):
            edited = live.put("156", name=f"Edit {i}")
            assert edited.headers["X-Linebox-Live"].startswith("yes"), edited.headers
            assert channel in live.pbx.cli("core show channels concise"), f"the call ended at edit {i}"
        assert '"Edit 29" <156>' in live.pbx.cli("pjsip show endpoint 156")
        assert channel in live.pbx.cli("core show channels concise")
    finally:
        phones.stop()


def test_after_an_asterisk_restart_every_extension_is_back(live):
    from lab import instance as lab
    numbers = [e.number for e in service.list_objects("extension")]
    passwords = {e.number: e.password for e in service.list_objects("extension")}
    live.pbx.instance.stop(remove=False)
    lab.start(live.pbx.instance)
    endpoints = live.pbx.cli("pjsip show endpoints")
    assert set(numbers) <= set(re.findall(r"^\s*Endpoint:\s+(\d+)", endpoints, re.MULTILINE)), endpoints
    assert live.register("153", passwords["153"]) == 200


def _wait_channel(pbx, prefix: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        found = [line.split("!")[0] for line in pbx.cli("core show channels concise").splitlines()
                 if line.startswith(prefix) and "!Up!" in line]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no call up on {prefix}"
        time.sleep(0.1)
