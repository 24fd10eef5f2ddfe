"""Daily roll-ups of the collected queue calls, for reports over whole past days.

A month holds a million calls; summing them for every report takes seconds.  The
collector therefore keeps, for every whole day before today, a few small
tables (``QueueDayStat``, ``AgentDayStat``, ``HourStat``) that reports add up
instead.  Today stays live: reports read today's calls directly.  Days and hours
are the site's local ones (``appliance.site.localtime``: a Beijing day starts at
Beijing's midnight); the ``rollup`` row remembers the zone they were cut in, and a
change of the site's zone drops them, to be rolled again in the new zone (reports
read those days live meanwhile, so they stay exact).

Correctness rests on two rules, both kept inside the collector's transaction:

* the ``rollup`` row of ``CollectorState`` says up to which midnight every day is
  rolled up; reports use roll-ups only before that point;
* when a round changes a call of a day already rolled up (a late CONNECT just after
  midnight, a repeat call that changes an older call's FCR gap), that day is rolled
  up again from its calls.  Rolling a day up is a delete and an INSERT ... SELECT,
  so doing it twice gives the same rows.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from typing import Any

from peewee import Case

from appliance.model.database import database
from appliance.model.models import CollectorState, QueueCall
from appliance.site import localtime

STATE = "rollup"
# QueueDayStat rows of answered calls a restart of Asterisk cut (``ended_by`` "restart"), by queue: the
# report's interrupted count; waiting callers it cut have their own outcome, ``interrupted``.
CUT = "cut"


def day_name(epoch_day_start: int, zone: zoneinfo.ZoneInfo | None = None) -> str:
    return localtime.day_name(epoch_day_start, zone or localtime.site_zone())


def midnight(epoch: int, zone: zoneinfo.ZoneInfo | None = None) -> int:
    """The site's local midnight beginning the day of ``epoch``."""
    return localtime.midnight(epoch, zone or localtime.site_zone())


def _zone_key(zone: zoneinfo.ZoneInfo) -> str:
    # roll-ups made before days were local ones have no zone: they are UTC days
    return "" if zone.key in ("UTC", "Etc/UTC") else zone.key


def rolled_through(zone: zoneinfo.ZoneInfo | None = None) -> int:
    """Every day before this epoch (a local midnight) is rolled up; 0 when none is, or when the roll-ups
    were cut in another time zone than the site's."""
    state = CollectorState.get_or_none(CollectorState.source == STATE)
    if state is None or (state.identity or "") != _zone_key(zone or localtime.site_zone()):
        return 0
    return state.position


def local_sql(column: str, start: int, end: int, zone: zoneinfo.ZoneInfo) -> str:
    """SQL for the epoch column ``column`` moved to the zone's local time over [start, end) (for
    ``strftime(..., 'unixepoch')``), with each daylight-saving stretch's own offset.  Only integers from
    zoneinfo go into it."""
    stretches = localtime.offsets(start, end, zone)
    if len(stretches) == 1:
        return f"({column} + {int(stretches[0][1])})"
    cases = " ".join(f"WHEN {column} < {int(until)} THEN {int(offset)}"
                     for (_, offset), (until, _) in zip(stretches, stretches[1:], strict=False))
    return f"({column} + CASE {cases} ELSE {int(stretches[-1][1])} END)"


def local_expr(column: Any, start: int, end: int, zone: zoneinfo.ZoneInfo) -> Any:
    """``local_sql`` as a peewee expression over the field ``column``."""
    stretches = localtime.offsets(start, end, zone)
    if len(stretches) == 1:
        return column + stretches[0][1]
    return column + Case(None, [(column < until, offset)
                                for (_, offset), (until, _) in zip(stretches, stretches[1:], strict=False)],
                         stretches[-1][1])


def roll_day(day_start: int, zone: zoneinfo.ZoneInfo | None = None) -> None:
    """Replace the roll-up rows of one local day with fresh sums over its calls."""
    zone = zone or localtime.site_zone()
    name, end = day_name(day_start, zone), localtime.next_midnight(day_start, zone)
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
        f" SELECT strftime('%Y-%m-%d %H', {local_sql('entered', day_start, end, zone)}, 'unixepoch') AS h, queue,"
        " COUNT(*), SUM(outcome = 'answered')"
        " FROM queuecall WHERE entered >= ? AND entered < ? GROUP BY h, queue",
        (day_start, end))


def _hours(gap: int) -> int:
    return (gap + 3599) // 3600  # as the roll-up's SQL rounds up: gap <= 3600 h  <=>  hours <= h


def move_repeat(entered: int, queue: str, old_gap: int | None, new_gap: int | None) -> None:
    """Move one answered call of a rolled-up day from one FCR bucket to another (its next-call gap changed)."""
    name = day_name(entered)
    for gap, step in ((old_gap, -1), (new_gap, 1)):
        if gap is not None:
            database.execute_sql(
                "INSERT INTO queuedaystat (day, queue, outcome, seconds, calls, talk_seconds, known_callers)"
                " VALUES (?, ?, 'repeat', ?, ?, 0, 0)"
                " ON CONFLICT (day, queue, outcome, seconds) DO UPDATE SET calls = queuedaystat.calls + excluded.calls",
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
    zone = localtime.site_zone()
    through = rolled_through(zone)
    if through == 0 and CollectorState.get_or_none(CollectorState.source == STATE) is not None:
        _drop_all()  # rolled in another time zone (or emptied): start again in the site's
    today = midnight(now, zone)
    days = {midnight(t, zone) for t in changed_entered if t < through}
    new_through = through
    if through < today and max_new_days > 0:
        if through == 0:  # first round after the upgrade or a change of zone: start at the oldest call
            first = QueueCall.select(QueueCall.entered).order_by(QueueCall.entered).limit(1).scalar()
            through = midnight(first, zone) if first is not None else today
        pending: list[int] = []
        day = through
        while day < today and len(pending) < max_new_days:
            pending.append(day)
            day = localtime.next_midnight(day, zone)
        days.update(pending)
        new_through = day
    for day in sorted(days):
        roll_day(day, zone)
    if new_through != rolled_through(zone):
        CollectorState.replace(source=STATE, position=new_through, identity=_zone_key(zone)).execute()
    return len(days)


def _drop_all() -> None:
    """Forget every roll-up (they were cut in another zone's days)."""
    for table in ("queuedaystat", "agentdaystat", "hourstat"):
        database.execute_sql(f"DELETE FROM {table}")  # noqa: S608 (fixed table names)
    CollectorState.delete().where(CollectorState.source == STATE).execute()
