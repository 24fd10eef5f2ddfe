"""Call-center KPIs from the collected queue calls, with the industry definitions in docs/reports.md.

Every figure is a sum: whole past days come from the collector's daily roll-ups
(``appliance.callcenter.rollup``), the rest (today, partial days) from one SQL
aggregate over ``QueueCall``.  Both give the same raw sums, so a report is
exact whichever way its days were read, and a month over a million calls
stays a fast query.

Definitions (T = the queue's service-level threshold, S = short-abandon threshold):

* offered        calls that entered the queue
* answered       calls an agent connected to
* abandoned      callers who hung up while waiting, after S seconds or more
* short abandons callers who hung up within S seconds (not counted as offered work)
* service level  answered within T / (answered + abandoned), in %  (the "offered" form; short abandons excluded)
* ASA            total wait of answered calls / answered
* AHT            (talk time + wrap-up time) / answered
* abandon rate   abandoned / (offered − short abandons), in %
* FCR proxy      % of answered callers with no new call to the same queue within N hours
* interrupted    calls cut by a restart of Asterisk (waiting: counted as offered only; talking: answered)
* occupancy      handle time (talk + wrap-up) / (handle time + available idle time), while logged in
"""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from peewee import Case, Value, fn

from appliance.callcenter import rollup
from appliance.model.models import (
    AgentDayStat,
    AuditEntry,
    HourStat,
    Queue,
    QueueCall,
    QueueDayStat,
    QueueEvent,
)
from appliance.site import localtime


@dataclass
class QueueKpis:
    queue: str
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    timeouts: int
    other_exits: int
    service_level_pct: float | None
    asa_seconds: float | None
    aht_seconds: float | None
    abandon_rate_pct: float | None
    max_wait_seconds: int
    fcr_pct: float | None
    interrupted: int = 0
    callbacks: int = 0  # callers who left the queue asking to be called back (also in offered)


@dataclass
class DayKpis:
    """One day's figures, for the service-level and abandonment charts."""

    day: str
    offered: int
    answered: int
    abandoned: int
    service_level_pct: float | None
    abandon_rate_pct: float | None


@dataclass
class AgentKpis:
    agent: str
    answered: int
    talk_seconds: int
    avg_talk_seconds: float | None
    avg_wait_of_answered: float | None
    logged_in_seconds: int = 0
    paused_seconds: int = 0
    occupancy_pct: float | None = None
    pauses: dict[str, int] = field(default_factory=dict)  # seconds paused, by reason


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _avg(total: float, count: int) -> float | None:
    return round(total / count, 1) if count else None


def _split(start: int, end: int) -> tuple[list[tuple[int, int]], tuple[str, str] | None]:
    """Cut [start, end) into the whole (local) days the roll-ups hold and the ranges read live.

    Returns the live ranges and, if any, the rolled days as (first day, day after the last)."""
    zone = localtime.site_zone()
    first_whole = rollup.midnight(start, zone)
    if first_whole < start:
        first_whole = localtime.next_midnight(start, zone)
    last_whole = min(rollup.midnight(end, zone), rollup.rolled_through(zone))
    if first_whole >= last_whole:
        return [(start, end)], None
    live = [(a, b) for a, b in ((start, first_whole), (last_whole, end)) if a < b]
    return live, (rollup.day_name(first_whole, zone), rollup.day_name(last_whole, zone))


def _in_ranges(column, ranges: list[tuple[int, int]]):
    """``column`` within any of the ranges; with no range, a condition nothing meets."""
    condition = (column < column) if not ranges else None  # callers skip the query then: see _rows
    for a, b in ranges:
        part = (column >= a) & (column < b)
        condition = part if condition is None else condition | part
    return condition


SUMS = ("offered", "answered", "in_sl", "abandoned", "short", "timeouts", "other", "wait", "talk", "max_wait",
        "first_call", "known_caller", "interrupted", "callbacks")
# A callback's placeholder holds a caller's place in the queue; it is no caller's call: the queue's figures
# leave it out (the callbacks report counts it).  Its caller's own stay ends "callback" (docs/reports.md).
PLACEHOLDERS = ("callback_call", "callback_lost")


def _service_level(row: dict) -> float | None:
    """Answered within T ÷ (answered + abandoned + callbacks asked for): a caller who chose to be called back
    counts as not answered within T (the wait they gave up on), so offering callbacks cannot raise it."""
    return _pct(row["in_sl"], row["answered"] + row["abandoned"] + row["callbacks"])


def _rows(query, live: list[tuple[int, int]]) -> list[dict]:
    """The query's rows, or none without running it when no range is read live."""
    return list(query.dicts()) if live else []


