"""The missed-call follow-up list: queue callers nobody answered, until the customer is reached.

A queue stay whose caller hung up while waiting (``abandoned``), whose wait ran out (``timeout``) or that
found no agent at all (``exitempty``), and a callback whose every try failed (``callback_failed``,
``appliance.callcenter.callbacks``) becomes an entry, with the caller's number, when and how long they
waited and their place in the queue when they left (queue_log's exit event).  Withheld numbers cannot be
called back and are left out.  Entries of one number in one queue show as one line with their count.

An agent *claims* a line (so two agents do not call the same customer), calls back, and the line closes
by itself when the customer is reached: an outbound call to one of the number's written forms answered
after the miss (``reached``), or the customer called in again and an agent of any queue answered
(``called_again``).  A line can also be closed by hand (``dismissed``, e.g. a wrong number); claims,
releases and closes are audited.

The list is derived from what the collector stored (``QueueCall``, ``QueueEvent``, ``CallRecord``):
``sync`` brings it up to date and runs before every read and after each collector round, so it is never
behind what the reports show.  It reads only the calls that entered since the last sync (less a margin for
calls the collector finishes late) and the few open lines: cheap at any history size.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import peewee

from appliance.callcenter import callbacks
from appliance.callcenter.history import number_forms
from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.model import audit
from appliance.model.database import database
from appliance.model.models import CallRecord, CollectorState, MissedCall, QueueCall, QueueEvent
from appliance.phonebook.numbers import dialable_forms, normalize
from appliance.site import localtime, stored

MISSED_OUTCOMES = ("abandoned", "timeout", "exitempty")
EXIT_EVENTS = ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY")  # their data: position|original position|wait
STATE_KEY = "missed-calls"  # CollectorState: the entry time read through
FIRST_LOOK_BACK = 7 * 86400  # the first sync (a site upgraded with a history) lists a week, not years
LATE_MARGIN = 6 * 3600  # a call is derived when it ends: one that waited long enters earlier than the mark
CLOSE_REASONS = ("called_again", "reached", "dismissed")


@dataclass
class MissedLine:
    """One customer's missed calls in one queue, as the list shows them."""

    queue: str
    number: str
    caller: str  # as Asterisk wrote it the last time
    first: int  # epoch seconds
    last: int
    count: int
    longest_wait: int
    position: int  # at the last miss
    status: str  # open, claimed (closed lines are listed by ``closed_lines``)
    claimed_by: str
    claimed: int | None


@dataclass
class ClosedLine:
    queue: str
    number: str
    count: int
    last: int
    closed: int
    reason: str
    closed_by: str


def _number_of(caller: str) -> str | None:
    """The caller's number as the phonebook writes it; None when there is nothing to call back."""
    try:
        return normalize(caller)
    except ValueError:
        return None


