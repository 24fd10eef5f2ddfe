"""The price of each call through a trunk, as the collector stores its record, and re-pricing a period.

Which leg went through which trunk, to which number: the dialplan marks a trunk attempt with the call
record's userfield ``trunk:<name>`` (``[sub-trunk-dial]``, ``[sub-dahdi-dial]`` in extensions.conf) and
Asterisk records the ``Dial`` it ran (``PJSIP/<number>@<trunk>``, ``DAHDI/g<N>/<number>``), so each attempt
of a failover is its own record, priced by the trunk that carried it: an attempt that was not answered
costs nothing, the one that was is priced by its trunk's table.

A record is priced by the table in force on the call's day (``appliance.billing.rates``), its number
classed by the one classifier (``appliance.site.numbering``).  A month's bundle (free minutes of a rate
line) is used up by the calls in the order they started.  A rate changed later never touches a priced
record; ``reprice`` prices a period again on purpose, audited.
"""

from __future__ import annotations

import datetime
import json
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import get_currency_precision
from peewee import fn

from appliance.billing import legs, rates
from appliance.model import audit
from appliance.model.database import database
from appliance.model.models import CallRecord, CostDay, Trunk
from appliance.site import localtime
from appliance.site.numbering import NumberPlan, classify

REPRICE_CHUNK = 2000


@dataclass(frozen=True)
class Price:
    """A leg's class and price: ``cost_minor`` in the currency's smallest unit, None when no rate line priced
    it (never 0: that would say free)."""

    number_class: str
    cost_minor: int | None
    currency: str
    free_seconds: int
    rate_key: str
    day: str  # the site's local day of the call ("2026-12-07"): where the cost reports count it


def cost_of(record: CallRecord) -> Decimal | None:
    """A priced record's cost as an amount (0.29 CNY is Decimal("0.29")); None when no rate priced it."""
    if record.cost_minor is None:
        return None
    return Decimal(record.cost_minor).scaleb(-get_currency_precision(record.currency or "CNY"))


def _month_bounds(day: datetime.date, zone: zoneinfo.ZoneInfo) -> tuple[str, str]:
    """The site's local month holding ``day``, as the record-time texts of its first and the next month's
    first midnight (what a CDR start is compared with)."""
    first = day.replace(day=1)
    following = (first + datetime.timedelta(days=32)).replace(day=1)
    return localtime.asterisk_day_start(first, zone), localtime.asterisk_day_start(following, zone)


class Pricer:
    """Prices a batch of records: each trunk's table per day, each number's class and each bundle's use in
    the month are looked up once per batch.  Days and months are the site's (its ``timezone``): a call at
    00:30 in Beijing is priced with that day's table and counted in that day, whatever the box's zone."""

    def __init__(self, plan: NumberPlan | None = None, zone: zoneinfo.ZoneInfo | None = None):
        self.plan = plan if plan is not None else NumberPlan.stored()
        self.zone = zone if zone is not None else localtime.site_zone()
        self._tables: dict[tuple[str, datetime.date], tuple[datetime.date | None, rates.Table]] = {}
        self._free_used: dict[tuple[str, str, str], int] = {}

    def day_of(self, start: str) -> datetime.date:
        """The site's local day of a record's start (Asterisk's text, in the box's zone)."""
        return datetime.date.fromisoformat(localtime.from_asterisk(start, self.zone)[:10])

    def _table(self, trunk: str, day: datetime.date) -> tuple[datetime.date | None, rates.Table]:
        key = (trunk, day)
        if key not in self._tables:
            start, lines = rates.table_in_force(trunk, day)
            self._tables[key] = (start, rates.Table(lines))
        return self._tables[key]

    def _used(self, trunk: str, rate_key: str, day: datetime.date) -> tuple[tuple[str, str, str], int]:
        """(its key, the bundle seconds the month's earlier calls of this trunk and line used: stored, then
        this batch's)."""
        first, following = _month_bounds(day, self.zone)
        key = (trunk, rate_key, first)
        if key not in self._free_used:
            r = CallRecord
            self._free_used[key] = (r.select(fn.SUM(r.free_seconds))
                                    .where((r.trunk == trunk) & (r.rate_key == rate_key) & (r.start >= first)
                                           & (r.start < following)).scalar() or 0)
        return key, self._free_used[key]

    def price(self, trunk: str, number: str, start: str, billsec: int) -> Price:
        """The price of a leg through ``trunk`` to ``number`` that started at ``start`` (record text)."""
        number_class = classify(number, self.plan).number_class.value
        day = self.day_of(start)
        table_start, table = self._table(trunk, day)
        line = table.line_for(number, number_class) if table_start else None
        if line is None:
            return Price(number_class, None, "", 0, "", day.isoformat())
        left, used_key = 0, None
        if line.free_minutes:
            used_key, used = self._used(trunk, line.key, day)
            left = line.free_minutes * 60 - used
        charge = rates.price(billsec, line, left)
        if used_key is not None:
            self._free_used[used_key] += charge.free_seconds
        minor = int(charge.cost.scaleb(get_currency_precision(charge.currency)))
        return Price(number_class, minor, charge.currency, charge.free_seconds, line.key, day.isoformat())


