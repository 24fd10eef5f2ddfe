"""The wallboard in a real browser: queue names, today's figures by the queue's own service level, labels.

Asterisk is replaced by a stand-in that answers ``QueueStatus`` as Asterisk 22 does (the lab test
tests/lab/test_callcenter.py follows real calls); the names, settings and today's figures come from the
database, as on a box.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from appliance.callcenter import live
from appliance.model.models import QueueCall, SlaBreach
from appliance.site import service
from appliance.web import wallboard
from tests.browser.conftest import shot

pytestmark = pytest.mark.timeout(120)


class StandInAmi:
    """Just what the board asks of Asterisk: events to follow, and the queues' state."""

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        return None

    def on_event(self, _name, _callback) -> None:
        return None

    def action(self, _name, **_headers):
        now = int(time.time())
        lines = ["Response: Success", "", "Event: QueueParams", "Queue: 700", "Calls: 1", "Completed: 9",
                 "Abandoned: 4", "ServiceLevel: 15", "ServicelevelPerf: 0.0", "ServicelevelPerf2: 0.0", "",
                 "Event: QueueMember", "Queue: 700", "Name: 100", "Location: PJSIP/100", "Status: 1", "Paused: 0",
                 "CallsTaken: 1", f"LastCall: {now - 65}", "Wrapuptime: 10", "",
                 "Event: QueueMember", "Queue: 700", "Name: 101", "Location: PJSIP/101", "Status: 1", "Paused: 1",
                 "PausedReason: lunch", f"LastPause: {now - 125}", "CallsTaken: 3", "LastCall: 0", "",
                 "Event: QueueMember", "Queue: 700", "Name: 102", "Location: PJSIP/102", "Status: 2", "Paused: 0",
                 "CallsTaken: 0", "LastCall: 0", "",
                 "Event: QueueEntry", "Queue: 700", "Position: 1", "CallerIDNum: +441111", "Wait: 12", ""]
        return type("Response", (), {"response": lines})()


def test_wallboard_names_queues_and_labels_every_figure(admin_page, served, monkeypatch):
    """Queue 700 "Orders" answers within 15 s for a 90 % target; today one call waited 3 s, one 20 s:
    50 %, shown on a red card, with the queue's name, the threshold and target, and labelled agent columns.
    "Today" is the site's (Beijing here), as the board says."""
    service.save_settings({"timezone": "Asia/Shanghai"}, "test")
    service.save_object("queue", {"number": "700", "name": "Orders", "service_level_seconds": 15,
                                  "service_level_target": 90,
                                  "members": [{"extension": "100"}, {"extension": "101"}]}, "test", create=True)
    now = int(time.time())
    QueueCall.insert_many([
        {"callid": "a", "queue": "700", "entered": now - 60, "outcome": "answered", "wait_seconds": 3, "agent": "100"},
        {"callid": "b", "queue": "700", "entered": now - 50, "outcome": "answered", "wait_seconds": 20,
         "agent": "101"},
    ]).execute()
    monkeypatch.setattr(wallboard, "LiveBoard", lambda _connect: live.LiveBoard(StandInAmi, refresh_seconds=1))

    try:
        admin_page.goto(served.at("/wallboard"))
        card = admin_page.locator("section.wb-queue")
        card.wait_for()
        assert card.locator("h2").inner_text() == "Orders 700"
        figures = dict(zip(card.locator(".wb-label").all_inner_texts(), card.locator(".wb-value").all_inner_texts(),
                           strict=True))
        assert figures == {"Waiting": "1", "Longest wait": "0:12", "Service level (15 s, target 90%)": "50%",
                           "Answered": "2", "Abandoned": "0"}
        assert "wb-alert" in card.get_attribute("class")  # 50 % is below the queue's 90 % target
        # an admin may listen, whisper and barge: a last column, with the buttons on an agent on call only
        assert card.locator("th").all_inner_texts() == ["Agent", "State", "Time in state", "Calls taken", ""]
        rows = [row.locator("td").all_inner_texts() for row in card.locator("tbody tr").all()]
        assert [r[:4] for r in rows] == [["Desk 100 (100)", "available", "1:05", "1 call"],
                                         ["Desk 101 (101)", "paused (lunch)", "2:05", "3 calls"],
                                         ["102", "on call", "", "0 calls"]]
        assert [r[4] for r in rows[:2]] == ["", ""]
        buttons = card.locator("tbody tr").nth(2).locator("button")
        assert buttons.all_inner_texts() == ["Listen in", "Whisper", "Barge"]
        buttons.nth(1).click()  # no phone of theirs typed: refused, with the reason, on the page
        admin_page.locator("#supervise-result.error").wait_for()
        assert "say which extension is your phone" in admin_page.inner_text("#supervise-result")
        assert "today (Asia/Shanghai)" in admin_page.inner_text("#wallboard-status")
        shot(admin_page, "wallboard")
    finally:
        admin_page.goto("about:blank")  # the stream ends at the board's next update: the console can stop


