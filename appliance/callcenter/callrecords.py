"""Call records as a user searches them: one call per Asterisk ``linkedid``, its legs, queue stays and
recordings, found by number, extension, queue, trunk, outcome, day range and cost.

The collector copies every CDR row (a *leg*: one channel's part of a call) into ``CallRecord``; a call
that went IVR → queue → agent, or out through a failed trunk and then the backup, is several legs that
share the ``linkedid`` of the channel that started it.  The search finds the calls with at least one leg
matching every given filter and shows each as a summary (first leg's caller, the number dialled, the
outcome of the best leg, talk time, the sum of the legs' costs); a call's page shows every leg, the
queue stays (``QueueCall``) and queue events (``QueueEvent``, whose ``callid`` is a leg's ``uniqueid``)
and its recordings (the files MixMonitor named by a leg's ``uniqueid``, in the folder of the site-local
day the call started).

Days are the site's local days (``appliance.site.localtime``); a CDR's times are Asterisk's (the box's)
local time and are compared as such.  Costs are filtered in each currency's own minor unit.  Numbers are
matched exactly, or by prefix with a trailing ``*``; the text is bound as a query parameter, never part
of the SQL.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import tarfile
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import peewee
from babel.numbers import get_currency_precision

from appliance.billing.reports import amount
from appliance.callcenter import recordings
from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.model import audit
from appliance.model.models import CallRecord, QueueCall, QueueEvent
from appliance.site import localtime

#: The outcomes Asterisk gives a CDR leg (its ``disposition``), as the search offers them.
OUTCOMES = {"ANSWERED": N_("answered"), "NO ANSWER": N_("no answer"), "BUSY": N_("busy"),
            "FAILED": N_("failed"), "CONGESTION": N_("congestion")}
#: How many calls one page shows at most (the console's pages and the API's ``limit``).
MAX_PAGE = 500
#: How many calls a CSV export or a recordings archive holds at most: a search narrows a larger set.
MAX_EXPORT = 100_000
MAX_ARCHIVE_FILES = 5_000
#: The search's fields, as a form or a query string names them (``parse_search``).
FILTERS = ("number", "extension", "queue", "trunk", "outcome", "from", "to", "min_cost", "max_cost")
_NUMBER = re.compile(r"^[0-9+*#]{1,32}\*?$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Search:
    """What the user looks for; every field optional ("" or None: no filter)."""

    number: str = ""  # caller, called or dialled number; a trailing * matches a prefix
    extension: str = ""
    queue: str = ""
    trunk: str = ""
    outcome: str = ""  # one of OUTCOMES
    first_day: datetime.date | None = None
    last_day: datetime.date | None = None
    min_cost: Decimal | None = None  # in the currency's major unit (yuan, dollars)
    max_cost: Decimal | None = None

    def described(self) -> dict[str, str]:
        """The filters given, for an audit row and an export's index."""
        return {name: str(value) for name, value in self.__dict__.items() if value not in ("", None)}


@dataclass
class Leg:
    uniqueid: str
    start: str  # site-local time
    answer: str
    end: str
    src: str
    dst: str
    channel: str
    dstchannel: str
    lastapp: str
    outcome: str
    duration: int
    billsec: int
    extension: str
    trunk: str
    number: str
    number_class: str
    cost: Decimal | None
    currency: str
    # the charge for receiving the call, where the trunk it came in on charges for that (None: none)
    inbound_trunk: str = ""
    inbound_cost: Decimal | None = None
    inbound_currency: str = ""


@dataclass
class Call:
    """One call: the summary a search shows, its legs in order."""

    linkedid: str
    start: str  # site-local
    caller: str
    called: str
    outcome: str
    talk_seconds: int
    total_seconds: int
    extension: str
    trunk: str
    number_class: str
    cost: Decimal | None
    currency: str
    legs: list[Leg] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)


@dataclass
class QueueStay:
    queue: str
    entered: str  # site-local
    outcome: str
    wait_seconds: int
    talk_seconds: int
    agent: str