DEFAULT_SERVICE_SECONDS = 20  # the threshold of a queue no longer configured (its calls are still reported)


def service_thresholds() -> dict[str, int]:
    """Each queue's service-level threshold T in seconds: its setting."""
    return {q.number: q.service_level_seconds for q in Queue.select(Queue.number, Queue.service_level_seconds)}


def service_level_settings(queue: str | None = None) -> tuple[set[int], set[int]]:
    """The distinct service-level thresholds and targets of the queues a report covers (one, or all): a
    chart can name one threshold and draw one target line only when they share it."""
    query = Queue.select(Queue.service_level_seconds, Queue.service_level_target)
    if queue:
        query = query.where(Queue.number == queue)
    rows = list(query.tuples())
    return {seconds for seconds, _ in rows}, {target for _, target in rows}


def _queue_sums(start: int, end: int, queue: str | None, by: str, service_seconds: int | None,
                short_abandon_seconds: int, fcr_hours: int) -> dict[str, dict[str, int]]:
    """The raw sums behind the queue KPIs, keyed by queue (``by="queue"``) or by day (``by="day"``).
    A call is within service level by its own queue's threshold, so a day's sum over queues is exact."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SUMS, 0))
    live, rolled = _split(start, end)
    # ``service_seconds`` (``linebox report --service-seconds``) is one threshold for every queue
    thresholds = {} if service_seconds else service_thresholds()
    fallback = service_seconds or DEFAULT_SERVICE_SECONDS

    def add(key: str, row: dict) -> None:
        target = sums[key]
        for name in SUMS:
            value = row.get(name) or 0
            target[name] = max(target[name], value) if name == "max_wait" else target[name] + value

    c = QueueCall
    answered = c.outcome == "answered"
    local = rollup.local_expr(c.entered, start, end, localtime.site_zone())
    key = c.queue if by == "queue" else fn.strftime("%Y-%m-%d", local, "unixepoch")
    # the few queues' thresholds as one CASE: the aggregate still reads only the covering index
    # (each queue's name kept as text: compared with wait_seconds, peewee would make it a number)
    threshold = (Case(c.queue, [(Value(q, converter=str), s) for q, s in thresholds.items()], fallback)
                 if thresholds else fallback)
    query = (c.select(key.alias("key"), fn.COUNT(c.id).alias("offered"),
                      fn.SUM(Case(None, [(answered, 1)], 0)).alias("answered"),
                      fn.SUM(Case(None, [(answered & (c.wait_seconds <= threshold), 1)], 0)).alias("in_sl"),
                      fn.SUM(Case(None, [((c.outcome == "abandoned") & (c.wait_seconds >= short_abandon_seconds),
                                          1)], 0)).alias("abandoned"),
                      fn.SUM(Case(None, [((c.outcome == "abandoned") & (c.wait_seconds < short_abandon_seconds),
                                          1)], 0)).alias("short"),
                      fn.SUM(Case(None, [(c.outcome == "timeout", 1)], 0)).alias("timeouts"),
                      fn.SUM(Case(None, [(c.outcome.in_(("exitkey", "exitempty")), 1)], 0)).alias("other"),
                      fn.SUM(Case(None, [(answered, c.wait_seconds)], 0)).alias("wait"),
                      fn.SUM(Case(None, [(answered, c.talk_seconds)], 0)).alias("talk"),
                      fn.MAX(c.wait_seconds).alias("max_wait"),
                      fn.SUM(Case(None, [(answered & (c.caller != "") & (
                          c.next_call_seconds.is_null() | (c.next_call_seconds > fcr_hours * 3600)), 1)], 0))
                      .alias("first_call"),
                      fn.SUM(Case(None, [(answered & (c.caller != ""), 1)], 0)).alias("known_caller"),
                      fn.SUM(Case(None, [(c.ended_by == "restart", 1)], 0)).alias("interrupted"),
                      fn.SUM(Case(None, [(c.outcome == "callback", 1)], 0)).alias("callbacks"))
             .where(_in_ranges(c.entered, live) & c.outcome.not_in(PLACEHOLDERS)).group_by(key))
    if queue:
        query = query.where(c.queue == queue)
    for row in _rows(query, live):
        add(row["key"], row)

    if rolled:
        # One plain GROUP BY (a few thousand histogram rows for a month), summed here: far cheaper than
        # evaluating a dozen CASE expressions on every roll-up row in SQL.
        s = QueueDayStat
        key = s.queue if by == "queue" else s.day
        query = (s.select(key.alias("key"), s.queue.alias("of_queue"), s.outcome, s.seconds,
                          fn.SUM(s.calls).alias("calls"), fn.SUM(s.talk_seconds).alias("talk"),
                          fn.SUM(s.known_callers).alias("known"))
                 .where((s.day >= rolled[0]) & (s.day < rolled[1])).group_by(key, s.queue, s.outcome, s.seconds))
        if queue:
            query = query.where(s.queue == queue)
        repeats: dict[str, int] = defaultdict(int)
        for key_value, of_queue, outcome, seconds, n, talk, known in query.tuples():
            if outcome == "repeat":
                if seconds <= fcr_hours:
                    repeats[key_value] += n
                continue
            if outcome == rollup.CUT:
                add(key_value, {"interrupted": n})
                continue
            if outcome in PLACEHOLDERS:
                continue
            row = {"offered": n, "max_wait": seconds}
            if outcome == "answered":
                row.update(answered=n, in_sl=n if seconds <= thresholds.get(of_queue, fallback) else 0,
                           wait=n * seconds, talk=talk,
                           known_caller=known, first_call=known)
            elif outcome == "abandoned":
                row["abandoned" if seconds >= short_abandon_seconds else "short"] = n
            elif outcome == "timeout":
                row["timeouts"] = n
            elif outcome in ("exitkey", "exitempty"):
                row["other"] = n
            elif outcome == "interrupted":
                row["interrupted"] = n
            elif outcome == "callback":
                row["callbacks"] = n
            add(key_value, row)
        for key_value, n in repeats.items():
            sums[key_value]["first_call"] -= n
    return sums


def queue_report(start: datetime, end: datetime, queue: str | None = None, service_seconds: int | None = None,
                 short_abandon_seconds: int = 5, fcr_hours: int = 24) -> list[QueueKpis]:
    """KPIs per queue for calls that entered between ``start`` and ``end``; service level by each queue's
    own threshold unless ``service_seconds`` gives one for all."""
    sums = _queue_sums(_epoch(start), _epoch(end), queue, "queue", service_seconds, short_abandon_seconds,
                       fcr_hours)
    wrapups = {q.number: q.wrapup_seconds for q in Queue.select(Queue.number, Queue.wrapup_seconds)}
    out = []
    for name in sorted(sums):
        row = sums[name]
        answered_n, abandoned_n = row["answered"], row["abandoned"]
        wrapup = wrapups.get(name, 0)
        out.append(QueueKpis(
            queue=name, offered=row["offered"], answered=answered_n, abandoned=abandoned_n,
            short_abandons=row["short"], timeouts=row["timeouts"], other_exits=row["other"],
            service_level_pct=_service_level(row),
            asa_seconds=_avg(row["wait"], answered_n),
            aht_seconds=_avg(row["talk"] + wrapup * answered_n, answered_n),
            abandon_rate_pct=_pct(abandoned_n, row["offered"] - row["short"]),
            max_wait_seconds=row["max_wait"],
            fcr_pct=_pct(row["first_call"], row["known_caller"]),
            interrupted=row["interrupted"], callbacks=row["callbacks"],
        ))
    return out


def daily_report(start: datetime, end: datetime, queue: str | None = None, service_seconds: int | None = None,
                 short_abandon_seconds: int = 5) -> list[DayKpis]:
    """Service level and abandonment per day of the site's time zone (all queues, or one)."""
    sums = _queue_sums(_epoch(start), _epoch(end), queue, "day", service_seconds, short_abandon_seconds, 24)
    return [DayKpis(day=day, offered=r["offered"], answered=r["answered"], abandoned=r["abandoned"],
                    service_level_pct=_service_level(r),
                    abandon_rate_pct=_pct(r["abandoned"], r["offered"] - r["short"]))
            for day, r in sorted(sums.items())]