class WaitingAmi(StandInAmi):
    """Queue 700 with ``waiting`` callers (each 12 s in) and one available agent: the test sets ``waiting``."""

    waiting = 2

    def action(self, _name, **_headers):
        lines = ["Response: Success", "", "Event: QueueParams", "Queue: 700", f"Calls: {self.waiting}", "",
                 "Event: QueueMember", "Queue: 700", "Name: 100", "Location: PJSIP/100", "Status: 1", "Paused: 0",
                 "CallsTaken: 0", "LastCall: 0", ""]
        for n in range(self.waiting):
            lines += ["Event: QueueEntry", "Queue: 700", f"Position: {n + 1}", f"CallerIDNum: +44111{n}",
                      "Wait: 12", ""]
        return type("Response", (), {"response": lines})()


def test_wallboard_shows_a_breach_with_the_queue_and_its_start_and_clears_it(admin_page, served, monkeypatch):
    """More callers wait than the queue allows: the board lists the breach with the queue's name, the figure,
    the threshold and the time it started (site time), marks the card, and drops both once the queue is back
    within it.  The lab test (tests/lab/test_sla_alerts.py) drives the same with real calls."""
    service.save_settings({"timezone": "Asia/Shanghai"}, "test")
    service.save_object("queue", {"number": "700", "name": "Orders", "members": [{"extension": "100"}],
                                  "alert_callers_waiting": 1}, "test", create=True)
    WaitingAmi.waiting = 2
    monkeypatch.setattr(wallboard, "LiveBoard", lambda _connect: live.LiveBoard(WaitingAmi, refresh_seconds=0.5))
    try:
        admin_page.goto(served.at("/wallboard"))
        breach = admin_page.locator("#wallboard-alerts li.wb-breach")
        breach.wait_for()
        text = breach.inner_text()
        shown = re.fullmatch(r"Orders \(700\): Too many callers waiting \(now 2, threshold 1\), since "
                             r"(\d{1,2}:\d{2}:\d{2}( [AP]M)?)", text)
        assert shown, text
        (row,) = SlaBreach.select()  # kept: the start a reload shows, written in the site's time zone
        started = datetime.fromtimestamp(row.started, ZoneInfo("Asia/Shanghai"))
        assert shown.group(1) in (started.strftime("%-I:%M:%S %p"), started.strftime("%H:%M:%S")), (text, started)
        assert breach.get_attribute("data-kind") == "callers_waiting"
        assert admin_page.inner_text("#wallboard-alerts h2") == "SLA alerts"
        assert "wb-alert" in admin_page.locator("section.wb-queue").get_attribute("class")
        shot(admin_page, "wallboard-breach")

        WaitingAmi.waiting = 1
        admin_page.locator("#wallboard-alerts").wait_for(state="hidden")
        assert breach.count() == 0
        assert "wb-alert" not in admin_page.locator("section.wb-queue").get_attribute("class")
    finally:
        admin_page.goto("about:blank")
