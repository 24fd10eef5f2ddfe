"""A caller's history, as the agent's screen pop shows it the moment a queue call rings.

Who calls (the phonebook contact, by the phonebook's own number rule, ``appliance.phonebook.numbers``),
their last contacts with the call center (when, which queues, who answered, how long, the disposition and
note the agent saved, the recording for those allowed to listen) and whether they gave up waiting today.

A *contact* is one call of the customer: the caller's channel (queue_log's callid) through every queue it
went to (a transfer from one queue to another is the same callid), and the legs Asterisk linked to it (the
call records' ``linkedid``).  Calls are read through the ``(caller, entered)`` index of the collected queue
calls, newest first, for each written form of the number (``+44 20 ...``, ``020 ...``, ``20 ...``): a few
index range scans whatever the size of the history (``benchmarks/history.py``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from appliance.model.models import CallNote, CallRecord, QueueCall
from appliance.phonebook.lookup import lookup
from appliance.phonebook.numbers import equivalents, normalize
from appliance.site import localtime

LIMIT = 5  # contacts shown in the pop
LEGS_READ = 50  # queue legs read for them (a contact through several queues has several)


@dataclass
class PastCall:
    callid: str
    linkedid: str
    time: int  # epoch seconds: when the caller entered the first queue
    queues: list[str]
    outcome: str  # answered when any queue's agent answered, else the last queue's outcome
    agent: str  # who answered (the last agent who did)
    wait_seconds: int
    talk_seconds: int
    disposition: str = ""
    note: str = ""
    recordings: list[str] = field(default_factory=list)  # relative to the recordings folder


@dataclass
class History:
    number: str  # as the phonebook writes it (normalised), or as given when it is no phone number
    contact: dict | None
    calls: list[PastCall]
    abandoned_today: int  # calls of today the caller hung up on while waiting
    phone_number: bool = True  # False: no number to recognise the caller by (withheld, "anonymous")

    def as_dict(self) -> dict:
        return asdict(self)


def number_forms(number: str, country_code: str = "") -> list[str]:
    """Every way Asterisk may have written this caller's number in the stored calls: the phonebook's
    equivalent forms, and ``00`` for a leading ``+``."""
    try:
        forms = equivalents(normalize(number), country_code)
    except ValueError:  # "anonymous", "unknown", empty: no caller to recognise, not one history for them all
        return []
    forms |= {"00" + f[1:] for f in forms if f.startswith("+")}
    return sorted(forms)


def caller_history(number: str, country_code: str = "", *, exclude: str = "", limit: int = LIMIT,
                   recordings_dir: Path | None = None, now: float | None = None) -> History:
    """The history of the caller on ``number``: the contact, the last ``limit`` contacts (``exclude``: the
    call ringing now, by its callid), today's abandoned calls.  ``recordings_dir``: the recordings folder,
    given only for a reader allowed to listen (None: no recording is named)."""
    forms = number_forms(number, country_code)
    try:
        shown = normalize(number)
    except ValueError:
        shown = number
    if not forms:
        return History(shown, None, [], 0, phone_number=False)
    # one backward range scan of the (caller, entered) index per written form, merged: SQLite reads an IN
    # list through the index but then sorts all of the caller's calls, thousands for a busy switchboard
    legs = sorted((leg for form in forms for leg in
                   QueueCall.select().where((QueueCall.caller == form) & (QueueCall.callid != exclude))
                   .order_by(QueueCall.entered.desc()).limit(LEGS_READ)),
                  key=lambda c: c.entered, reverse=True)[:LEGS_READ]
    by_call: dict[str, list[QueueCall]] = {}
    for leg in legs:
        if leg.callid in by_call or len(by_call) < limit:
            by_call.setdefault(leg.callid, []).append(leg)
    callids = list(by_call)
    linked = dict(CallRecord.select(CallRecord.uniqueid, CallRecord.linkedid)
                  .where(CallRecord.uniqueid.in_(callids)).tuples()) if callids else {}
    notes = {n.callid: n for n in CallNote.select().where(CallNote.callid.in_(callids))} if callids else {}
    calls: list[PastCall] = []
    merged: dict[str, PastCall] = {}  # by linkedid: legs of one contact that reached a queue twice
    for callid in callids:
        legs_of = sorted(by_call[callid], key=lambda c: c.entered)
        answered = [c for c in legs_of if c.outcome == "answered"]
        note = notes.get(callid)
        linkedid = linked.get(callid) or callid
        call = PastCall(callid=callid, linkedid=linkedid, time=legs_of[0].entered,
                        queues=[c.queue for c in legs_of],
                        outcome="answered" if answered else legs_of[-1].outcome,
                        agent=answered[-1].agent if answered else "",
                        wait_seconds=sum(c.wait_seconds for c in legs_of),
                        talk_seconds=sum(c.talk_seconds for c in legs_of),
                        disposition=note.disposition if note else "", note=note.note if note else "",
                        recordings=_recordings(recordings_dir, callid, legs_of[0].entered))
        earlier = merged.get(linkedid)
        if earlier is None:
            merged[linkedid] = call
            calls.append(call)
        else:  # another leg of the same contact: one entry
            earlier.queues = [*call.queues, *earlier.queues]
            earlier.time = min(earlier.time, call.time)
            earlier.talk_seconds += call.talk_seconds
            earlier.wait_seconds += call.wait_seconds
            earlier.agent = earlier.agent or call.agent
            earlier.outcome = "answered" if "answered" in (earlier.outcome, call.outcome) else earlier.outcome
            earlier.disposition = earlier.disposition or call.disposition
            earlier.note = "\n".join(n for n in (earlier.note, call.note) if n)
            earlier.recordings += call.recordings
    start, _end = localtime.today(datetime.fromtimestamp(now or time.time(), UTC))
    abandoned = sum(QueueCall.select().where((QueueCall.caller == form) & (QueueCall.entered >= int(start.timestamp()))
                                             & (QueueCall.outcome == "abandoned")).count() for form in forms)
    return History(shown, lookup(number, country_code), calls, abandoned)


def _recordings(folder: Path | None, callid: str, entered: int) -> list[str]:
    """The call's recordings (``YYYY/MM/DD/<callid>-*.wav``, dated in the site's zone as the dialplan names
    them; the next day's folder too, for a call that waited past midnight)."""
    if folder is None:
        return []
    zone = localtime.site_zone()
    found: list[str] = []
    for epoch in (entered, entered + 86400):
        day = localtime.local_text(epoch, zone, "%Y/%m/%d")
        found += sorted(f"{day}/{p.name}" for p in (folder / day).glob(f"{callid}-*.wav"))
        if found:
            break
    return found