@dataclass
class Event:
    time: str  # site-local
    queue: str
    agent: str
    event: str
    data: str


@dataclass
class CallDetail:
    call: Call
    stays: list[QueueStay]
    events: list[Event]
    recordings: list[recordings.Recording]


# ---------------------------------------------------------------- reading the user's filters


def parse_search(args: dict[str, str]) -> Search:
    """A ``Search`` from form or query fields (all text); SiteError naming each field that is wrong."""
    problems: list[Problem] = []

    def text(name: str, pattern: re.Pattern, words: str) -> str:
        value = (args.get(name) or "").strip()
        if value and not pattern.match(value):
            problems.append(Problem(name, Message(N_("%(value)s is not allowed here: use %(words)s"),
                                                  value=repr(value[:40]), words=Message(words))))
            return ""
        return value

    def day(name: str) -> datetime.date | None:
        value = (args.get(name) or "").strip()
        if not value:
            return None
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            problems.append(Problem(name, Message(N_("'%(value)s' is not a date (YYYY-MM-DD)"), value=value[:20])))
            return None

    def money(name: str) -> Decimal | None:
        value = (args.get(name) or "").strip()
        if not value:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = Decimal(-1)
        if not number.is_finite() or number < 0:
            problems.append(Problem(name, Message(N_("'%(value)s' is not an amount of 0 or more"), value=value[:20])))
            return None
        return number

    outcome = (args.get("outcome") or "").strip().upper()
    if outcome and outcome not in OUTCOMES:
        problems.append(Problem("outcome", Message(N_("use one of %(choices)s"), choices=", ".join(OUTCOMES))))
        outcome = ""
    search = Search(
        number=text("number", _NUMBER, N_("digits, + * #, and a final * for a prefix")),
        extension=text("extension", _NUMBER, N_("digits")),
        queue=text("queue", _NAME, N_("a queue's number or name")),
        trunk=text("trunk", _NAME, N_("a trunk's name")),
        outcome=outcome, first_day=day("from"), last_day=day("to"),
        min_cost=money("min_cost"), max_cost=money("max_cost"))
    if search.first_day and search.last_day and search.last_day < search.first_day:
        problems.append(Problem("to", N_("the last day comes before the first")))
    if problems:
        raise SiteError(problems)
    return search


# ---------------------------------------------------------------- the query


def _matches(column: peewee.Field, number: str) -> peewee.Expression:
    """``column`` equals ``number``, or starts with it when it ends in ``*`` (a range: the index serves it)."""
    if number.endswith("*") and len(number) > 1:
        stem = number[:-1]
        return (column >= stem) & (column < stem + "\U0010ffff")
    return column == number


def _currencies() -> list[str]:
    return [c for (c,) in CallRecord.select(CallRecord.currency).where(CallRecord.currency != "")
            .distinct().tuples()]


def _conditions(search: Search, zone: zoneinfo.ZoneInfo) -> list[peewee.Expression]:
    """The legs that match: each filter one condition on a leg (the call matches through any leg)."""
    conditions: list[peewee.Expression] = []
    if search.number:
        conditions.append(_matches(CallRecord.src, search.number) | _matches(CallRecord.dst, search.number)
                          | _matches(CallRecord.number, search.number))
    if search.extension:
        conditions.append((CallRecord.extension == search.extension) | (CallRecord.src == search.extension)
                          | (CallRecord.dst == search.extension))
    if search.queue:
        stays = QueueCall.select(QueueCall.callid).where(QueueCall.queue == search.queue)
        conditions.append(CallRecord.uniqueid.in_(stays) | CallRecord.linkedid.in_(stays))
    if search.trunk:
        conditions.append(CallRecord.trunk == search.trunk)
    if search.outcome:
        conditions.append(CallRecord.disposition == search.outcome)
    if search.first_day:
        conditions.append(CallRecord.start >= localtime.asterisk_day_start(search.first_day, zone))
    if search.last_day:
        conditions.append(CallRecord.start < localtime.asterisk_day_start(
            search.last_day + datetime.timedelta(days=1), zone))
    for bound, compare in ((search.min_cost, "min"), (search.max_cost, "max")):
        if bound is None:
            continue
        per_currency = None
        for currency in _currencies():
            minor = int((bound.scaleb(get_currency_precision(currency))).to_integral_value())
            limit = CallRecord.cost_minor >= minor if compare == "min" else CallRecord.cost_minor <= minor
            term = (CallRecord.currency == currency) & limit
            per_currency = term if per_currency is None else per_currency | term
        conditions.append(per_currency if per_currency is not None else peewee.SQL("0 = 1"))
    return conditions