def _positions(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Where each caller was in the queue when they left it, from queue_log's exit events."""
    found: dict[tuple[str, str], int] = {}
    keys = list(keys)
    for start in range(0, len(keys), 400):
        chunk = keys[start:start + 400]
        rows = (QueueEvent.select(QueueEvent.callid, QueueEvent.queue, QueueEvent.data)
                .where(QueueEvent.callid.in_([k[0] for k in chunk]) & QueueEvent.event.in_(EXIT_EVENTS)).tuples())
        for callid, queue, data in rows:
            first = (data or "").split("|", 1)[0]
            found[(callid, queue)] = int(first) if first.isdigit() else 0
    return found


def _add_new_misses(now: int) -> None:
    state, _ = CollectorState.get_or_create(source=STATE_KEY, defaults={"position": 0})
    since = max(state.position - LATE_MARGIN, now - FIRST_LOOK_BACK) if state.position else now - FIRST_LOOK_BACK
    rows = list(QueueCall.select(QueueCall.callid, QueueCall.queue, QueueCall.caller, QueueCall.entered,
                                 QueueCall.outcome, QueueCall.wait_seconds)
                .where((QueueCall.entered >= since) & QueueCall.outcome.in_(MISSED_OUTCOMES)).tuples())
    known = set(MissedCall.select(MissedCall.callid, MissedCall.queue)
                .where(MissedCall.entered >= since).tuples())
    failed = set(callbacks.failed_since(since))  # callbacks given up: their callers are missed too
    if failed:
        rows += [(callid, queue, caller, entered, "callback_failed", wait) for callid, queue, caller, entered, _, wait
                 in QueueCall.select(QueueCall.callid, QueueCall.queue, QueueCall.caller, QueueCall.entered,
                                     QueueCall.outcome, QueueCall.wait_seconds)
                 .where(QueueCall.callid.in_(sorted({c for c, _ in failed})) & (QueueCall.outcome == "callback"))
                 .tuples() if (callid, queue) in failed]
    fresh = [row for row in rows if (row[0], row[1]) not in known]
    positions = _positions((row[0], row[1]) for row in fresh)
    new = []
    for callid, queue, caller, entered, outcome, wait in fresh:
        number = _number_of(caller)
        if number is None:
            continue
        new.append({"callid": callid, "queue": queue, "caller": caller, "number": number, "entered": entered,
                    "outcome": outcome, "wait_seconds": wait, "position": positions.get((callid, queue), 0)})
    for start in range(0, len(new), 200):
        MissedCall.insert_many(new[start:start + 200]).on_conflict_ignore().execute()
    newest = max((row[3] for row in rows), default=0)
    state.position = max(state.position, newest, since)
    state.save()


def _close_reached(now: int, country_code: str) -> None:
    """Close the open lines whose customer has since been reached, or called in and was answered."""
    open_rows = list(MissedCall.select(MissedCall.number, MissedCall.caller, peewee.fn.MIN(MissedCall.entered))
                     .where(MissedCall.status != "closed").group_by(MissedCall.number, MissedCall.caller).tuples())
    by_number: dict[str, tuple[int, set[str]]] = {}
    for number, caller, entered in open_rows:
        first, forms = by_number.get(number, (entered, set()))
        forms.update(number_forms(caller, country_code) or [caller])
        by_number[number] = (min(first, entered), forms)
    for number, (first, forms) in by_number.items():
        answered_in = (QueueCall.select(QueueCall.callid, QueueCall.entered + QueueCall.wait_seconds)
                       .where(QueueCall.caller.in_(sorted(forms)) & (QueueCall.entered > first)
                              & (QueueCall.outcome == "answered"))
                       .order_by(QueueCall.entered.desc()).limit(1).tuples().first())
        # an outbound leg to the number, by the CDR's dialled number (indexed); answered and talked
        reached = (CallRecord.select(CallRecord.linkedid, CallRecord.start)
                   .where(CallRecord.dst.in_(sorted(forms)) & (CallRecord.start >= localtime.asterisk_text(first))
                          & (CallRecord.answer != "") & (CallRecord.billsec > 0))
                   .order_by(CallRecord.start.desc()).limit(1).tuples().first())
        # a line closes only for misses before what reached the customer (a miss after it stays open), and
        # its close time is that call's, so the follow-up delay is the customer's wait, not the list's
        if reached is not None:
            moment = _asterisk_epoch(reached[1], now)
            _close(number, before=moment, reason="reached", by=reached[0], when=moment)
        if answered_in is not None:
            _close(number, before=answered_in[1], reason="called_again", by=answered_in[0], when=answered_in[1])


def _asterisk_epoch(text: str, fallback: int) -> int:
    """A CDR time (Asterisk's local time text) as epoch seconds."""
    try:
        return int(time.mktime(time.strptime(text[:19], localtime.ASTERISK_FORMAT)))
    except ValueError:
        return fallback


def _close(number: str, *, before: int, reason: str, by: str, when: int, queue: str | None = None) -> int:
    query = MissedCall.update(status="closed", closed=when, closed_reason=reason, closed_by=by).where(
        (MissedCall.number == number) & (MissedCall.status != "closed") & (MissedCall.entered < before))
    if queue is not None:
        query = query.where(MissedCall.queue == queue)
    return query.execute()


def sync(country_code: str | None = None, now: float | None = None) -> None:
    """Bring the list up to date with what the collector stored: new misses in, reached customers out.
    ``country_code``: the site's (read from its settings when not given), for the number's written forms."""
    moment = int(now if now is not None else time.time())
    with database.atomic():
        _add_new_misses(moment)
        _close_reached(moment, stored.setting("country_code") if country_code is None else country_code)


def open_lines(queues: Iterable[str] | None = None) -> list[MissedLine]:
    """The open and claimed lines, the longest-waiting customer (oldest first miss) first."""
    m = MissedCall
    # MIN(status): "claimed" sorts before "open", so a line claimed before its latest miss shows its claim
    query = (m.select(m.queue, m.number, peewee.fn.MIN(m.entered).alias("first"),
                      peewee.fn.MAX(m.entered).alias("last"), peewee.fn.COUNT(m.id).alias("count"),
                      peewee.fn.MAX(m.wait_seconds).alias("longest"), peewee.fn.MIN(m.status).alias("status"),
                      peewee.fn.MAX(m.claimed_by).alias("claimed_by"),
                      peewee.fn.MAX(m.claimed).alias("claimed"))
             .where(m.status != "closed").group_by(m.queue, m.number).order_by(peewee.SQL("first")))
    if queues is not None:
        query = query.where(m.queue.in_(list(queues)))
    lines = []
    for row in query.dicts():
        last = (m.select(m.caller, m.position).where((m.queue == row["queue"]) & (m.number == row["number"])
                                                     & (m.status != "closed"))
                .order_by(m.entered.desc()).limit(1).tuples().first())
        caller, position = last or (row["number"], 0)
        lines.append(MissedLine(queue=row["queue"], number=row["number"], caller=caller, first=row["first"],
                                last=row["last"], count=row["count"], longest_wait=row["longest"] or 0,
                                position=position, status=row["status"], claimed_by=row["claimed_by"] or "",
                                claimed=row["claimed"]))
    return lines


def closed_lines(since: int, queues: Iterable[str] | None = None, limit: int = 200) -> list[ClosedLine]:
    """Lines closed since ``since`` (epoch seconds), the latest first."""
    m = MissedCall
    query = (m.select(m.queue, m.number, peewee.fn.COUNT(m.id).alias("count"), peewee.fn.MAX(m.entered).alias("last"),
                      m.closed, m.closed_reason, m.closed_by)
             .where((m.status == "closed") & (m.closed >= since))
             .group_by(m.queue, m.number, m.closed, m.closed_reason, m.closed_by)
             .order_by(m.closed.desc()).limit(limit))
    if queues is not None:
        query = query.where(m.queue.in_(list(queues)))
    return [ClosedLine(queue=r["queue"], number=r["number"], count=r["count"], last=r["last"], closed=r["closed"],
                       reason=r["closed_reason"], closed_by=r["closed_by"]) for r in query.dicts()]


def _line(queue: str, number: str) -> peewee.ModelSelect:
    rows = MissedCall.select().where((MissedCall.queue == queue) & (MissedCall.number == number)
                                     & (MissedCall.status != "closed"))
    if not rows.exists():
        raise SiteError([Problem("number", Message(N_("no open missed call from %(number)s in queue %(queue)s"),
                                                   number=number, queue=queue))])
    return rows


def number_to_dial(number: str, country_code: str | None = None) -> str:
    """How a call back dials the customer: the number's most local form (national first), which is what
    outbound routes commonly take (``appliance.phonebook.numbers.dialable_forms``)."""
    forms = dialable_forms(number, stored.setting("country_code") if country_code is None else country_code)
    return forms[0] if forms else number


def claim(user: str, queue: str, number: str, now: float | None = None) -> None:
    """The user takes the line: the others see who calls the customer back.  Claiming one's own line again
    changes nothing."""
    with database.atomic():
        rows = _line(queue, number)
        if all(r.status == "claimed" and r.claimed_by == user for r in rows):
            return
        holders = {r.claimed_by for r in rows if r.status == "claimed" and r.claimed_by != user}
        if holders:
            raise SiteError([Problem("number", Message(N_("%(user)s already calls %(number)s back"),
                                                       user=sorted(holders)[0], number=number))])
        moment = int(now if now is not None else time.time())
        MissedCall.update(status="claimed", claimed_by=user, claimed=moment).where(
            MissedCall.id.in_([r.id for r in rows])).execute()
        audit.record(user, "claim", "missed_call", f"{queue}/{number}", None, {"queue": queue, "number": number})


def release(user: str, queue: str, number: str, *, override: bool = False) -> None:
    """Give the line back to the list (``override``: a supervisor releasing someone else's claim)."""
    with database.atomic():
        rows = _line(queue, number)
        holders = {r.claimed_by for r in rows if r.status == "claimed"}
        if holders - {user} and not override:
            raise SiteError([Problem("number", Message(N_("%(user)s holds this missed call, not you"),
                                                       user=sorted(holders)[0]))])
        MissedCall.update(status="open", claimed_by="", claimed=None).where(
            MissedCall.id.in_([r.id for r in rows])).execute()
        audit.record(user, "release", "missed_call", f"{queue}/{number}", {"claimed_by": sorted(holders)}, None)


def dismiss(user: str, queue: str, number: str, now: float | None = None) -> None:
    """Close the line by hand (a wrong number, a customer reached another way)."""
    moment = int(now if now is not None else time.time())
    with database.atomic():
        _line(queue, number)
        _close(number, before=moment + 1, reason="dismissed", by=user, when=moment, queue=queue)
        audit.record(user, "dismiss", "missed_call", f"{queue}/{number}", None, {"queue": queue, "number": number})


@dataclass
class MissedReport:
    """Per queue, over a period of miss times: how the follow-up went."""

    queue: str
    missed: int  # missed queue stays (withheld numbers not counted: they cannot be called back)
    customers: int  # distinct numbers among them
    reached: int  # stays closed by a call to the customer
    called_again: int  # stays closed by the customer calling in and being answered
    dismissed: int
    still_open: int
    median_follow_up_seconds: int | None  # from the miss to the call that closed it (reached or called again)


def report(start: datetime, end: datetime, queue: str | None = None) -> list[MissedReport]:
    """The follow-up of the misses that happened in [start, end), per queue (or of one queue)."""
    sync()
    m = MissedCall
    query = (m.select(m.queue, m.number, m.entered, m.status, m.closed_reason, m.closed)
             .where((m.entered >= int(start.timestamp())) & (m.entered < int(end.timestamp()))))
    if queue is not None:
        query = query.where(m.queue == queue)
    rows = query.tuples()
    per: dict[str, dict] = {}
    for queue, number, entered, status, reason, closed in rows:
        q = per.setdefault(queue, {"missed": 0, "numbers": set(), "reached": 0, "called_again": 0, "dismissed": 0,
                                   "open": 0, "delays": []})
        q["missed"] += 1
        q["numbers"].add(number)
        if status != "closed":
            q["open"] += 1
        else:
            q[reason if reason in CLOSE_REASONS else "dismissed"] += 1
            if reason in ("reached", "called_again") and closed is not None:
                q["delays"].append(max(0, closed - entered))
    out = []
    for queue in sorted(per):
        q = per[queue]
        delays = sorted(q["delays"])
        out.append(MissedReport(queue=queue, missed=q["missed"], customers=len(q["numbers"]), reached=q["reached"],
                                called_again=q["called_again"], dismissed=q["dismissed"], still_open=q["open"],
                                median_follow_up_seconds=delays[len(delays) // 2] if delays else None))
    return out


__all__ = ["CLOSE_REASONS", "MISSED_OUTCOMES", "ClosedLine", "MissedLine", "MissedReport", "claim", "closed_lines",
           "dismiss", "number_to_dial", "open_lines", "release", "report", "sync"]
