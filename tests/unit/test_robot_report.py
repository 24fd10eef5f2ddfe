"""The voice robots' report (``appliance.callcenter.robot_report``): its counting on stored robot calls.

The rows come from real robot calls in tests/lab/test_voice_robot.py; here every outcome the robot service
writes is laid down by hand, to check each lands in one column, the totals and containment add up, and
the period is the site's days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from appliance.callcenter import robot_report
from appliance.model.models import AuditEntry, RobotCall
from appliance.site import localtime, service

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()


def _calls(*rows: tuple[str, int, str, str, float]) -> None:
    for i, (robot, entry, outcome, next_step, started) in enumerate(rows):
        RobotCall.create(uuid=f"u{i}", robot=robot, started=started, ended=started + 20, entry=entry,
                         outcome=outcome, next=next_step, transcript=f"said {i}")


@pytest.mark.parametrize(("outcome", "next_step", "kind"), [
    ("answered", "then-1", "contained"),  # answered, went where the entry says
    ("answered", "hangup", "contained"),  # answered, the caller hung up
    ("answered", "handover", "handed_over"),  # answered, then asked for a person (or stayed silent)
    ("handover", "handover", "handed_over"),  # "agent", 0, not understood twice
    ("hangup", "hangup", "hung_up"),  # left before any answer
    ("", "", "hung_up"),  # still talking to the robot
])
def test_each_recorded_outcome_counts_once(outcome, next_step, kind):
    assert robot_report.classify(outcome, next_step) == kind


def test_rows_per_robot_and_entry_with_the_robots_total(install):
    service.save_settings({"timezone": "UTC"}, "test")
    service.save_object("robot", {"name": "faq", "entries": [
        {"questions": "when are you open; what are your hours", "answer": "Nine to five."},
        {"questions": "where are you", "answer": "Main Street."}]}, "test", create=True)
    _calls(("faq", 0, "answered", "then-1", NOON), ("faq", 0, "answered", "hangup", NOON + 1),
           ("faq", 0, "answered", "handover", NOON + 2), ("faq", -1, "handover", "handover", NOON + 3),
           ("faq", -1, "hangup", "hangup", NOON + 4), ("faq", 1, "answered", "hangup", NOON + 5),
           ("gone", 4, "answered", "hangup", NOON + 6),  # a robot since deleted: its calls still count
           ("faq", 0, "answered", "hangup", NOON - 86400))  # the day before: outside the period
    start, end = localtime.days(date(2026, 12, 7), date(2026, 12, 7), localtime.site_zone())
    rows = [(r.robot, r.entry, r.question, r.handled, r.contained, r.sent_on, r.handed_over, r.hung_up,
             r.containment_pct) for r in robot_report.robot_report(start, end)]
    assert rows == [
        ("faq", 0, "", 2, 0, 0, 1, 1, 0.0),
        ("faq", 1, "when are you open", 3, 2, 1, 1, 0, 66.7),
        ("faq", 2, "where are you", 1, 1, 0, 0, 0, 100.0),
        ("faq", None, "", 6, 3, 1, 2, 1, 50.0),
        ("gone", 5, "", 1, 1, 0, 0, 0, 100.0),
        ("gone", None, "", 1, 1, 0, 0, 0, 100.0),
    ]
    assert [r.robot for r in robot_report.robot_report(start, end, "gone")] == ["gone", "gone"]


def test_reading_the_transcripts_is_audited(install):
    service.save_settings({"timezone": "Asia/Shanghai"}, "test")
    _calls(("faq", 0, "answered", "then-1", NOON), ("faq", -1, "handover", "handover", NOON + 60))
    zone = localtime.site_zone()
    start, end = localtime.days(date(2026, 12, 7), date(2026, 12, 7), zone)
    rows = robot_report.transcripts(start, end, "boss")
    assert [(r.started, r.heard, r.entry, r.result) for r in rows] == [
        ("2026-12-07 20:01:00", "said 1", 0, "handed_over"), ("2026-12-07 20:00:00", "said 0", 1, "contained")]
    entry = AuditEntry.select().where(AuditEntry.kind == "robot_transcript").get()
    assert (entry.user, entry.action, entry.key, entry.after) == ("boss", "view", "2026-12-07..2026-12-07",
                                                                  {"robot": "", "calls": 2})
