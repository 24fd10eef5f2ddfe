"""Queue callbacks as reported: asked for, completed, failed, and how long the caller waited to be reached.

The dialplan (``[queue-exit-N]``, ``[queue-callback-dial-N]`` in extensions.conf) writes its own lines in
queue_log, all under the id of the call that asked (queue_log's callid of the caller's stay):
``CALLBACKREQUEST`` (number to dial | position kept), one ``CALLBACKRESULT`` per try (try | Dial's status |
seconds answered) and ``CALLBACKFAILED`` when the last try failed.  The collector stores them with the
queue's other events; this module reads them back (``QueueEvent``'s event index).  A callback is
*completed* when a try was answered; its *time to callback* runs from the request to the moment the caller
answered (the try's end less its answered seconds).  Definitions: docs/reports.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from appliance.model.models import Queue, QueueCall, QueueEvent

REQUEST, RESULT, FAILED = "CALLBACKREQUEST", "CALLBACKRESULT", "CALLBACKFAILED"


@dataclass
class CallbackReport:
    queue: str
    offered: int  # callers who waited long enough to hear the offer (by the queue's current settings)
    requested: int
    completed: int
    failed: int  # every try failed: the caller is in the missed-call list
    pending: int  # still holding their place, or between tries
    tries: int  # calls placed to callers (each try once)
    median_seconds_to_callback: int | None
    max_seconds_to_callback: int | None


def _field(data: str, index: int) -> str:
    parts = (data or "").split("|")
    return parts[index] if len(parts) > index else ""


def report(start: datetime, end: datetime, queue: str | None = None) -> list[CallbackReport]:
    """Per queue, the callbacks asked for in [start, end)."""
    e = QueueEvent
    query = e.select(e.callid, e.queue, e.time).where(
        (e.event == REQUEST) & (e.time >= int(start.timestamp())) & (e.time < int(end.timestamp())))
    if queue is not None:
        query = query.where(e.queue == queue)
    requests = {(callid, q): when for callid, q, when in query.tuples()}
    outcomes: dict[tuple[str, str], dict] = {key: {"answered_at": None, "failed": False, "tries": 0}
                                             for key in requests}
    callids = sorted({callid for callid, _ in requests})
    for i in range(0, len(callids), 400):
        rows = e.select(e.callid, e.queue, e.time, e.event, e.data).where(
            e.callid.in_(callids[i:i + 400]) & e.event.in_((RESULT, FAILED))).tuples()
        for callid, q, when, event, data in rows:
            state = outcomes.get((callid, q))
            if state is None:
                continue
            if event == FAILED:
                state["failed"] = True
                continue
            state["tries"] += 1
            if _field(data, 1) == "ANSWER":
                answered = when - int(_field(data, 2) or 0) if _field(data, 2).isdigit() else when
                state["answered_at"] = answered if state["answered_at"] is None else min(state["answered_at"], answered)
    per: dict[str, dict] = {}

    def of(name: str) -> dict:
        return per.setdefault(name, {"offered": 0, "requested": 0, "completed": 0, "failed": 0, "pending": 0,
                                     "tries": 0, "delays": []})

    for name, count in _offered(start, end, queue).items():
        of(name)["offered"] = count
    for key, when in requests.items():
        q = of(key[1])
        state = outcomes[key]
        q["requested"] += 1
        q["tries"] += state["tries"]
        if state["answered_at"] is not None:
            q["completed"] += 1
            q["delays"].append(max(0, state["answered_at"] - when))
        elif state["failed"]:
            q["failed"] += 1
        else:
            q["pending"] += 1
    out = []
    for name in sorted(per):
        q = per[name]
        delays = sorted(q["delays"])
        # a queue that no longer offers callbacks still had its requests offered
        out.append(CallbackReport(queue=name, offered=max(q["offered"], q["requested"]), requested=q["requested"],
                                  completed=q["completed"], failed=q["failed"],
                                  pending=q["pending"], tries=q["tries"],
                                  median_seconds_to_callback=delays[len(delays) // 2] if delays else None,
                                  max_seconds_to_callback=delays[-1] if delays else None))
    return out


def _offered(start: datetime, end: datetime, queue: str | None) -> dict[str, int]:
    """Per queue offering callbacks now: its callers' stays in the period that waited at least the offer's
    delay (Asterisk writes no line when it plays the offer: this is who heard it at least once), and those
    who asked for a callback sooner (Asterisk takes the key at any time)."""
    offering = {q.number: q.callback_offer_seconds for q in Queue.select(Queue.number, Queue.callback_offer_seconds)
                .where(Queue.callback == True)}  # noqa: E712 (peewee's SQL comparison)
    if queue is not None:
        offering = {k: v for k, v in offering.items() if k == queue}
    counts: dict[str, int] = {}
    for number, delay in offering.items():
        c = QueueCall
        counts[number] = (c.select().where((c.queue == number) & (c.entered >= int(start.timestamp()))
                                           & (c.entered < int(end.timestamp()))
                                           & ((c.wait_seconds >= delay) | (c.outcome == "callback"))
                                           & c.outcome.not_in(("callback_call", "callback_lost", "waiting")))
                          .count())
    return {k: v for k, v in counts.items() if v}


def failed_since(since: int) -> list[tuple[str, str]]:
    """The (callid, queue) of the callbacks given up since ``since``: for the missed-call list."""
    return list(QueueEvent.select(QueueEvent.callid, QueueEvent.queue)
                .where((QueueEvent.event == FAILED) & (QueueEvent.time >= since)).tuples())


__all__ = ["CallbackReport", "failed_since", "report"]
