"""The agent's page in a real browser: a queue call rings, the pop shows the caller's history with the
dispositions and notes of earlier calls, and the agent saves this call's disposition and note.
The transfer control: a refused destination says why without reaching Asterisk; a park shows the slot.

Asterisk is replaced by a stand-in that answers ``QueueStatus`` and hands the board an ``AgentCalled``
event as Asterisk 22 writes it (the lab test tests/lab/test_agent_desk.py does it with real calls).
"""

from __future__ import annotations

import time

import pytest

from appliance.access import accounts
from appliance.callcenter import agents, live
from appliance.model.models import CallNote, QueueCall
from appliance.site import service
from appliance.web import wallboard
from tests.browser.conftest import login, shot

pytestmark = pytest.mark.timeout(120)
CALLER = "+15550001111"


class StandInAmi:
    """The board's AMI session: it keeps the event callback so the test can play Asterisk's events."""

    callbacks: list = []

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        return None

    def on_event(self, _name, callback) -> None:
        StandInAmi.callbacks.append(callback)

    def action(self, _name, **_headers):
        lines = ["Response: Success", "", "Event: QueueParams", "Queue: 700", "Calls: 1", "", "Event: QueueMember",
                 "Queue: 700", "Name: 100", "Location: PJSIP/100", "Status: 1", "Paused: 0", "CallsTaken: 2", ""]
        return type("Response", (), {"response": lines})()


def test_the_pop_shows_the_callers_history_and_the_agent_saves_a_disposition(page, served, monkeypatch):
    service.save_object("queue", {"number": "700", "name": "Support", "members": [{"extension": "100"}],
                                  "dispositions": [{"name": "Sale"}, {"name": "Complaint"}]}, "test", create=True)
    now = int(time.time())
    QueueCall.insert_many([
        {"callid": "1000.1", "queue": "700", "entered": now - 7200, "caller": CALLER, "outcome": "answered",
         "wait_seconds": 5, "talk_seconds": 60, "agent": "100"},
        {"callid": "2000.1", "queue": "700", "entered": now - 3600, "caller": CALLER, "outcome": "answered",
         "wait_seconds": 2, "talk_seconds": 30, "agent": "101"},
    ]).execute()
    CallNote.insert_many([
        {"callid": "1000.1", "queue": "700", "agent": "100", "disposition": "Sale", "note": "ordered 3 boxes"},
        {"callid": "2000.1", "queue": "700", "agent": "101", "disposition": "Complaint", "note": "late delivery"},
    ]).execute()
    accounts.create_user("alice", "Agent-pass-1234", "agent", actor="test")
    agents.claim_extension("alice", "100", service.get_object("extension", "100").voicemail_pin)
    StandInAmi.callbacks = []
    monkeypatch.setattr(wallboard, "LiveBoard", lambda _connect: live.LiveBoard(StandInAmi, refresh_seconds=1))
    try:
        login(page, served, "alice", "Agent-pass-1234")
        page.wait_for_url(served.at("/"))
        page.goto(served.at("/agent"))
        deadline = time.monotonic() + 10  # the page's stream is open once the board follows Asterisk's events
        while not StandInAmi.callbacks and time.monotonic() < deadline:
            time.sleep(0.05)
        event = {"Event": "AgentCalled", "Queue": "700", "Interface": "PJSIP/100", "MemberName": "100",
                 "CallerIDNum": CALLER, "CallerIDName": "", "Uniqueid": "3000.1", "Linkedid": "3000.1"}
        StandInAmi.callbacks[-1](type("Event", (), {"headers": event})(), None)

        pop = page.locator("#screen-pop")
        pop.locator(".pop-history tbody tr").nth(1).wait_for()
        assert pop.locator(".pop-caller").inner_text() == CALLER
        assert pop.locator(".pop-unknown").is_visible() and pop.locator(".pop-add-contact").get_attribute("href") \
            == "/contacts/new?number=%2B15550001111"
        rows = [(r.locator(".disposition").inner_text(), r.locator(".note").inner_text())
                for r in pop.locator(".pop-history tbody tr").all()]
        assert rows == [("Complaint", "late delivery"), ("Sale", "ordered 3 boxes")]
        assert pop.locator("select#disposition option").all_inner_texts() == ["(no disposition)", "Sale", "Complaint"]
        shot(page, "agent-pop-history")

        pop.locator("select#disposition").select_option("Sale")
        pop.locator("textarea#note").fill("wants the blue ones")
        pop.locator("#save-disposition").click()
        pop.locator(".pop-disposition-result", has_text="Saved.").wait_for()
        note = CallNote.get(CallNote.callid == "3000.1")
        assert (note.queue, note.agent, note.disposition, note.note, note.linkedid) == \
            ("700", "100", "Sale", "wants the blue ones", "3000.1")
        shot(page, "agent-disposition-saved")
    finally:
        page.goto("about:blank")


class StandInTransferAmi:
    """The transfer user's AMI session: the agent's channel in a bridge, Asterisk's parking list once parked,
    and every action the page's request made (tests/lab/test_transfers.py does it on real calls)."""

    actions: list = []

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        return None

    def action(self, name, **headers):
        StandInTransferAmi.actions.append((name, headers))
        value = "4000.1" if name == "Getvar" else ""
        return type("Response", (), {"get_header": staticmethod(lambda _h: value)})()


def test_the_agent_parks_the_call_from_the_page_and_sees_the_slot_a_refused_transfer_says_why(
        page, served, monkeypatch):
    from appliance.asterisk import ami_users
    from appliance.callcenter import transfers
    from appliance.install import Install
    accounts.create_user("alice", "Agent-pass-1234", "agent", actor="test")
    agents.claim_extension("alice", "100", service.get_object("extension", "100").voicemail_pin)
    StandInTransferAmi.actions = []
    real_connect = Install.connect_ami
    monkeypatch.setattr(Install, "connect_ami", lambda self, **kw: StandInTransferAmi()
                        if kw.get("user") == ami_users.TRANSFER else real_connect(self, **kw))
    monkeypatch.setattr(transfers, "core_show_channels", lambda _ami: [
        {"Channel": "PJSIP/100-00000007", "BridgeId": "b-1"}, {"Channel": "PJSIP/trunk-00000006", "BridgeId": "b-1"}])
    parked = [{"ParkeeLinkedid": "4000.1", "ParkingSpace": "71"}]
    monkeypatch.setattr(transfers, "listed", lambda _ami, _action, _event: parked
                        if any(a == "BlindTransfer" for a, _h in StandInTransferAmi.actions) else [])
    try:
        login(page, served, "alice", "Agent-pass-1234")
        page.wait_for_url(served.at("/"))
        page.goto(served.at("/agent"))
        form = page.locator("form#transfer")
        result = form.locator(".transfer-result")

        form.locator("#transfer-how").select_option("blind")
        form.locator("#transfer-kind").select_option("extension")
        form.locator("#transfer-to").fill("199")
        form.locator("#transfer-go").click()
        page.locator("form#transfer .transfer-result.error").wait_for()
        assert "no extension 199" in result.inner_text()
        assert StandInTransferAmi.actions == [], "a refused destination never reaches Asterisk"

        form.locator("#transfer-how").select_option("park")
        form.locator("#transfer-go").click()
        page.locator("form#transfer .transfer-result.success").wait_for()
        assert result.inner_text() == "Parked in slot 71: any phone dials it to pick the call up."
        assert ("BlindTransfer", {"Channel": "PJSIP/100-00000007", "Context": "from-internal", "Exten": "70"}) \
            in StandInTransferAmi.actions
        shot(page, "agent-parked")
    finally:
        page.goto("about:blank")
