"""Call-center KPIs from the collected queue calls, with the industry definitions in docs/reports.md.

Every figure is one SQL aggregate over ``QueueCall`` (indexed on queue and
time), so a day or a month over a million calls stays a fast query.

Definitions (T = service-level threshold, S = short-abandon threshold):

* offered        calls that entered the queue
* answered       calls an agent connected to
* abandoned      callers who hung up while waiting, after S seconds or more
* short abandons callers who hung up within S seconds (not counted as offered work)
* service level  answered within T / (answered + abandoned), in %  (the "offered" form; short abandons excluded)
* ASA            total wait of answered calls / answered
* AHT            (talk time + wrap-up time) / answered
* abandon rate   abandoned / (offered − short abandons), in %
* FCR proxy      % of answered callers with no new call to the same queue within N hours
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import datetime

from peewee import JOIN, Case, fn

from appliance.model.models import Queue, QueueCall


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


@dataclass
class AgentKpis:
    agent: str
    answered: int
    talk_seconds: int
    avg_talk_seconds: float | None
    avg_wait_of_answered: float | None


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _avg(total: float, count: int) -> float | None:
    return round(total / count, 1) if count else None


def queue_report(start: datetime, end: datetime, queue: str | None = None, service_seconds: int = 20,
                 short_abandon_seconds: int = 5, fcr_hours: int = 24) -> list[QueueKpis]:
    """KPIs per queue for calls that entered between ``start`` and ``end``."""
    c = QueueCall
    answered = Case(None, [(c.outcome == "answered", 1)], 0)
    in_sl = Case(None, [((c.outcome == "answered") & (c.wait_seconds <= service_seconds), 1)], 0)
    abandoned = Case(None, [((c.outcome == "abandoned") & (c.wait_seconds >= short_abandon_seconds), 1)], 0)
    short = Case(None, [((c.outcome == "abandoned") & (c.wait_seconds < short_abandon_seconds), 1)], 0)
    timeout = Case(None, [(c.outcome == "timeout", 1)], 0)
    other = Case(None, [(c.outcome.in_(("exitkey", "exitempty")), 1)], 0)
    answered_wait = Case(None, [(c.outcome == "answered", c.wait_seconds)], 0)
    answered_talk = Case(None, [(c.outcome == "answered", c.talk_seconds)], 0)
    first_call = Case(None, [((c.outcome == "answered") & (c.caller != "")
                              & (c.next_call_seconds.is_null() | (c.next_call_seconds > fcr_hours * 3600)), 1)], 0)
    known_caller = Case(None, [((c.outcome == "answered") & (c.caller != ""), 1)], 0)
    query = (c.select(c.queue, fn.COUNT(c.id).alias("offered"), fn.SUM(answered).alias("answered"),
                      fn.SUM(in_sl).alias("in_sl"), fn.SUM(abandoned).alias("abandoned"),
                      fn.SUM(short).alias("short"), fn.SUM(timeout).alias("timeouts"),
                      fn.SUM(other).alias("other"), fn.SUM(answered_wait).alias("wait"),
                      fn.SUM(answered_talk).alias("talk"), fn.MAX(c.wait_seconds).alias("max_wait"),
                      fn.SUM(first_call).alias("first_call"), fn.SUM(known_caller).alias("known_caller"),
                      fn.MAX(Queue.wrapup_seconds).alias("wrapup"))
             .join(Queue, JOIN.LEFT_OUTER, on=(Queue.number == c.queue))
             .where((c.entered >= _epoch(start)) & (c.entered < _epoch(end)))
             .group_by(c.queue).order_by(c.queue))
    if queue:
        query = query.where(c.queue == queue)
    out = []
    for row in query.dicts():
        answered_n, abandoned_n = row["answered"] or 0, row["abandoned"] or 0
        wrapup = row["wrapup"] or 0
        out.append(QueueKpis(
            queue=row["queue"], offered=row["offered"], answered=answered_n, abandoned=abandoned_n,
            short_abandons=row["short"] or 0, timeouts=row["timeouts"] or 0, other_exits=row["other"] or 0,
            service_level_pct=_pct(row["in_sl"] or 0, answered_n + abandoned_n),
            asa_seconds=_avg(row["wait"] or 0, answered_n),
            aht_seconds=_avg((row["talk"] or 0) + wrapup * answered_n, answered_n),
            abandon_rate_pct=_pct(abandoned_n, row["offered"] - (row["short"] or 0)),
            max_wait_seconds=row["max_wait"] or 0,
            fcr_pct=_pct(row["first_call"] or 0, row["known_caller"] or 0),
        ))
    return out


def agent_report(start: datetime, end: datetime, queue: str | None = None) -> list[AgentKpis]:
    c = QueueCall
    query = (c.select(c.agent, fn.COUNT(c.id).alias("answered"), fn.SUM(c.talk_seconds).alias("talk"),
                      fn.SUM(c.wait_seconds).alias("wait"))
             .where((c.outcome == "answered") & (c.entered >= _epoch(start)) & (c.entered < _epoch(end)))
             .group_by(c.agent).order_by(c.agent))
    if queue:
        query = query.where(c.queue == queue)
    return [AgentKpis(agent=r["agent"], answered=r["answered"], talk_seconds=r["talk"] or 0,
                      avg_talk_seconds=_avg(r["talk"] or 0, r["answered"]),
                      avg_wait_of_answered=_avg(r["wait"] or 0, r["answered"])) for r in query.dicts()]


def calls_per_hour(start: datetime, end: datetime, queue: str | None = None) -> list[tuple[str, int, int]]:
    """(hour 'YYYY-MM-DD HH', offered, answered) in UTC."""
    c = QueueCall
    hour = fn.strftime("%Y-%m-%d %H", c.entered, "unixepoch")
    answered = Case(None, [(c.outcome == "answered", 1)], 0)
    query = (c.select(hour.alias("hour"), fn.COUNT(c.id).alias("offered"), fn.SUM(answered).alias("answered"))
             .where((c.entered >= _epoch(start)) & (c.entered < _epoch(end))).group_by(hour).order_by(hour))
    if queue:
        query = query.where(c.queue == queue)
    return [(r["hour"], r["offered"], r["answered"] or 0) for r in query.dicts()]


def to_csv(rows: list) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(asdict(rows[0])))
    writer.writeheader()
    writer.writerows(asdict(r) for r in rows)
    return out.getvalue()
