"""What calls cost, summed: per extension, department, trunk or number class, per day or month; the top
destinations; the month's bundles; the calls no rate priced.

Inbound charges (a trunk whose table has an ``inbound`` line charges for the calls it receives) are a
report of their own, per trunk ("inbound", the roll-up's dimension of that name), never mixed into the
per-trunk report of outbound calls; the per-queue and per-agent reports count them with the outbound ones.

Sums are exact: each record holds its cost as an integer in the currency's smallest unit
(``CallRecord.cost_minor``), summed by SQLite as integers and turned into amounts once per row of the
report.  The reports by group read the daily roll-up (``CostDay``, kept as calls are priced), so a month
over a million calls sums a few thousand rows; the top destinations read the records themselves.  Sums
are kept apart per currency (two carriers may bill in two).  Days and months are those of
the records' start times, as Asterisk wrote them.  A department is the one the extension has now
(``Extension.department``): moving a person to another team moves their past calls with them.

Per queue and per agent: a queue call's priced legs (every leg through a trunk of the same call, Asterisk's
``linkedid``, which is the queue call's ``callid``), outbound and inbound charges alike, count for the queue
that answered the call and the agent who answered it; a call no queue answered counts for the last queue it
entered, with no agent.  Those two reports join the records with the queue calls (``_queue_sums``): the day
of a leg is its site-local day.  The days before yesterday are rolled up into ``CostDay`` by the first report
that reads them; the collector drops the roll-up of the days its new records and queue calls fall on
(``forget_queue_days``), so a call collected late is counted at the next report.
"""

from __future__ import annotations

import datetime
import time as _time
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from babel.numbers import get_currency_precision

from appliance.billing import rates
from appliance.billing.queue_costs import QUEUE_DONE, forget_queue_days
from appliance.model.database import database
from appliance.site import localtime

GROUPS = ("extension", "department", "agent", "queue", "trunk", "class", "inbound")
PERIODS = ("day", "month", "total")
Group = Literal["extension", "department", "agent", "queue", "trunk", "class", "inbound"]
Period = Literal["day", "month", "total"]
QUEUE_GROUPS: tuple[Group, Group] = ("queue", "agent")
SETTLE_DAYS = 2  # days before today that are rolled up (the collector may still bring in the last ones)
_PERIOD_SQL = {"day": "c.day", "month": "substr(c.day, 1, 7)", "total": "''"}


def amount(minor: int, currency: str) -> Decimal:
    """An integer in the currency's smallest unit as an amount: 29 CNY fen is Decimal("0.29")."""
    return Decimal(minor).scaleb(-get_currency_precision(currency))


@dataclass(frozen=True)
class CostRow:
    period: str  # "2026-12-07", "2026-12" or "" for the whole range
    key: str  # the extension, department, trunk or class ("" for calls with none)
    currency: str
    calls: int  # answered legs priced
    seconds: int  # their billed seconds
    cost: Decimal


def _range(first_day: datetime.date, last_day: datetime.date) -> tuple[str, str]:
    return f"{first_day.isoformat()} 00:00:00", f"{(last_day + datetime.timedelta(days=1)).isoformat()} 00:00:00"


def cost_report(first_day: datetime.date, last_day: datetime.date, by: Group = "extension",
                period: Period = "month") -> list[CostRow]:
    """The priced calls from ``first_day`` to ``last_day`` (inclusive), summed by ``by`` and ``period``;
    most expensive first within each period.  Read from the daily roll-up (``CostDay``): a department is
    the sum of its extensions' days."""
    if by not in GROUPS or period not in _PERIOD_SQL:
        raise ValueError(f"by is one of {', '.join(GROUPS)}; period one of {', '.join(PERIODS)}")
    if by in ("queue", "agent"):
        return _queue_report(first_day, last_day, by, period)
    dimension = "extension" if by == "department" else by
    key = "COALESCE(e.department, '')" if by == "department" else "c.key"
    join = "LEFT JOIN extension AS e ON e.number = c.key" if by == "department" else ""
    rows = database.execute_sql(
        f"SELECT {_PERIOD_SQL[period]} AS period, {key} AS k, c.currency, SUM(c.calls), SUM(c.seconds),"
        f" SUM(c.cost_minor) FROM costday AS c {join}"
        " WHERE c.dimension = ? AND c.day >= ? AND c.day <= ?"
        " GROUP BY 1, 2, 3 ORDER BY 1, 6 DESC, 2",
        (dimension, first_day.isoformat(), last_day.isoformat())).fetchall()
    return [CostRow(p, k, currency, calls, seconds, amount(minor, currency))
            for p, k, currency, calls, seconds, minor in rows]


