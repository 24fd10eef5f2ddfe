"""Daily roll-ups of the collected queue calls, for reports over whole past days.

A month holds a million calls; summing them for every report takes seconds.  The
collector therefore keeps, for every whole UTC day before today, a few small
tables (``QueueDayStat``, ``AgentDayStat``, ``HourStat``) that reports add up
instead.  Today stays live: reports read today's calls directly.

Correctness rests on two rules, both kept inside the collector's transaction:

* the ``rollup`` row of ``CollectorState`` says up to which midnight every day is
  rolled up; reports use roll-ups only before that point;
* when a round changes a call of a day already rolled up (a late CONNECT just after
  midnight, a repeat call that changes an older call's FCR gap), that day is rolled
  up again from its calls.  Rolling a day up is a delete and an INSERT ... SELECT,
  so doing it twice gives the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from appliance.model.database import database
from appliance.model.models import CollectorState, QueueCall

DAY = 86400
STATE = "rollup"
# QueueDayStat rows of answered calls a restart of Asterisk cut (``ended_by`` "restart"), by queue: the
# report's interrupted count; waiting callers it cut have their own outcome, ``interrupted``.
CUT = "cut"


def day_name(epoch_day_start: int) -> str:
    return datetime.fromtimestamp(epoch_day_start, UTC).strftime("%Y-%m-%d")


def midnight(epoch: int) -> int:
    return epoch - epoch % DAY


def rolled_through() -> int:
    """Every day before this epoch (a UTC midnight) is rolled up; 0 when none is."""
    state = CollectorState.get_or_none(CollectorState.source == STATE)
    return state.position if state else 0


def roll_day(day_start: int) -> None:
    """Replace the roll-up rows of one day with fresh sums over its calls."""
    name, end = day_name(day_start), day_start + DAY
    database.execute_sql("DELETE FROM queuedaystat WHERE day = ?", (name,))
    database.execute_sql("DELETE FROM agentdaystat WHERE day = ?", (name,))
    database.execute_sql("DELETE FROM hourstat WHERE hour >= ? AND hour < ?", (name, name + "~"))
    database.execute_sql(
        "INSERT INTO queuedaystat (day, queue, outcome, seconds, calls, talk_seconds, known_callers)"
        " SELECT ?, queue, outcome, wait_seconds, COUNT(*), SUM(talk_seconds), SUM(caller != '')"
        " FROM queuecall WHERE entered >= ? AND entered < ? GROUP BY queue, outcome, wait_seconds",
        (name, day_start, end))
    database.execute_sql(
        "INSERT INTO queuedaystat (day, queue, outcome, seconds, calls, talk_seconds, known_callers)"
        " SELECT ?, queue, 'repeat', (next_call_seconds + 3599) / 3600 AS hours, COUNT(*), 0, 0"
        " FROM queuecall WHERE entered >= ? AND entered < ? AND outcome = 'answered' AND caller != ''"
        " AND next_call_seconds IS NOT NULL GROUP BY queue, hours",
        (name, day_start, end))
    database.execute_sql(
        "INSERT INTO queuedaystat (day, queue, outcome, seconds, calls, talk_seconds, known_callers)"
        f" SELECT ?, queue, '{CUT}', 0, COUNT(*), 0, 0 FROM queuecall WHERE entered >= ? AND entered < ?"
        " AND outcome = 'answered' AND ended_by = 'restart' GROUP BY queue",
        (name, day_start, end))
    database.execute_sql(
        "INSERT INTO agentdaystat (day, queue, agent, answered, talk_seconds, wait_seconds)"
        " SELECT ?, queue, agent, COUNT(*), SUM(talk_seconds), SUM(wait_seconds)"
        " FROM queuecall WHERE entered >= ? AND entered < ? AND outcome = 'answered' GROUP BY queue, agent",
        (name, day_start, end))
    database.execute_sql(
        "INSERT INTO hourstat (hour, queue, offered, answered)"
        " SELECT strftime('%Y-%m-%d %H', entered, 'unixepoch') AS h, queue, COUNT(*), SUM(outcome = 'answered')"
        " FROM queuecall WHERE entered >= ? AND entered < ? GROUP BY h, queue",
        (day_start, end))


def _hours(gap: int) -> int:
    return (gap + 3599) // 3600  # as the roll-up's SQL rounds up: gap <= 3600 h  <=>  hours <= h


def move_repeat(entered: int, queue: str, old_gap: int | None, new_gap: int | None) -> None:
    """Move one answered call of a rolled-up day from one FCR bucket to another (its next-call gap changed)."""
    name = day_name(midnight(entered))
    for gap, step in ((old_gap, -1), (new_gap, 1)):
        if gap is not None:
            database.execute_sql(
                "INSERT INTO queuedaystat (day, queue, outcome, seconds, calls, talk_seconds, known_callers)"
                " VALUES (?, ?, 'repeat', ?, ?, 0, 0)"
                " ON CONFLICT (day, queue, outcome, seconds) DO UPDATE SET calls = calls + excluded.calls",
                (name, queue, _hours(gap), step))
    database.execute_sql("DELETE FROM queuedaystat WHERE day = ? AND queue = ? AND outcome = 'repeat' AND calls = 0",
                         (name, queue))


def refresh(changed_entered: Iterable[int], now: int, max_new_days: int = 31) -> int:
    """Bring the roll-ups up to date after a collector round; return how many days were rolled.

    ``changed_entered``: the entry times of the calls this round stored or changed.  Days already
    rolled up that hold one of them are rolled again; then whole days not rolled yet are, at most
    ``max_new_days`` per round, so the first rounds after an upgrade over years of calls stay short
    (reports read the days not rolled yet live meanwhile); none while the collector is still reading a
    backlog (``max_new_days=0``), which would otherwise roll its days again at every chunk.  Run inside the
    round's transaction.
    """
    through = rolled_through()
    today = midnight(now)
    days = {midnight(t) for t in changed_entered if t < through}
    new_through = through
    if through < today and max_new_days > 0:
        if through == 0:  # first round after the upgrade: start at the oldest call
            first = QueueCall.select(QueueCall.entered).order_by(QueueCall.entered).limit(1).scalar()
            through = midnight(first) if first is not None else today
        pending = range(through, today, DAY)[:max_new_days]
        days.update(pending)
        new_through = pending[-1] + DAY if pending else today
    for day in sorted(days):
        roll_day(day)
    if new_through != rolled_through():
        CollectorState.replace(source=STATE, position=new_through, identity="").execute()
    return len(days)