def _matching_calls(search: Search, zone: zoneinfo.ZoneInfo) -> peewee.SelectQuery:
    """The linkedids of the matching calls with their first start, newest first."""
    query = CallRecord.select(CallRecord.linkedid, peewee.fn.MIN(CallRecord.start).alias("first"))
    for condition in _conditions(search, zone):
        query = query.where(condition)
    return query.group_by(CallRecord.linkedid).order_by(peewee.SQL("first").desc(), CallRecord.linkedid.desc())


def search_calls(search: Search, limit: int = 50, offset: int = 0,
                 zone: zoneinfo.ZoneInfo | None = None) -> tuple[list[Call], int]:
    """The page of calls matching ``search`` (newest first) and how many match in all.

    One grouped query gives both: the total rides on each row of the page as a window count over the
    groups (``COUNT(*) OVER ()``), so the legs are grouped once, not once to count and again for the page.
    Only a page past the end (no rows) asks for the count alone."""
    zone = zone or localtime.site_zone()
    limit = max(1, min(limit, MAX_PAGE))
    matching = _matching_calls(search, zone)
    total_column = peewee.fn.COUNT(peewee.SQL("*")).over().alias("total")
    rows = list(matching.select_extend(total_column).limit(limit).offset(max(0, offset)).tuples())
    total = rows[0][2] if rows else (matching.count() if offset > 0 else 0)
    return _calls([linkedid for linkedid, _first, _total in rows], zone), total


def _calls(ids: list[str], zone: zoneinfo.ZoneInfo) -> list[Call]:
    """The calls ``ids`` with every leg (not only the matching ones), in the order of ``ids``."""
    legs: dict[str, list[CallRecord]] = {linkedid: [] for linkedid in ids}
    for start in range(0, len(ids), 500):  # SQLite's bound parameters: a page at a time
        chunk = ids[start:start + 500]
        for row in CallRecord.select().where(CallRecord.linkedid.in_(chunk)).order_by(CallRecord.start,
                                                                                       CallRecord.id):
            legs[row.linkedid].append(row)
    queues = _queues_of(ids)
    return [_summary(linkedid, rows, zone, queues.get(linkedid, [])) for linkedid, rows in legs.items() if rows]


