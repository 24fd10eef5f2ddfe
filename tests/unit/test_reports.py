"""Agent time accounting (pause reasons, occupancy) and the daily roll-ups, on a replayed queue_log.

The queue_log lines are written the way Asterisk 22 writes them with ``log_membername_as_agent``
(member name = extension), so every expected figure below can be checked by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from appliance.callcenter import collector, reports, rollup
from appliance.model.database import database
from appliance.model.models import AuditEntry, CollectorState, QueueCall, QueueDayStat
from appliance.site import service

# the SQL of the data model: runs on SQLite and on PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_engines

D = int(datetime(2026, 11, 10, tzinfo=UTC).timestamp())  # a past day: the collector rolls it up
H = 3600


def at(hours: float) -> int:
    return D + int(hours * H)


LINES = [
    # 201 logs in to both queues from the agent page at 09:00 ...
    f"{at(9)}|MANAGER|700|201|ADDMEMBER|",
    f"{at(9)}|MANAGER|701|201|ADDMEMBER|",
    # ... pauses for lunch in every queue 09:10-09:40 (Asterisk writes one PAUSE per queue) ...
    f"{at(9 + 10 / 60)}|NONE|NONE|201|PAUSEALL|",
    f"{at(9 + 10 / 60)}|NONE|700|201|PAUSE|lunch",
    f"{at(9 + 10 / 60)}|NONE|701|201|PAUSE|lunch",
    f"{at(9 + 40 / 60)}|NONE|700|201|UNPAUSE|",
    f"{at(9 + 40 / 60)}|NONE|701|201|UNPAUSE|",
    # ... takes a 300 s call at 09:45 (15 s wait) ...
    f"{at(9.75)}|c1|700|NONE|ENTERQUEUE||+441111|1",
    f"{at(9.75) + 15}|c1|700|201|CONNECT|15|c1.2|2",
    f"{at(9.75) + 315}|c1|700|201|COMPLETECALLER|15|300|1",
    # ... is in training 10:00-10:15 in queue 700 only ...
    f"{at(10)}|NONE|700|201|PAUSE|training",
    f"{at(10.25)}|NONE|700|201|UNPAUSE|",
    # ... takes a 600 s call at 10:30 (5 s wait) and logs out at 11:00.
    f"{at(10.5)}|c2|701|NONE|ENTERQUEUE||+442222|1",
    f"{at(10.5) + 5}|c2|701|201|CONNECT|5|c2.2|2",
    f"{at(10.5) + 605}|c2|701|201|COMPLETEAGENT|5|600|1",
    f"{at(11)}|MANAGER|700|201|REMOVEMEMBER|",
    f"{at(11)}|MANAGER|701|201|REMOVEMEMBER|",
    # 202 is a static member (no login session): only a 5-minute pause to make a call.
    f"{at(9.5)}|NONE|700|202|PAUSE|phone",
    f"{at(9.5) + 300}|NONE|700|202|UNPAUSE|",
    # a caller who gives up after 40 s
    f"{at(12)}|c3|700|NONE|ENTERQUEUE||+443333|1",
    f"{at(12) + 40}|c3|700|NONE|ABANDON|1|1|40",
]


def collect(tmp_path, lines, mode="w") -> None:
    log = tmp_path / "queue_log"
    with open(log, mode) as handle:
        handle.write("".join(line + "\n" for line in lines))
    collector.collect_queue_log(log)


def day(offset: int = 0) -> datetime:
    return datetime.fromtimestamp(D, UTC) + timedelta(days=offset)


def test_time_in_each_pause_reason_and_occupancy(install, tmp_path):
    collect(tmp_path, LINES)
    agents = {a.agent: a for a in reports.agent_report(day(), day(1))}
    a201 = agents["201"]
    assert (a201.answered, a201.talk_seconds) == (2, 900)
    assert a201.logged_in_seconds == 2 * H
    assert a201.pauses == {"lunch": 1800, "training": 900} and a201.paused_seconds == 2700
    # occupancy = talk / (logged in - paused) = 900 / (7200 - 2700)
    assert a201.occupancy_pct == 20.0
    a202 = agents["202"]
    assert (a202.answered, a202.pauses, a202.logged_in_seconds, a202.occupancy_pct) == (0, {"phone": 300}, 0, None)

    # From 10:00 only: the state at 10:00 (logged in, not paused) comes from the earlier lines.
    (late,) = [a for a in reports.agent_report(day() + timedelta(hours=10), day(1)) if a.agent == "201"]
    assert (late.logged_in_seconds, late.pauses, late.talk_seconds) == (H, {"training": 900}, 600)
    assert late.occupancy_pct == round(100 * 600 / (3600 - 900), 1)

    # One queue: 701 saw the lunch pause but not the training.
    (q701,) = reports.agent_report(day(), day(1), queue="701")
    assert (q701.agent, q701.pauses, q701.logged_in_seconds, q701.answered) == ("201", {"lunch": 1800}, 2 * H, 1)

    table = reports.to_csv(reports.agent_report(day(), day(1))).splitlines()
    assert table[0] == ("agent,answered,talk_seconds,avg_talk_seconds,avg_wait_of_answered,logged_in_seconds,"
                        "paused_seconds,occupancy_pct,pause lunch s,pause training s,pause phone s")
    assert table[1] == "201,2,900,450.0,10.0,7200,2700,20.0,1800,900,0"
    assert table[2] == "202,0,0,,,0,300,,0,0,300"


def test_a_session_still_open_counts_up_to_now(install, tmp_path):
    collect(tmp_path, [f"{at(8)}|MANAGER|700|203|ADDMEMBER|", f"{at(8.25)}|NONE|700|203|PAUSE|coffee"])
    (agent,) = reports.agent_report(day(), day(1), now=day() + timedelta(hours=8, minutes=30))
    assert (agent.logged_in_seconds, agent.pauses, agent.occupancy_pct) == (1800, {"coffee": 900}, 0.0)


def test_whole_past_days_come_from_the_rollup_with_the_same_figures(install, tmp_path):
    collect(tmp_path, LINES)
    assert rollup.rolled_through() == rollup.midnight(int(datetime.now(UTC).timestamp()))
    assert QueueDayStat.select().where(QueueDayStat.day == "2026-11-10").count() == 3  # per queue, outcome, wait
    rolled = (reports.queue_report(day(), day(1)), reports.calls_per_hour(day(), day(1)),
              reports.daily_report(day(), day(1)), [a.talk_seconds for a in reports.agent_report(day(), day(1))])
    CollectorState.delete().where(CollectorState.source == rollup.STATE).execute()  # reports read calls live
    live = (reports.queue_report(day(), day(1)), reports.calls_per_hour(day(), day(1)),
            reports.daily_report(day(), day(1)), [a.talk_seconds for a in reports.agent_report(day(), day(1))])
    assert rolled == live
    q700, q701 = rolled[0]
    assert (q700.offered, q700.answered, q700.abandoned, q700.service_level_pct, q700.asa_seconds) == \
        (2, 1, 1, 50.0, 15.0)
    assert (q701.offered, q701.answered, q701.service_level_pct) == (1, 1, 100.0)
    assert rolled[1] == [("2026-11-10 09", 1, 1), ("2026-11-10 10", 1, 1), ("2026-11-10 12", 1, 0)]
    assert [(d.day, d.offered, d.service_level_pct, d.abandon_rate_pct) for d in rolled[2]] == \
        [("2026-11-10", 3, 66.7, 33.3)]


def test_a_late_answer_after_midnight_updates_the_rolled_day(install, tmp_path):
    waiting = [f"{D + 86400 - 10}|c9|700|NONE|ENTERQUEUE||+449999|1"]
    collect(tmp_path, waiting)
    (before,) = reports.queue_report(day(), day(1))
    assert (before.offered, before.answered) == (1, 0)
    collect(tmp_path, [f"{D + 86400 + 20}|c9|700|201|CONNECT|30|c9.2|2",
                       f"{D + 86400 + 80}|c9|700|201|COMPLETECALLER|30|60|1"], mode="a")
    (after,) = reports.queue_report(day(), day(1))
    assert (after.offered, after.answered, after.asa_seconds, after.service_level_pct) == (1, 1, 30.0, 0.0)
    # a month-wide report reads the same figures through the roll-up
    (month,) = reports.queue_report(day(-9), day(20))
    assert (month.offered, month.answered) == (1, 1)


def test_a_repeat_call_changes_an_older_days_fcr(install, tmp_path):
    collect(tmp_path, [f"{D + 100}|r1|700|NONE|ENTERQUEUE||+445555|1", f"{D + 110}|r1|700|201|CONNECT|10|r1.2|2",
                       f"{D + 170}|r1|700|201|COMPLETECALLER|10|60|1"])
    assert reports.queue_report(day(), day(1))[0].fcr_pct == 100.0
    collect(tmp_path, [f"{D + 100 + 5 * H}|r2|700|NONE|ENTERQUEUE||+445555|1"], mode="a")
    (kpi,) = reports.queue_report(day(), day(1), fcr_hours=24)
    assert kpi.fcr_pct == 0.0  # r1's caller called again 5 h later
    (kpi,) = reports.queue_report(day(), day(1), fcr_hours=4)
    assert kpi.fcr_pct == 100.0


def test_a_repeat_call_today_moves_a_rolled_call_in_the_fcr_histogram(install, tmp_path):
    import time

    collect(tmp_path, [f"{D + 100}|r1|700|NONE|ENTERQUEUE||+446666|1", f"{D + 110}|r1|700|201|CONNECT|10|r1.2|2",
                       f"{D + 170}|r1|700|201|COMPLETECALLER|10|60|1"])
    now = int(time.time())
    collect(tmp_path, [f"{now}|r2|700|NONE|ENTERQUEUE||+446666|1"], mode="a")
    gap_hours = -(-(now - D - 100) // 3600)
    repeat = QueueDayStat.get((QueueDayStat.day == "2026-11-10") & (QueueDayStat.outcome == "repeat"))
    assert (repeat.seconds, repeat.calls) == (gap_hours, 1)
    assert reports.queue_report(day(), day(1), fcr_hours=gap_hours)[0].fcr_pct == 0.0
    assert reports.queue_report(day(), day(1), fcr_hours=gap_hours - 1)[0].fcr_pct == 100.0
    moved = [(r.outcome, r.seconds, r.calls) for r in QueueDayStat.select().order_by(QueueDayStat.id)]
    with database.atomic():
        rollup.roll_day(D)  # the in-place move gave exactly what rolling the day again gives
    assert sorted(moved) == sorted((r.outcome, r.seconds, r.calls) for r in QueueDayStat.select())


def test_after_an_upgrade_old_days_are_rolled_a_month_per_round_and_read_live_meanwhile(install, tmp_path):
    import time

    old = D - 100 * 86400  # 100 days before D: three rounds of 31 days, then the rest
    collect(tmp_path, [f"{old + 60}|o1|700|NONE|ENTERQUEUE||+447777|1", f"{old + 70}|o1|700|NONE|ABANDON|1|1|10"])
    CollectorState.delete().where(CollectorState.source == rollup.STATE).execute()  # as just after the upgrade
    now = int(time.time())
    with database.atomic():
        rollup.refresh((), now)
    assert rollup.rolled_through() == rollup.midnight(old) + 31 * 86400
    (kpi,) = reports.queue_report(day(-101), day(1))  # partly rolled, partly live: the same figures
    assert (kpi.offered, kpi.abandoned) == (1, 1)
    rounds = 1
    while rollup.rolled_through() < rollup.midnight(now):
        with database.atomic():
            rollup.refresh((), now)
        rounds += 1
    assert rounds == -(-(rollup.midnight(now) - rollup.midnight(old)) // (31 * 86400))
    assert reports.queue_report(day(-101), day(1))[0].offered == 1


def test_each_queue_is_measured_against_its_own_service_level_threshold(install, tmp_path):
    """700 answered a call after 15 s and 701 one after 5 s: within 20 s and 10 s they are in service
    level; within 10 s and 3 s they are not.  Rolled-up days and live reads agree either way."""
    service.save_object("queue", {"number": "700", "name": "Support", "service_level_seconds": 15}, "admin",
                        create=True)
    service.save_object("queue", {"number": "701", "name": "Billing", "service_level_seconds": 5}, "admin",
                        create=True)
    collect(tmp_path, LINES)

    def figures():
        return ([(q.queue, q.service_level_pct) for q in reports.queue_report(day(), day(1))],
                [d.service_level_pct for d in reports.daily_report(day(), day(1))])

    rolled = figures()
    assert rolled == ([("700", 50.0), ("701", 100.0)], [66.7])  # c1 waited 15 s <= 15, c2 5 s <= 5
    for number, seconds in (("700", 10), ("701", 3)):
        queue = service.get_object("queue", number)
        service.save_object("queue", {**queue.model_dump(), "service_level_seconds": seconds}, "admin",
                            original_key=number)
    rolled = figures()
    CollectorState.delete().where(CollectorState.source == rollup.STATE).execute()  # reports read calls live
    assert rolled == figures() == ([("700", 0.0), ("701", 0.0)], [0.0])
    # one threshold for every queue when asked for (linebox report --service-seconds)
    assert [q.service_level_pct for q in reports.queue_report(day(), day(1), service_seconds=20)] == [50.0, 100.0]


def test_a_permanent_member_is_logged_in_while_the_queue_lists_them(install, tmp_path):
    """202 is written in queue 700's settings from 08:00 to 12:00 (the audit log says when): four hours
    logged in, their pause and call count as anyone's, and occupancy = handle / (logged in - paused)."""
    service.save_object("extension", {"number": "202", "name": "Agent 202"}, "admin", create=True)
    listed = {"number": "700", "name": "Support", "wrapup_seconds": 0, "members": [{"extension": "202"}]}
    service.save_object("queue", listed, "admin", create=True)
    service.save_object("queue", {**listed, "members": []}, "admin", original_key="700")
    added, removed = AuditEntry.select().where(AuditEntry.kind == "queue").order_by(AuditEntry.id)
    for entry, hour in ((added, 8), (removed, 12)):
        AuditEntry.update(when=datetime.fromtimestamp(at(hour), UTC).replace(tzinfo=None)).where(
            AuditEntry.id == entry.id).execute()
    collect(tmp_path, [*LINES, f"{at(10)}|c4|700|NONE|ENTERQUEUE||+444444|1",
                       f"{at(10) + 2}|c4|700|202|CONNECT|2|c4.2|1",
                       f"{at(10) + 602}|c4|700|202|COMPLETECALLER|2|600|1"])

    a202 = next(a for a in reports.agent_report(day(), day(1)) if a.agent == "202")
    assert (a202.logged_in_seconds, a202.paused_seconds, a202.answered) == (4 * H, 300, 1)
    assert a202.occupancy_pct == round(100 * 600 / (4 * H - 300), 1)
    # from 10:00: already a member then (the state at the start comes from the earlier change)
    late = next(a for a in reports.agent_report(day() + timedelta(hours=10), day(1)) if a.agent == "202")
    assert late.logged_in_seconds == 2 * H
    # not a member of 701: nothing there
    assert "202" not in {a.agent for a in reports.agent_report(day(), day(1), queue="701")}