def _bucket_length(first_day: datetime.date, zone: zoneinfo.ZoneInfo) -> int:
    """How much of a record's start text fixes its site-local day: the hour ("2026-12-07 09", 13 characters)
    where the box's and the site's UTC offsets are whole hours (every zone but a handful), else the minute."""
    moment = localtime.day_start(first_day, zone)
    offsets = (int(moment.astimezone(zone).utcoffset().total_seconds()),  # type: ignore[union-attr]
               _time.localtime(moment.timestamp()).tm_gmtoff)
    return 13 if all(offset % 3600 == 0 for offset in offsets) else 16


def _queue_sums(first_day: datetime.date, last_day: datetime.date, by: Group, zone: zoneinfo.ZoneInfo
                ) -> list[tuple[str, str, str, int, int, int]]:
    """``(start bucket, queue or agent, currency, legs, billed seconds, cost in minor units)``, summed by SQLite
    over each priced, answered leg through a trunk that started in the site's days ``first_day`` to
    ``last_day`` and belongs to a queue call (its ``linkedid`` is the call's ``callid``): its outbound price
    and its inbound charge, for the queue that answered the call (else the last one it entered) and its
    agent.  A bucket is the start text's hour (or minute: ``_bucket_length``), turned into a day once."""
    first = localtime.asterisk_day_start(first_day, zone)
    after = localtime.asterisk_day_start(last_day + datetime.timedelta(days=1), zone)
    earliest = localtime.day_start(first_day, zone).timestamp() - 86400  # a queue call may start the day before
    latest = localtime.day_start(last_day + datetime.timedelta(days=1), zone).timestamp() + 86400
    key = "queue" if by == "queue" else "agent"
    return database.execute_sql(
        "WITH q AS (SELECT callid, queue, agent, ROW_NUMBER() OVER (PARTITION BY callid"
        "   ORDER BY outcome = 'answered' DESC, entered DESC, id DESC) AS n"
        "   FROM queuecall WHERE entered >= ? AND entered < ?),"
        " legs AS (SELECT substr(r.start, 1, ?) AS bucket, q.queue, q.agent, r.trunk, r.currency, r.billsec,"
        "   r.cost_minor, r.inbound_currency, r.inbound_cost_minor FROM q"
        "   JOIN callrecord AS r ON r.linkedid = q.callid"
        "   WHERE q.n = 1 AND r.start >= ? AND r.start < ? AND r.billsec > 0)"
        f" SELECT bucket, {key}, currency, COUNT(*), SUM(billsec), SUM(cost) FROM ("
        f"   SELECT bucket, {key}, currency, billsec, cost_minor AS cost FROM legs"
        "     WHERE trunk != '' AND cost_minor IS NOT NULL"
        f"   UNION ALL SELECT bucket, {key}, inbound_currency, billsec, inbound_cost_minor FROM legs"
        "     WHERE inbound_cost_minor IS NOT NULL) AS charged"
        " GROUP BY 1, 2, 3",
        (int(earliest), int(latest), _bucket_length(first_day, zone), first, after)).fetchall()


def _day_sums(first_day: datetime.date, last_day: datetime.date, by: Group, zone: zoneinfo.ZoneInfo
              ) -> dict[tuple[str, str, str], list[int]]:
    """``_queue_sums`` per site-local day: {(day, queue or agent, currency): [legs, seconds, minor units]}."""
    sums: dict[tuple[str, str, str], list[int]] = {}
    days: dict[str, str] = {}
    for bucket, key, currency, legs, seconds, minor in _queue_sums(first_day, last_day, by, zone):
        if bucket not in days:
            days[bucket] = localtime.from_asterisk((bucket + ":00:00")[:19], zone)[:10]
        total = sums.setdefault((days[bucket], key or "", currency), [0, 0, 0])
        total[0] += legs
        total[1] += seconds
        total[2] += minor
    return sums


