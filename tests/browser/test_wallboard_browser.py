"""The wallboard in a real browser: queue names, today's figures by the queue's own service level, labels.

Asterisk is replaced by a stand-in that answers ``QueueStatus`` as Asterisk 22 does (the lab test
tests/lab/test_callcenter.py follows real calls); the names, settings and today's figures come from the
database, as on a box.
"""

from __future__ import annotations

import time

import pytest

from appliance.callcenter import live
from appliance.model.models import QueueCall
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