def test_calls_cut_by_a_restart_of_asterisk_are_interrupted_in_rolled_days_and_live(install, tmp_path):
    """Asterisk killed at 13:00 with one caller talking and one waiting, started again at 13:01 (its
    QUEUESTART line): the waiting caller is ``interrupted``, the answered call stays answered and ends
    by the restart; a day rolled up and the same day read live give the same figures."""
    collect(tmp_path, [*LINES,
                       f"{at(12.9)}|c4|700|NONE|ENTERQUEUE||+444444|1",
                       f"{at(12.9) + 8}|c4|700|202|CONNECT|8|c4.2|2",
                       f"{at(12.95)}|c5|700|NONE|ENTERQUEUE||+445555|2",
                       f"{at(13) + 60}|NONE|NONE|NONE|QUEUESTART|"])
    calls = {c.callid: c for c in QueueCall.select()}
    assert (calls["c4"].outcome, calls["c4"].ended_by, calls["c4"].agent) == ("answered", "restart", "202")
    assert (calls["c5"].outcome, calls["c5"].ended_by) == ("interrupted", "restart")
    rolled = reports.queue_report(day(), day(1))
    CollectorState.delete().where(CollectorState.source == rollup.STATE).execute()  # reports read calls live
    assert reports.queue_report(day(), day(1)) == rolled
    q700 = rolled[0]
    assert (q700.offered, q700.answered, q700.abandoned, q700.interrupted) == (4, 2, 1, 2)


