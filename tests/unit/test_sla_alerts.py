"""SLA alerts: each threshold opens a breach with the time the figure crossed it, and clears it once the
queue is back within it (the lab test, tests/lab/test_sla_alerts.py, drives the same with real calls)."""

from __future__ import annotations

from appliance.callcenter import alerts, live
from appliance.model.models import SlaBreach
from appliance.site import service


def _status(waits: list[int], agents: list[str]) -> list[dict]:
    """Asterisk's QueueStatus events for queue 700: a caller per wait, a member per device status."""
    events = [{"Event": "QueueParams", "Queue": "700", "Calls": str(len(waits))}]
    events += [{"Event": "QueueEntry", "Queue": "700", "Position": str(i + 1), "Wait": str(w)}
               for i, w in enumerate(waits)]
    events += [{"Event": "QueueMember", "Queue": "700", "Name": f"20{i}", "Status": s} for i, s in enumerate(agents)]
    return events


FIGURES = {"queues": {"700": {"name": "Support", "service_level_seconds": 20, "service_level_target": 80,
                              "answered": 0, "abandoned": 0, "service_level": None,
                              "alert_longest_wait_seconds": 30, "alert_callers_waiting": 1,
                              "alert_min_agents": 2}}, "agents": {}}


def _board(waits, agents, now, level=None):
    figures = {**FIGURES, "queues": {"700": {**FIGURES["queues"]["700"], "service_level": level}}}
    return live.build_snapshot(_status(waits, agents), now=now, figures=figures)


def test_each_threshold_opens_a_breach_and_clears_it_with_its_start_time():
    active, events = alerts.evaluate({}, _board([5], ["1", "1"], 1000.0), 1000.0)
    assert (active, events) == ({}, [])  # one caller, 5 s, two agents: within every threshold

    active, events = alerts.evaluate(active, _board([40, 3], ["1", "4"], 1010.0, level=50.0), 1010.0)
    assert {(e["state"], e["kind"], e["value"], e["threshold"], e["started"]) for e in events} == {
        ("started", "longest_wait", 40, 30, 1000.0),  # crossed 30 s when the first caller had waited 30 s
        ("started", "callers_waiting", 2, 1, 1010.0),
        ("started", "min_agents", 1, 2, 1010.0),  # an unreachable phone is not logged in
        ("started", "service_level", 50.0, 80, 1010.0)}
    assert all(e["name"] == "Support" and e["queue"] == "700" and e["cleared"] is None for e in events)

    # still in breach later: nothing new, each keeps its start
    again, events = alerts.evaluate(active, _board([45, 8], ["1", "4"], 1015.0, level=50.0), 1015.0)
    assert events == [] and again.keys() == active.keys()
    assert again["700", "longest_wait"].value == 45  # the figure follows the queue
    assert [b["started"] for b in alerts.shown(again)] == [1000.0, 1010.0, 1010.0, 1010.0]

    # the long waiter answered, the agent's phone back, the level above target: all but one clear
    after, events = alerts.evaluate(again, _board([9, 1], ["1", "1"], 1020.0, level=90.0), 1020.0)
    assert sorted((e["state"], e["kind"], e["cleared"]) for e in events) == [
        ("cleared", "longest_wait", 1020.0), ("cleared", "min_agents", 1020.0),
        ("cleared", "service_level", 1020.0)]
    assert list(after) == [("700", "callers_waiting")]


def test_a_threshold_of_zero_is_off_and_a_lost_board_keeps_the_breaches():
    off = {**FIGURES, "queues": {"700": {**FIGURES["queues"]["700"], "alert_longest_wait_seconds": 0,
                                         "alert_callers_waiting": 0, "alert_min_agents": 0}}}
    board = live.build_snapshot(_status([500, 400, 300], []), now=1.0, figures=off)
    assert alerts.evaluate({}, board, 1.0) == ({}, [])

    active, _ = alerts.evaluate({}, _board([1, 1], ["1", "1"], 10.0), 10.0)
    lost = {"time": 12, "queues": [], "error": "Connection refused"}
    assert alerts.evaluate(active, lost, 12.0) == (active, [])
    assert alerts.evaluate(active, {"time": 13, "queues": []}, 13.0) == (active, [])  # queue not listed


def test_the_board_looks_again_when_a_waiting_caller_will_cross_the_wait_threshold():
    board = _board([12], ["1", "1"], 100.0)
    assert alerts.next_check(board, {}) == 19.0  # 30 s crossed (31 s shown) 19 s from now
    assert alerts.next_check(_board([], ["1", "1"], 100.0), {}) is None


def test_breaches_are_stored_open_until_they_clear_and_listeners_hear_each(install):
    service.save_object("queue", {"number": "700", "name": "Support"}, user="test", create=True)
    heard: list[dict] = []
    alerts.add_listener(heard.append)
    try:
        active, events = alerts.evaluate({}, _board([1, 1], ["1", "1"], 50.0), 50.0)
        alerts.store(events)
        for e in events:
            alerts.emit(e)
        assert alerts.open_breaches() == active
        _, cleared = alerts.evaluate(active, _board([], ["1", "1"], 60.0), 60.0)
        alerts.store(cleared)
        for e in cleared:
            alerts.emit(e)
    finally:
        alerts.remove_listener(heard.append)
    assert alerts.open_breaches() == {}
    assert [(r.kind, r.started, r.cleared) for r in SlaBreach.select()] == [("callers_waiting", 50.0, 60.0)]
    assert [(e["state"], e["kind"]) for e in heard] == [("started", "callers_waiting"), ("cleared", "callers_waiting")]