MEMBERSHIP = ("ADDMEMBER", "REMOVEMEMBER")
PAUSES = ("PAUSE", "UNPAUSE")


@dataclass
class _Membership:
    """A permanent member's membership change, shaped as the queue_log event a login would have written."""

    time: int
    queue: str
    agent: str
    event: str
    data: str = ""
    id: int = 0


def _queue_members(values: dict | None) -> set[tuple[str, str]]:
    if not values:
        return set()
    return {(str(values.get("number", "")), str(m.get("extension", ""))) for m in values.get("members") or ()}


def permanent_memberships(stop: int, queue: str | None = None) -> list[_Membership]:
    """When each permanent member (written in a queue's settings) joined and left each queue, up to ``stop``.

    Asterisk writes no queue_log line for them: they are members from the moment the queue is
    configured so.  The audit log holds every change of a queue with its members before and after (a
    console or API save, an import, a renumbering), so the time a change was saved is when the
    member's "session" opened or closed."""
    a = AuditEntry
    until = datetime.fromtimestamp(stop, UTC).replace(tzinfo=None)
    out: list[_Membership] = []
    for entry in a.select().where((a.kind == "queue") & (a.when < until)).order_by(a.when, a.id):
        moment = int(entry.when.replace(tzinfo=UTC).timestamp())
        before, after = _queue_members(entry.before), _queue_members(entry.after)
        for event, pairs in (("REMOVEMEMBER", before - after), ("ADDMEMBER", after - before)):
            out.extend(_Membership(moment, number, agent, event) for number, agent in sorted(pairs)
                       if queue is None or number == queue)
    return out