def test_a_restart_read_before_the_calls_it_cut_still_marks_them(install, tmp_path):
    """The collector reads the calls and the restart in separate rounds: the open calls are found again."""
    collect(tmp_path, [f"{at(12.95)}|c5|700|NONE|ENTERQUEUE||+445555|2"])
    assert QueueCall.get().outcome == "waiting"
    collect(tmp_path, [f"{at(13) + 60}|NONE|NONE|NONE|QUEUESTART|"], mode="a")
    assert QueueCall.get().outcome == "interrupted"


CALLBACK_LINES = [
    # c4 waits 50 s in 700, presses 1 and asks to be called back at 13912345678, keeping place 1
    f"{at(13)}|c4|700|NONE|ENTERQUEUE||+8613912345678|1",
    f"{at(13) + 50}|c4|700|NONE|EXITWITHKEY|1|1|1|50",
    f"{at(13) + 50}|c4|700|NONE|CALLBACKREQUEST|13912345678|1",
    # its placeholder (a Local channel) holds the place; 201 takes it after 100 s, the caller answers
    f"{at(13) + 50}|p4|700|NONE|CALLBACK|c4|1",
    f"{at(13) + 50}|p4|700|NONE|ENTERQUEUE||+8613912345678|1",
    f"{at(13) + 150}|p4|700|201|CONNECT|100|p4.2|2",
    f"{at(13) + 260}|p4|700|201|COMPLETEAGENT|100|110|1",
    f"{at(13) + 260}|c4|700|NONE|CALLBACKRESULT|1|ANSWER|100",
]


