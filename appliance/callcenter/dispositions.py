"""Dispositions (wrap-up codes) and notes the agent saves for a queue call, and the pause that waits for them.

A queue lists its dispositions (``Queue.dispositions``); the agent chooses one and writes a note on their
page, during the call or after it.  They are stored against the call (``CallNote``, by the caller's
uniqueid, queue_log's callid) and reported per queue and agent (``disposition_report``).

With ``disposition_required``, Asterisk itself pauses the agent's membership in that queue with the reason
``disposition`` when the call ends (a hangup handler in extensions.conf; unless the disposition was already
saved, which the ``disposition`` FastAGI script tells it), so the queue offers them no call: the pause is
there before the next caller could be offered, whatever the console does.  Saving the disposition unpauses
that membership, and only a pause for that reason: an agent who paused for lunch stays paused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import peewee

from appliance.asterisk.ami import Ami, AmiError
from appliance.callcenter import webhooks
from appliance.callcenter.agents import interface
from appliance.callcenter.live import parse_event_list
from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.model import audit
from appliance.model.models import CallNote, Queue, QueueCall, utcnow

PAUSE_REASON = "disposition"
CALLID_RE = re.compile(r"^[0-9]{1,20}\.[0-9]{1,10}$")
NOTE_MAX = 2000


def names(queue: Queue) -> list[str]:
    return [d["name"] for d in queue.dispositions or []]


def of_queue(number: str) -> tuple[list[str], bool]:
    """The queue's dispositions and whether one is required (none, False: no such queue)."""
    queue = Queue.get_or_none(Queue.number == number)
    return (names(queue), bool(queue.disposition_required)) if queue else ([], False)


def save(user: str, extension: str, callid: str, queue_number: str, disposition: str, note: str,
         linkedid: str = "") -> str:
    """Store the disposition and note of the call ``callid`` in ``queue_number``, answered on ``extension``
    (then ``release`` the agent's pause for it); the queue's number.  Refused with the field at fault: an
    unknown queue, a disposition the queue does not list, a missing one the queue requires, an overlong
    note."""
    problems = []
    callid, linkedid, disposition = callid.strip(), linkedid.strip(), disposition.strip()
    if not CALLID_RE.match(callid):
        problems.append(Problem("call", N_("no call is chosen: save the disposition from the call's pop")))
    if linkedid and not CALLID_RE.match(linkedid):
        linkedid = ""
    queue = Queue.get_or_none(Queue.number == queue_number.strip())
    if queue is None:
        raise SiteError([*problems, Problem("queue", Message(N_("no queue %(number)s"), number=queue_number))])
    if disposition and disposition not in names(queue):
        problems.append(Problem("disposition", Message(N_("queue %(number)s has no disposition %(name)s"),
                                                       number=queue.number, name=disposition)))
    if not disposition and queue.disposition_required:
        problems.append(Problem("disposition", Message(N_("queue %(number)s needs a disposition for every call"),
                                                       number=queue.number)))
    if len(note) > NOTE_MAX:
        problems.append(Problem("note", Message(N_("a note holds at most %(count)s characters"), count=NOTE_MAX)))
    if problems:
        raise SiteError(problems)
    before = CallNote.get_or_none(CallNote.callid == callid)
    old = {"disposition": before.disposition, "note": before.note} if before else None
    CallNote.insert(callid=callid, linkedid=linkedid or (before.linkedid if before else ""), queue=queue.number,
                    agent=extension, disposition=disposition, note=note, user=user, saved=utcnow()).on_conflict(
        conflict_target=[CallNote.callid],
        update={CallNote.queue: queue.number, CallNote.agent: extension, CallNote.disposition: disposition,
                CallNote.note: note, CallNote.user: user, CallNote.saved: utcnow()}).execute()
    audit.record(user, "disposition", "call", callid, old,
                 {"queue": queue.number, "disposition": disposition, "note": note})
    webhooks.record_disposition(callid, linkedid, str(queue.number), extension, disposition, note)  # when set up
    return str(queue.number)


def release(ami: Ami, extension: str, queue_number: str) -> bool:
    """Unpause ``extension`` in the queue when it is paused there waiting for a disposition."""
    member = interface(extension)
    try:
        status = parse_event_list(ami.action("QueueStatus", Queue=queue_number, Member=member).response)
        waiting = [e for e in status if e.get("Event") == "QueueMember" and e.get("Location") == member
                   and e.get("Paused") == "1" and e.get("PausedReason") == PAUSE_REASON]
        if not waiting:
            return False
        ami.action("QueuePause", Interface=member, Queue=queue_number, Paused="false", Reason=PAUSE_REASON)
    except AmiError as error:
        refused = Message(N_("saved, but Asterisk did not take the agent back: %(error)s"), error=str(error))
        raise SiteError([Problem("disposition", refused)]) from None
    return True


def notes_of(callids: list[str]) -> dict[str, CallNote]:
    """The saved notes of these calls (by callid: the caller's uniqueid, a call record's ``uniqueid``)."""
    return {n.callid: n for n in CallNote.select().where(CallNote.callid.in_(callids))} if callids else {}


def saved(callid: str) -> bool:
    """Whether a disposition is stored for the call: the hangup handler then pauses nobody."""
    return CallNote.select().where((CallNote.callid == callid) & (CallNote.disposition != "")).exists()


@dataclass(frozen=True)
class DispositionCount:
    queue: str
    agent: str
    disposition: str
    calls: int


def disposition_report(start: datetime, end: datetime, queue: str | None = None) -> list[DispositionCount]:
    """Answered calls of the period (by the time the caller entered the queue) per queue, agent and
    disposition; calls with no disposition saved count under ""."""
    lo, hi = int(start.timestamp()), int(end.timestamp())
    note = CallNote.alias()
    disposition = peewee.fn.COALESCE(note.disposition, "")
    query = (QueueCall.select(QueueCall.queue, QueueCall.agent, disposition.alias("disposition"),
                              peewee.fn.COUNT(QueueCall.id).alias("calls"))
             .join(note, peewee.JOIN.LEFT_OUTER,
                   on=((note.callid == QueueCall.callid) & (note.queue == QueueCall.queue)))
             .where((QueueCall.entered >= lo) & (QueueCall.entered < hi) & (QueueCall.outcome == "answered"))
             .group_by(QueueCall.queue, QueueCall.agent, disposition)
             .order_by(QueueCall.queue, QueueCall.agent, disposition))
    if queue:
        query = query.where(QueueCall.queue == queue)
    return [DispositionCount(q, a, d, n) for q, a, d, n in query.tuples()]