PRICE_COLUMNS = ("number_class", "cost_minor", "currency", "free_seconds", "rate_key")


def price_new_records(keys: Iterable[tuple[str, int]], pricer: Pricer | None = None) -> int:
    """Price the records of these (uniqueid, sequence) keys that went through a trunk and have no price yet
    (a replayed record keeps the one it has); in the caller's transaction.  Returns how many were priced."""
    keys = sorted(set(keys))
    priced = 0
    for begin in range(0, len(keys), 2000):
        rows = database.execute_sql(
            "SELECT id, trunk, number, start, billsec, extension FROM callrecord"
            " WHERE (uniqueid, sequence) IN (SELECT value ->> 0, CAST(value ->> 1 AS INTEGER) FROM json_each(?))"
            " AND trunk != '' AND number_class = '' ORDER BY start, id",
            (json.dumps(keys[begin:begin + 2000]),)).fetchall()
        if rows:
            pricer = pricer or Pricer()
            priced += _store_prices(rows, pricer)
    return priced


def _store_prices(rows: list[tuple[int, str, str, str, int, str]], pricer: Pricer) -> int:
    """Price ``(id, trunk, number, start, billsec, extension)`` records and add them to the daily roll-up."""
    updates = []
    sums: dict[tuple[str, str, str, str], list[int]] = {}
    for record_id, trunk, number, start, billsec, extension in rows:
        price = pricer.price(trunk, number, start, billsec)
        updates.append((price.number_class, price.cost_minor, price.currency, price.free_seconds, price.rate_key,
                        record_id))
        if billsec <= 0:
            continue
        day = price.day
        if price.cost_minor is None:
            keys = [("unpriced", "", "")]
        else:
            keys = [("extension", extension, price.currency), ("trunk", trunk, price.currency),
                    ("class", price.number_class, price.currency)]
        for dimension, key, currency in keys:
            total = sums.setdefault((dimension, day, key, currency), [0, 0, 0])
            total[0] += 1
            total[1] += billsec
            total[2] += price.cost_minor or 0
    cursor = database.cursor()
    cursor.executemany(f"UPDATE callrecord SET {', '.join(f'{c} = ?' for c in PRICE_COLUMNS)} WHERE id = ?", updates)
    cursor.executemany(
        "INSERT INTO costday (dimension, day, key, currency, calls, seconds, cost_minor) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (dimension, day, key, currency) DO UPDATE SET calls = costday.calls + excluded.calls,"
        " seconds = costday.seconds + excluded.seconds, cost_minor = costday.cost_minor + excluded.cost_minor",
        [(*key, *total) for key, total in sums.items()])
    return len(updates)


def _inbound_price(pricer: Pricer, trunk: str, start: str, before: int, billsec: int
                   ) -> tuple[int | None, str, str]:
    """(cost in minor units, currency, day) of one record of an inbound call: the charge for the channel's
    answered seconds so far less the charge for those before this record, so the records of one call add up
    to the price of its whole time (one fee, one rounding), however many records Asterisk split it into."""
    day = pricer.day_of(start)
    table_start, table = pricer._table(trunk, day)
    line = table.inbound if table_start else None
    if line is None:
        return None, "", day.isoformat()
    whole, earlier = rates.price(before + billsec, line), rates.price(before, line)
    minor = int((whole.cost - earlier.cost).scaleb(get_currency_precision(line.currency)))
    return minor, line.currency, day.isoformat()


def inbound_legs(records: Iterable[tuple[str, int, str]]) -> dict[tuple[str, int], str]:
    """Of ``(uniqueid, sequence, channel)`` records, those whose channel came in on a SIP trunk (the caller's
    channel is the trunk's endpoint, ``PJSIP/telco-0000002a``): their keys and that trunk."""
    trunks = {name for (name,) in Trunk.select(Trunk.name).tuples()}
    found = {}
    for uniqueid, sequence, channel in records:
        endpoint = legs.calling_endpoint(channel)
        if endpoint in trunks:
            found[(uniqueid, sequence)] = endpoint
    return found