def test_a_callback_counts_once_as_not_answered_in_time_and_its_placeholder_not_at_all(install, tmp_path):
    collect(tmp_path, LINES + CALLBACK_LINES)
    outcomes = {c.callid: c.outcome for c in QueueCall.select().where(QueueCall.callid.in_(["c4", "p4"]))}
    assert outcomes == {"c4": "callback", "p4": "callback_call"}
    rolled = reports.queue_report(day(), day(1), "700")
    CollectorState.delete().where(CollectorState.source == rollup.STATE).execute()  # reports read calls live
    live = reports.queue_report(day(), day(1), "700")
    assert rolled == live
    [q700] = rolled
    # offered: c1, c3, c4 (not the placeholder); service level: 1 in time of answered 1 + abandoned 1 + callback 1
    assert (q700.offered, q700.answered, q700.abandoned, q700.callbacks, q700.service_level_pct) == \
        (3, 1, 1, 1, 33.3)
    from appliance.callcenter import callbacks
    [c] = callbacks.report(day(), day(1))
    # from the request (13:00:50) to the caller answering (13:04:20 less 100 s answered = 13:02:40)
    assert (c.queue, c.offered, c.requested, c.completed, c.failed, c.pending, c.median_seconds_to_callback) == \
        ("700", 1, 1, 1, 0, 0, 110)