def agent_time(start: int, end: int, queue: str | None = None, now: int | None = None) -> dict[str, dict]:
    """Per agent: seconds logged in, paused (by reason) and paused while logged in, within [start, end).

    From queue_log: ADDMEMBER/REMOVEMEMBER are the login sessions (the agent page, ``*45``/``*46``, AMI),
    PAUSE/UNPAUSE (with their reason) the pauses, per queue.  An agent counts as logged in while a
    member of at least one queue, and as paused while paused in at least one queue (the reason
    shown is that of their latest pause).  Permanent members (written in the queue's settings) are
    logged in while the queue's settings list them (``permanent_memberships``).  The state at
    ``start`` comes from each agent's latest events before it, however old.
    """
    stop = min(end, now if now is not None else int(time.time()))
    e = QueueEvent
    scope = (e.queue == queue) if queue else (e.queue != "NONE")
    seeds = []
    for kinds in (MEMBERSHIP, PAUSES):
        latest = (e.select(e.agent, e.queue, fn.MAX(e.time).alias("time"))
                  .where(e.event.in_(kinds) & (e.time < start) & scope).group_by(e.agent, e.queue))
        for row in latest.dicts():
            seeds.extend(e.select().where(e.event.in_(kinds) & (e.agent == row["agent"]) & (e.queue == row["queue"])
                                          & (e.time == row["time"])).order_by(e.id.desc()).limit(1))
    window = list(e.select().where(e.event.in_(MEMBERSHIP + PAUSES) & (e.time >= start) & (e.time < stop) & scope)
                  .order_by(e.time, e.id))
    by_agent: dict[str, list[QueueEvent | _Membership]] = defaultdict(list)
    for event in [*seeds, *window, *permanent_memberships(stop, queue)]:
        by_agent[event.agent].append(event)
    for events in by_agent.values():
        events.sort(key=lambda x: (x.time, x.id))

    out = {}
    for agent, events in by_agent.items():
        members: set[str] = set()
        paused: dict[str, tuple[int, str]] = {}  # queue -> (order, reason)
        totals: dict[str, Any] = {"logged_in": 0, "paused_logged_in": 0, "pauses": defaultdict(int)}
        cursor = start

        def account(until: int, totals=totals, members=members, paused=paused) -> None:
            nonlocal cursor
            until = min(max(until, start), stop)
            span = until - cursor
            if span > 0:
                if members:
                    totals["logged_in"] += span
                if paused:
                    reason = max(paused.values())[1]
                    totals["pauses"][reason] += span
                    if members:
                        totals["paused_logged_in"] += span
            cursor = max(cursor, until)

        for n, event in enumerate(events):
            account(event.time)
            if event.event == "ADDMEMBER":
                members.add(event.queue)
                if event.data.startswith("PAUSED"):
                    paused[event.queue] = (n, "")
            elif event.event == "REMOVEMEMBER":
                members.discard(event.queue)
                paused.pop(event.queue, None)
            elif event.event == "PAUSE":
                paused[event.queue] = (n, event.data.split("|")[0])
            elif event.event == "UNPAUSE":
                paused.pop(event.queue, None)
        account(stop)
        if totals["logged_in"] or totals["pauses"]:
            out[agent] = {"logged_in": totals["logged_in"], "paused_logged_in": totals["paused_logged_in"],
                          "pauses": dict(sorted(totals["pauses"].items()))}
    return out


