"""The agent's desk with real calls through Asterisk: the caller's history in the screen pop, and a queue
that requires a disposition before the agent is offered the next call.

The console is served over real HTTP from the pbx's install; the agent's page reads the same event stream
and posts to the same endpoints a browser does.  The FastAGI service (the hangup handler asks it whether
the disposition was saved during the call) runs in the test, on a port of its own.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
import requests

from appliance.asterisk import ami_users
from appliance.callcenter import collector, dispositions
from appliance.callcenter.live import parse_event_list
from appliance.callcenter.reports import today
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app
from tests.lab.helpers import add, live_with_carrier
from tests.web.conftest import free_port
from tests.web.test_callcenter_pages import session_for, token_of

pytestmark = pytest.mark.lab

CALLER = "+15550001111"  # the carrier's telco line calls with this number


class Desk:
    """An agent's console session on extension 201 and its screen-pop stream, read as the page reads it."""

    def __init__(self, url: str):
        self.url = url
        self.session = session_for_agent(url)
        self.pops: list[tuple[float, float, dict]] = []  # (monotonic, wall clock, pop) as each arrived
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with self.session.get(f"{self.url}/agent/stream", stream=True, timeout=(5, 60)) as stream:
            assert stream.status_code == 200
            for line in stream.iter_lines(decode_unicode=True):
                if self._done.is_set():
                    return
                if line and line.startswith("data: "):
                    self.pops.append((time.monotonic(), time.time(), json.loads(line[6:])))

    def wait_pop(self, kind: str, after: int = 0, timeout: float = 20) -> tuple[int, tuple[float, float], dict]:
        """(index, (monotonic, wall) arrival, pop) of the first pop of ``kind`` from index ``after`` on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, (moment, wall, pop) in enumerate(self.pops[after:], start=after):
                if pop.get("type") == kind:
                    return i, (moment, wall), pop
            time.sleep(0.05)
        raise TimeoutError(f"no {kind} pop (saw {[p.get('type') for _, _, p in self.pops]})")

    def wait_state(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not any(p.get("type") == "state" for _, _, p in self.pops):
            time.sleep(0.05)

    def save(self, pop: dict, disposition: str, note: str = "") -> dict:
        answer = self.session.post(f"{self.url}/agent/disposition", data={
            "csrf_token": token_of(self.session, f"{self.url}/agent"), "call": pop["uniqueid"],
            "linkedid": pop.get("linkedid", ""), "queue": pop["queue"], "disposition": disposition, "note": note})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def close(self) -> None:
        self._done.set()


def session_for_agent(url: str) -> requests.Session:
    class _Console:  # what session_for needs of the console fixture
        pass
    console = _Console()
    console.url = url  # type: ignore[attr-defined]
    s = session_for(console, "alice", "agent")
    pin = service.get_object("extension", "201").voicemail_pin
    s.post(f"{url}/agent/claim", data={"csrf_token": token_of(s, f"{url}/agent"), "extension": "201", "pin": pin})
    return s


def _site(**queue) -> None:
    add("extension", number="201", name="Agent 201")
    add("queue", number="700", name="Support", strategy="ringall", agent_ring_seconds=10, wrapup_seconds=0,
        members=[{"extension": "201"}], announce_position=False,
        dispositions=[{"name": "Sale"}, {"name": "Complaint"}], **queue)
    add("inbound_route", name="support-line", did="5553700", destination="queue:700")


def _member(pbx) -> dict:
    with pbx.install.connect_ami(user=ami_users.CONSOLE) as ami:
        status = parse_event_list(ami.action("QueueStatus", Queue="700", Member="PJSIP/201").response)
    return next(e for e in status if e.get("Event") == "QueueMember")


def _wait_member(pbx, check, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        member = _member(pbx)
        if check(member) or time.monotonic() > deadline:
            return member
        time.sleep(0.1)


def _waiting(pbx) -> int:
    """Callers waiting in queue 700, as Asterisk lists them."""
    with pbx.install.connect_ami(user=ami_users.CONSOLE) as ami:
        status = parse_event_list(ami.action("QueueStatus", Queue="700").response)
    return len([e for e in status if e.get("Event") == "QueueEntry"])


def _wait_calls_gone(pbx, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while pbx.cli("core show channels concise").strip() and time.monotonic() < deadline:
        time.sleep(0.1)


def _served(pbx):
    server = make_server(create_app(pbx.install), "127.0.0.1", 0)
    server.start()
    return server


def test_the_pop_shows_a_callers_two_earlier_calls_with_their_dispositions_as_the_phone_rings(pbx, carrier):
    _site()
    phones = live_with_carrier(pbx, carrier)
    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    server = _served(pbx)
    desk = Desk(server.url)
    try:
        desk.wait_state()
        seen = 0
        for tag, disposition, note in (("first", "Sale", "ordered 3 boxes"), ("second", "Complaint", "late delivery")):
            mark = phones.mark()
            phones.call("telco", "5553700", tag=tag, hold=3)
            seen, _, ringing = desk.wait_pop("ringing", seen)
            assert desk.save(ringing, disposition, note)["saved"]  # during the call, as agents do
            phones.wait_for("CallerHangup", lambda e, tag=tag: e.get("Tag") == tag, since=mark, timeout=30)
            seen += 1
        # the collector (linebox collect) has both calls before the caller rings again
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            collector.collect_once(sources)
            if len(dispositions.disposition_report(*today())) == 2:
                break
            time.sleep(0.3)

        phones.set_behaviour("201", "answer", ring=3)  # the phone rings 3 s before it is picked up
        mark = phones.mark()
        phones.call("telco", "5553700", tag="third", hold=3)
        _, (arrived, arrived_wall), ringing = desk.wait_pop("ringing", seen)
        rang = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark)
        answered = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "201", since=mark)
        history = ringing["history"]
        assert ringing["caller"] == CALLER and history["contact"] is None and history["add_contact"]
        assert [(c["disposition"], c["note"], c["agent"], c["queues"], c["outcome"]) for c in history["calls"]] == [
            ("Complaint", "late delivery", "201", ["700"], "answered"),
            ("Sale", "ordered 3 boxes", "201", ["700"], "answered")]
        assert all(c["talk_seconds"] >= 1 for c in history["calls"])
        assert ringing["dispositions"] == ["Sale", "Complaint"]
        # what the agent notices: the history is on the page while the phone rings, before they pick up
        assert arrived < answered["_time"]
        assert arrived - rang["_time"] < 1.0, "the history arrives as the phone rings"
        print(f"\nhistory pop: {1000 * (arrived_wall - ringing['time']):.0f} ms after Asterisk's AgentCalled, "
              f"{1000 * (arrived - rang['_time']):.0f} ms after the phone rang")
    finally:
        desk.close()
        server.close()


def test_a_required_disposition_keeps_the_next_call_from_the_agent_until_it_is_saved(pbx, carrier):
    from appliance.services import agi
    agi_port = free_port()
    service.save_settings({"agi_port": agi_port}, "test")
    _site(disposition_required=True)
    agi_server = agi.make_server(port=agi_port)
    agi_server.start()
    phones = live_with_carrier(pbx, carrier)
    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    server = _served(pbx)
    desk = Desk(server.url)
    try:
        desk.wait_state()
        # Saved during the call: the agent is not paused when it ends.
        mark = phones.mark()
        phones.call("telco", "5553700", tag="saved-early", hold=3)
        seen, _, ringing = desk.wait_pop("ringing")
        assert desk.save(ringing, "Sale")["released"] is False
        phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "saved-early", since=mark, timeout=30)
        desk.wait_pop("ended", seen)
        _wait_calls_gone(pbx)  # the hangup handler (and its AGI question) ran before the channel went
        assert agi_server.served >= 1
        member = _member(pbx)
        assert (member["Paused"], member["CallsTaken"]) == ("0", "1"), member

        # Not saved: paused for it when the call ends, and the next caller waits while the agent is idle.
        mark = phones.mark()
        phones.call("telco", "5553700", tag="unsaved", hold=3)
        seen, _, unsaved = desk.wait_pop("ringing", seen + 1)
        phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "unsaved", since=mark, timeout=30)
        member = _wait_member(pbx, lambda m: m.get("Paused") == "1")
        assert (member["Paused"], member["PausedReason"]) == ("1", "disposition"), member
        mark = phones.mark()
        phones.call("telco", "5553700", tag="waiting", hold=12)  # waits, then talks
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not _waiting(pbx):
            time.sleep(0.2)
        held = time.monotonic()
        while time.monotonic() - held < 4:  # the caller waits; the idle agent's phone does not ring
            assert not [e for e in phones.events[mark:] if e.get("UserEvent") == "CarrierIncoming"]
            time.sleep(0.2)
        assert _waiting(pbx) == 1 and _member(pbx)["Paused"] == "1"

        answer = desk.save(unsaved, "Complaint", "wants a call back")
        assert answer["released"] is True
        offered = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=10)
        assert offered
        phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "waiting", since=mark, timeout=30)

        # The report counts the dispositions per queue and agent (the third call still needs one).
        deadline = time.monotonic() + 15
        while True:
            collector.collect_once(sources)
            counts = {(d.queue, d.agent, d.disposition): d.calls for d in
                      dispositions.disposition_report(today()[0], today()[1] + timedelta(seconds=1))}
            if sum(counts.values()) >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert counts == {("700", "201", "Sale"): 1, ("700", "201", "Complaint"): 1, ("700", "201", ""): 1}
        # and the call records (linebox calls) show what the agent saved under each call
        from appliance.support import calls
        shown = "\n".join(calls.record_lines(calls.recent_records(today()[0]), "records"))
        assert "agent 201: Complaint - wants a call back" in shown and "agent 201: Sale" in shown, shown
        member = _wait_member(pbx, lambda m: m.get("Paused") == "1")
        assert member["PausedReason"] == "disposition"  # the third call ended without one
    finally:
        desk.close()
        server.close()
        agi_server.close()