def price_inbound_records(trunk_of: dict[tuple[str, int], str], pricer: Pricer | None = None) -> int:
    """Mark the records of ``trunk_of``'s (uniqueid, sequence) keys as inbound legs of the trunk it names,
    and price them where the trunk's table in force on the call's day has an ``inbound`` line; in the
    caller's transaction.  Records of one channel are priced in order of sequence (what the collector
    reads); a record already marked keeps what it has.  Returns how many were priced."""
    keys = sorted(trunk_of)
    priced = 0
    pricer = pricer or Pricer()
    sums: dict[tuple[str, str, str, str], list[int]] = {}
    for begin in range(0, len(keys), 2000):
        rows = database.execute_sql(
            "SELECT id, uniqueid, sequence, start, billsec FROM callrecord"
            " WHERE (uniqueid, sequence) IN (SELECT value ->> 0, CAST(value ->> 1 AS INTEGER) FROM json_each(?))"
            " AND inbound_trunk = '' ORDER BY uniqueid, sequence",
            (json.dumps(keys[begin:begin + 2000]),)).fetchall()
        for record_id, uniqueid, sequence, start, billsec in rows:
            trunk = trunk_of[(uniqueid, sequence)]
            before = database.execute_sql(
                "SELECT COALESCE(SUM(billsec), 0) FROM callrecord WHERE uniqueid = ? AND sequence < ?"
                " AND inbound_trunk = ?", (uniqueid, sequence, trunk)).fetchone()[0]
            minor, currency, day = _inbound_price(pricer, trunk, start, before, billsec)
            database.execute_sql("UPDATE callrecord SET inbound_trunk = ?, inbound_cost_minor = ?,"
                                 " inbound_currency = ? WHERE id = ?", (trunk, minor, currency, record_id))
            if minor is None or billsec <= 0:
                continue
            priced += 1
            total = sums.setdefault(("inbound", day, trunk, currency), [0, 0, 0])
            total[0] += 1 if before == 0 else 0  # a call counts once, however many records it has
            total[1] += billsec
            total[2] += minor
    database.cursor().executemany(
        "INSERT INTO costday (dimension, day, key, currency, calls, seconds, cost_minor) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (dimension, day, key, currency) DO UPDATE SET calls = costday.calls + excluded.calls,"
        " seconds = costday.seconds + excluded.seconds, cost_minor = costday.cost_minor + excluded.cost_minor",
        [(*key, *total) for key, total in sums.items()])
    return priced


def reprice(first_day: datetime.date, last_day: datetime.date, user: str) -> int:
    """Price every trunk leg that started from ``first_day`` to ``last_day`` (the site's local days,
    inclusive) again with the tables in force on their days, in one transaction, audited; returns how
    many records were priced.

    The bundles of the months touched are used again from the first call re-priced: calls before
    ``first_day`` in the same month keep their share."""
    zone = localtime.site_zone()
    first = localtime.asterisk_day_start(first_day, zone)
    after = localtime.asterisk_day_start(last_day + datetime.timedelta(days=1), zone)
    r = CallRecord
    in_period = (r.trunk != "") & (r.start >= first) & (r.start < after)
    with database.atomic():
        before = {"records": r.select().where(in_period & r.cost_minor.is_null(False)).count()}
        r.update(number_class="", cost_minor=None, currency="", free_seconds=0, rate_key="").where(in_period).execute()
        received = (r.start >= first) & (r.start < after) & (r.inbound_trunk != "")
        before["inbound_records"] = r.select().where(received & r.inbound_cost_minor.is_null(False)).count()
        r.update(inbound_trunk="", inbound_cost_minor=None, inbound_currency="").where(received).execute()
        CostDay.delete().where((CostDay.day >= first_day.isoformat()) & (CostDay.day <= last_day.isoformat())).execute()
        pricer = Pricer(zone=zone)
        priced = 0
        last_id, last_start = 0, ""
        while True:
            rows = list(r.select(r.id, r.trunk, r.number, r.start, r.billsec, r.extension)
                        .where(in_period & ((r.start > last_start) | ((r.start == last_start) & (r.id > last_id))))
                        .order_by(r.start, r.id).limit(REPRICE_CHUNK).tuples())
            if not rows:
                break
            priced += _store_prices(rows, pricer)
            last_id, last_start = rows[-1][0], rows[-1][3]
        inbound = 0
        last_id = 0
        while True:  # the inbound legs of the period, by the same tables
            batch = list(r.select(r.id, r.uniqueid, r.sequence, r.channel)
                         .where((r.start >= first) & (r.start < after) & (r.channel.startswith("PJSIP/"))
                                & (r.id > last_id)).order_by(r.id).limit(REPRICE_CHUNK).tuples())
            if not batch:
                break
            inbound += price_inbound_records(inbound_legs((u, q, c) for _, u, q, c in batch), pricer)
            last_id = batch[-1][0]
        audit.record(user, "reprice", "rates", f"{first_day.isoformat()}..{last_day.isoformat()}", before,
                     {"records": priced, "inbound_records": inbound})
    return priced