def agent_report(start: datetime, end: datetime, queue: str | None = None,
                 now: datetime | None = None) -> list[AgentKpis]:
    """Per agent: calls, talk, pause time by reason, logged-in time and occupancy (docs/reports.md)."""
    begin, finish = _epoch(start), _epoch(end)
    live, rolled = _split(begin, finish)
    calls: dict[str, dict[str, int]] = defaultdict(lambda: {"answered": 0, "talk": 0, "wait": 0, "wrapup": 0})
    wrapups = {q.number: q.wrapup_seconds for q in Queue.select(Queue.number, Queue.wrapup_seconds)}

    def add(row: dict) -> None:
        target = calls[row["agent"]]
        for name in ("answered", "talk", "wait"):
            target[name] += row[name] or 0
        target["wrapup"] += (row["answered"] or 0) * wrapups.get(row["queue"], 0)

    c = QueueCall
    query = (c.select(c.agent, c.queue, fn.COUNT(c.id).alias("answered"), fn.SUM(c.talk_seconds).alias("talk"),
                      fn.SUM(c.wait_seconds).alias("wait"))
             .where((c.outcome == "answered") & _in_ranges(c.entered, live)).group_by(c.agent, c.queue))
    if queue:
        query = query.where(c.queue == queue)
    for row in _rows(query, live):
        add(row)
    if rolled:
        a = AgentDayStat
        query = (a.select(a.agent, a.queue, fn.SUM(a.answered).alias("answered"), fn.SUM(a.talk_seconds).alias("talk"),
                          fn.SUM(a.wait_seconds).alias("wait"))
                 .where((a.day >= rolled[0]) & (a.day < rolled[1])).group_by(a.agent, a.queue))
        if queue:
            query = query.where(a.queue == queue)
        for row in query.dicts():
            add(row)

    times = agent_time(begin, finish, queue, _epoch(now) if now else None)
    out = []
    for agent in sorted(set(calls) | set(times)):
        got = calls.get(agent, {"answered": 0, "talk": 0, "wait": 0, "wrapup": 0})
        spent = times.get(agent, {"logged_in": 0, "paused_logged_in": 0, "pauses": {}})
        available = spent["logged_in"] - spent["paused_logged_in"]
        handle = got["talk"] + got["wrapup"]
        occupancy = _pct(handle, available) if available > 0 else None
        out.append(AgentKpis(
            agent=agent, answered=got["answered"], talk_seconds=got["talk"],
            avg_talk_seconds=_avg(got["talk"], got["answered"]),
            avg_wait_of_answered=_avg(got["wait"], got["answered"]),
            logged_in_seconds=spent["logged_in"], paused_seconds=sum(spent["pauses"].values()),
            occupancy_pct=None if occupancy is None else min(occupancy, 100.0),
            pauses=spent["pauses"]))
    return out


def calls_per_hour(start: datetime, end: datetime, queue: str | None = None) -> list[tuple[str, int, int]]:
    """(hour 'YYYY-MM-DD HH', offered, answered), hours of the site's time zone."""
    live, rolled = _split(_epoch(start), _epoch(end))
    hours: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    c = QueueCall
    local = rollup.local_expr(c.entered, _epoch(start), _epoch(end), localtime.site_zone())
    hour = fn.strftime("%Y-%m-%d %H", local, "unixepoch")
    query = (c.select(hour.alias("hour"), fn.COUNT(c.id).alias("offered"),
                      fn.SUM(Case(None, [(c.outcome == "answered", 1)], 0)).alias("answered"))
             .where(_in_ranges(c.entered, live)).group_by(hour))
    if queue:
        query = query.where(c.queue == queue)
    rows = _rows(query, live)
    if rolled:
        h = HourStat
        query = (h.select(h.hour, fn.SUM(h.offered).alias("offered"), fn.SUM(h.answered).alias("answered"))
                 .where((h.hour >= rolled[0]) & (h.hour < rolled[1])).group_by(h.hour))
        if queue:
            query = query.where(h.queue == queue)
        rows.extend(query.dicts())
    for r in rows:
        hours[r["hour"]][0] += r["offered"] or 0
        hours[r["hour"]][1] += r["answered"] or 0
    return [(name, offered, answered) for name, (offered, answered) in sorted(hours.items())]


def to_csv(rows: list) -> str:
    """Rows as CSV; a dict field (an agent's pauses by reason) becomes one column per key."""
    if not rows:
        return ""
    flat = []
    for r in rows:
        item = {}
        for name, value in asdict(r).items():
            if isinstance(value, dict):
                item.update({f"pause {reason or '(no reason)'} s": seconds for reason, seconds in value.items()})
            else:
                item[name] = value
        flat.append(item)
    columns = list(dict.fromkeys(name for item in flat for name in item))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval=0)
    writer.writeheader()
    writer.writerows(flat)
    return out.getvalue()


def today(now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of today in the site's time zone (``appliance.site.localtime``), as aware datetimes."""
    return localtime.today(now)


def today_start(now: datetime | None = None) -> datetime:
    """When today began at the site (its local midnight), as an aware UTC datetime."""
    return localtime.today(now)[0]