def _settle(first_day: datetime.date, last_day: datetime.date, zone: zoneinfo.ZoneInfo) -> None:
    """Roll the per-queue and per-agent sums of the days from ``first_day`` to ``last_day`` that are not rolled
    up yet into ``CostDay`` (dimensions "queue" and "agent", and a ``QUEUE_DONE`` row per day rolled up, even
    a day with no queue call), in one write transaction taken at its start: what it read is what it writes."""
    with database.atomic():  # IMMEDIATE, as every transaction here (appliance.model.database)
        done = {day for (day,) in database.execute_sql(
            "SELECT day FROM costday WHERE dimension = ? AND day >= ? AND day <= ?",
            (QUEUE_DONE, first_day.isoformat(), last_day.isoformat()))}
        missing = [first_day + datetime.timedelta(days=n) for n in range((last_day - first_day).days + 1)]
        missing = [day for day in missing if day.isoformat() not in done]
        if not missing:
            return
        names = {day.isoformat() for day in missing}
        rows: list[tuple[str, str, str, str, int, int, int]] = []
        for by in QUEUE_GROUPS:
            for (day, key, currency), (legs, seconds, minor) in _day_sums(missing[0], missing[-1], by, zone).items():
                if day in names:
                    rows.append((by, day, key, currency, legs, seconds, minor))
        rows += [(QUEUE_DONE, day, "", "", 0, 0, 0) for day in sorted(names)]
        forget_queue_days(names, neighbours=False)
        database.cursor().executemany(
            "INSERT INTO costday (dimension, day, key, currency, calls, seconds, cost_minor)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def _queue_report(first_day: datetime.date, last_day: datetime.date, by: Group, period: Period) -> list[CostRow]:
    """``cost_report`` per queue or per agent (the module's docstring says which legs count where): the days
    before yesterday from the roll-up (rolled up at the first report that needs them), the others live."""
    zone = localtime.site_zone()
    settled = min(last_day, datetime.datetime.now(zone).date() - datetime.timedelta(days=SETTLE_DAYS))
    sums: dict[tuple[str, str, str], list[int]] = {}

    def add(day: str, key: str, currency: str, legs: int, seconds: int, minor: int) -> None:
        when = {"day": day, "month": day[:7], "total": ""}[period]
        total = sums.setdefault((when, key, currency), [0, 0, 0])
        total[0] += legs
        total[1] += seconds
        total[2] += minor

    if first_day <= settled:
        _settle(first_day, settled, zone)
        for row in database.execute_sql(
                "SELECT day, key, currency, calls, seconds, cost_minor FROM costday"
                " WHERE dimension = ? AND day >= ? AND day <= ?", (by, first_day.isoformat(), settled.isoformat())):
            add(*row)
    live_first = max(first_day, settled + datetime.timedelta(days=1))
    if live_first <= last_day:
        for (day, key, currency), (legs, seconds, minor) in _day_sums(live_first, last_day, by, zone).items():
            add(day, key, currency, legs, seconds, minor)
    ordered = sorted(sums.items(), key=lambda item: (item[0][0], -item[1][2], item[0][1], item[0][2]))
    return [CostRow(when, key, currency, calls, seconds, amount(minor, currency))
            for (when, key, currency), (calls, seconds, minor) in ordered]


@dataclass(frozen=True)
class Destination:
    number: str
    number_class: str
    currency: str
    calls: int
    seconds: int
    cost: Decimal


def top_destinations(first_day: datetime.date, last_day: datetime.date, limit: int = 20) -> list[Destination]:
    """The numbers that cost the most in the range."""
    rows = database.execute_sql(
        "SELECT r.number, MAX(r.number_class), r.currency, COUNT(*), SUM(r.billsec), SUM(r.cost_minor)"
        " FROM callrecord AS r WHERE r.start >= ? AND r.start < ? AND r.trunk != '' AND r.cost_minor IS NOT NULL"
        " AND r.billsec > 0 GROUP BY r.number, r.currency ORDER BY 6 DESC, 1 LIMIT ?",
        (*_range(first_day, last_day), max(1, min(int(limit), 1000)))).fetchall()
    return [Destination(n, c, cur, calls, seconds, amount(minor, cur)) for n, c, cur, calls, seconds, minor in rows]


@dataclass(frozen=True)
class Bundle:
    trunk: str
    prefix: str  # the rate line's prefix, or
    number_class: str  # its class ("" and "" for the trunk's default line)
    free_minutes: int
    used_seconds: int

    @property
    def used_pct(self) -> float:
        return round(100 * self.used_seconds / (self.free_minutes * 60), 1) if self.free_minutes else 0.0


def bundles(trunks: list[str], day: datetime.date) -> list[Bundle]:
    """Each bundle (a rate line with free minutes) of the tables in force on ``day``, with its use in that
    day's month."""
    first = day.replace(day=1)
    following = (first + datetime.timedelta(days=32)).replace(day=1)
    out = []
    for trunk in trunks:
        _start, lines = rates.table_in_force(trunk, day)
        for line in lines:
            if not line.free_minutes:
                continue
            key = line.key
            used = database.execute_sql(
                "SELECT COALESCE(SUM(free_seconds), 0) FROM callrecord WHERE trunk = ? AND rate_key = ?"
                " AND start >= ? AND start < ?", (trunk, key, f"{first.isoformat()} 00:00:00",
                                                  f"{following.isoformat()} 00:00:00")).fetchone()[0]
            out.append(Bundle(trunk, line.prefix, line.number_class, line.free_minutes, used))
    return out


def unpriced_calls(first_day: datetime.date, last_day: datetime.date) -> int:
    """Answered calls through a trunk in the range that no rate line priced: a table misses a line."""
    return database.execute_sql(
        "SELECT COALESCE(SUM(calls), 0) FROM costday WHERE dimension = 'unpriced' AND day >= ? AND day <= ?",
        (first_day.isoformat(), last_day.isoformat())).fetchone()[0]