def _queues_of(ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        uniqueids = CallRecord.select(CallRecord.uniqueid, CallRecord.linkedid).where(CallRecord.linkedid.in_(chunk))
        owner = {uniqueid: linkedid for uniqueid, linkedid in uniqueids.tuples()}
        for callid, queue in (QueueCall.select(QueueCall.callid, QueueCall.queue)
                              .where(QueueCall.callid.in_(list(owner) or [""])).order_by(QueueCall.entered).tuples()):
            names = found.setdefault(owner[callid], [])
            if queue not in names:
                names.append(queue)
    return found


def _leg(row: CallRecord, zone: zoneinfo.ZoneInfo) -> Leg:
    return Leg(uniqueid=row.uniqueid, start=localtime.from_asterisk(row.start, zone),
               answer=localtime.from_asterisk(row.answer, zone) if row.answer else "",
               end=localtime.from_asterisk(row.end, zone) if row.end else "", src=row.src, dst=row.dst,
               channel=row.channel, dstchannel=row.dstchannel, lastapp=row.lastapp, outcome=row.disposition,
               duration=row.duration, billsec=row.billsec, extension=row.extension, trunk=row.trunk,
               number=row.number, number_class=row.number_class,
               cost=amount(row.cost_minor, row.currency) if row.cost_minor is not None and row.currency else None,
               currency=row.currency, inbound_trunk=row.inbound_trunk,
               inbound_cost=(amount(row.inbound_cost_minor, row.inbound_currency)
                             if row.inbound_cost_minor is not None and row.inbound_currency else None),
               inbound_currency=row.inbound_currency)


def _summary(linkedid: str, rows: list[CallRecord], zone: zoneinfo.ZoneInfo, queues: list[str]) -> Call:
    legs = [_leg(row, zone) for row in rows]
    first = legs[0]
    answered = [leg for leg in legs if leg.outcome == "ANSWERED"]
    # what the call cost: its outbound legs' prices and the charges for receiving it, in one currency
    charges = [(leg.cost, leg.currency) for leg in legs if leg.cost is not None]
    charges += [(leg.inbound_cost, leg.inbound_currency) for leg in legs if leg.inbound_cost is not None]
    currencies = {currency for _, currency in charges}
    cost = sum((value for value, _ in charges), Decimal(0)) if len(currencies) == 1 else None
    outbound = next((leg for leg in legs if leg.trunk), None)
    return Call(linkedid=linkedid, start=first.start, caller=first.src,
                called=(outbound.number if outbound and outbound.number else first.dst),
                outcome="ANSWERED" if answered else (legs[-1].outcome or first.outcome),
                talk_seconds=max((leg.billsec for leg in legs), default=0),
                total_seconds=max((leg.duration for leg in legs), default=0),
                extension=next((leg.extension for leg in legs if leg.extension), ""),
                trunk=next((leg.trunk for leg in answered if leg.trunk), outbound.trunk if outbound else ""),
                number_class=next((leg.number_class for leg in legs if leg.number_class), ""),
                cost=cost, currency=currencies.pop() if len(currencies) == 1 else "", legs=legs, queues=queues)


def call_detail(linkedid: str, recordings_dir: Path | None,
                zone: zoneinfo.ZoneInfo | None = None) -> CallDetail | None:
    """One call with its legs, queue stays, queue events and recordings; None when there is no such call."""
    zone = zone or localtime.site_zone()
    calls = _calls([linkedid], zone)
    if not calls:
        return None
    call = calls[0]
    uniqueids = {leg.uniqueid for leg in call.legs} | {linkedid}
    stays = [QueueStay(queue=s.queue, entered=localtime.local_text(s.entered, zone), outcome=s.outcome,
                       wait_seconds=s.wait_seconds, talk_seconds=s.talk_seconds, agent=s.agent)
             for s in QueueCall.select().where(QueueCall.callid.in_(list(uniqueids))).order_by(QueueCall.entered)]
    events = [Event(time=localtime.local_text(e.time, zone), queue=e.queue, agent=e.agent, event=e.event,
                    data=e.data)
              for e in QueueEvent.select().where(QueueEvent.callid.in_(list(uniqueids)))
              .order_by(QueueEvent.time, QueueEvent.id)]
    return CallDetail(call=call, stays=stays, events=events,
                      recordings=_recordings_of([call], recordings_dir) if recordings_dir else [])


def _recordings_of(calls: Iterable[Call], folder: Path) -> list[recordings.Recording]:
    """The recordings of ``calls``: in the folder of each call's (site-local) start day and the next (a
    call that began before midnight), named by one of its legs' uniqueids."""
    wanted: dict[str, set[str]] = {}
    for call in calls:
        start = datetime.date.fromisoformat(call.start[:10])
        for d in (start, start + datetime.timedelta(days=1)):
            wanted.setdefault(d.isoformat(), set()).update(leg.uniqueid for leg in call.legs)
    found: list[recordings.Recording] = []
    for day, uniqueids in sorted(wanted.items()):
        found.extend(r for r in recordings.list_recordings(folder, day) if r.uniqueid in uniqueids)
    return sorted(found, key=lambda r: (r.day, r.uniqueid, r.who))


# ---------------------------------------------------------------- exports

CSV_COLUMNS = ("start", "call", "from", "to", "outcome", "talk_seconds", "total_seconds", "extension", "queues",
               "trunk", "class", "cost", "currency", "legs")


def _csv_row(call: Call) -> list[str]:
    return [call.start, call.linkedid, call.caller, call.called, call.outcome, str(call.talk_seconds),
            str(call.total_seconds), call.extension, " ".join(call.queues), call.trunk, call.number_class,
            "" if call.cost is None else str(call.cost), call.currency, str(len(call.legs))]


def _all_calls(search: Search, zone: zoneinfo.ZoneInfo, most: int) -> Iterable[Call]:
    """Every matching call, newest first, at most ``most``, read a page at a time."""
    matching = _matching_calls(search, zone)
    done = 0
    while done < most:
        ids = [linkedid for linkedid, _first in matching.limit(min(MAX_PAGE, most - done)).offset(done).tuples()]
        if not ids:
            return
        yield from _calls(ids, zone)
        done += len(ids)


def export_csv(search: Search, zone: zoneinfo.ZoneInfo | None = None) -> str:
    """The matching calls (at most ``MAX_EXPORT``) as CSV text, one line per call, times site-local."""
    zone = zone or localtime.site_zone()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for call in _all_calls(search, zone, MAX_EXPORT):
        writer.writerow(_csv_row(call))
    return out.getvalue()


def export_recordings(search: Search, recordings_dir: Path, user: str, into: Path,
                      zone: zoneinfo.ZoneInfo | None = None) -> int:
    """Write the recordings of the matching calls into the archive ``into`` (.tar.gz) with an
    ``index.csv`` (each file with its call's summary); audited as one export naming the search and the
    files.  Returns how many recordings it holds; refuses a search with more than ``MAX_ARCHIVE_FILES``."""
    zone = zone or localtime.site_zone()
    calls = list(_all_calls(search, zone, MAX_EXPORT))
    by_uniqueid: dict[str, Call] = {}
    for call in calls:
        for leg in call.legs:
            by_uniqueid.setdefault(leg.uniqueid, call)
    found = _recordings_of(calls, recordings_dir)
    if len(found) > MAX_ARCHIVE_FILES:
        raise SiteError([Problem("search", Message(
            N_("%(count)s recordings match: narrow the search to %(most)s or fewer"), count=len(found),
            most=MAX_ARCHIVE_FILES))])
    index = io.StringIO()
    writer = csv.writer(index, lineterminator="\r\n")
    writer.writerow(("file", "seconds", *CSV_COLUMNS))
    for rec in found:
        writer.writerow((rec.path, f"{rec.seconds:g}", *_csv_row(by_uniqueid[rec.uniqueid])))
    data = index.getvalue().encode()
    with tarfile.open(into, "w:gz") as archive:
        entry = tarfile.TarInfo("index.csv")
        entry.size = len(data)
        archive.addfile(entry, io.BytesIO(data))
        for rec in found:
            archive.add(str(recordings.resolve(recordings_dir, rec.path)), arcname=f"recordings/{rec.path}")
    audit.record(user, "export", "recording", f"{len(found)} recordings", None,
                 {"search": search.described(), "files": [rec.path for rec in found]})
    return len(found)


__all__ = ["CSV_COLUMNS", "FILTERS", "Call", "CallDetail", "Event", "Leg", "MAX_ARCHIVE_FILES", "MAX_EXPORT",
           "MAX_PAGE", "OUTCOMES", "QueueStay", "Search", "call_detail", "export_csv", "export_recordings",
           "parse_search", "search_calls"]
