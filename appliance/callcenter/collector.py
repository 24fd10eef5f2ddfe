"""The event collector: Asterisk's queue_log and CDR database, copied into Linebox's SQLite.

Idempotent by construction, so restarting the collector or Asterisk
loses nothing and duplicates nothing:

* queue_log is read from the offset stored for that file, only whole lines,
  and every line is inserted with INSERT OR IGNORE on a unique index over
  all its fields; the file is identified by its device, inode and first
  line, so a rotated file, or one made again in a new folder or in place
  (``make run`` starts each Asterisk in fresh folders, and a freed inode
  number is soon given again), is read from its start;
* each call touched by new lines is re-derived from all of its events, so
  deriving twice gives the same row;
* CDR rows are copied by row id with INSERT OR IGNORE on (uniqueid, sequence),
  from the row after the last one copied, but only while that row is still
  there with the same uniqueid: a CDR database made again (Asterisk started
  on fresh folders, the file rotated or emptied) numbers its rows from 1
  again, and is then read from its start rather than from an old row id.

A backlog (the collector stopped for days, a restored backup) is read in chunks of at most
``CHUNK_BYTES`` of queue_log or ``CDR_CHUNK`` call records, each in its own transaction with the offset
it reaches: memory stays flat however long the backlog, a collector killed half-way keeps what it
committed and goes on from there, and the service feeds its watchdog between chunks.

The offset is saved in the same transaction as the rows it covers.  Rows are written with the sqlite3
cursor's ``executemany`` (one prepared statement): peewee's multi-row INSERT builder, and its model
rows when reading events back, cost most of a round at this volume.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import peewee

from appliance.billing import legs, queue_costs
from appliance.callcenter import missed, rollup
from appliance.model.database import database
from appliance.model.models import CallEvent, CallRecord, CollectorState, QueueCall
from appliance.site import localtime
from appliance.site.localtime import asterisk_text as asterisk_time

# Not callers: events Asterisk writes for members and for the queue itself.
NON_CALL_IDS = {"NONE", "MANAGER", "CLI", "REALTIME", "AUTO"}
# queue_log read per transaction (about 17,000 lines): what bounds the collector's memory on a backlog.
CHUNK_BYTES = 1 << 20
CDR_CHUNK = 5000  # call records per transaction
CDR_FIELDS = ("uniqueid", "sequence", "linkedid", "start_time", "answer_time", "end_time", "src", "dst", "dcontext",
              "channel", "dstchannel", "lastapp", "duration", "billsec", "disposition", "userfield", "lastdata")
# the record's trunk and number come from its userfield and lastdata (appliance.billing.legs.trunk_leg)
CALL_RECORD_COLUMNS = ("uniqueid", "sequence", "linkedid", "start", "answer", "end", "src", "dst", "dcontext",
                       "channel", "dstchannel", "lastapp", "duration", "billsec", "disposition", "userfield",
                       "trunk", "number", "extension")
EXITS = {"ABANDON": "abandoned", "EXITWITHTIMEOUT": "timeout", "EXITEMPTY": "exitempty"}  # outcome; wait is field 2
DERIVED = ("callid", "queue", "entered", "caller", "outcome", "wait_seconds", "talk_seconds", "agent", "ended_by")
EVENT_COLUMNS = ("time", "callid", "queue", "agent", "event", "data")
IN_JSON = "(SELECT value FROM json_each(?))"  # a JSON array as the list of an IN


def _insert(table: str, columns: Iterable[str], verb: str = "INSERT") -> str:
    names = list(columns)
    quoted = ", ".join(f'"{n}"' for n in names)  # "end" is a reserved word of PostgreSQL's
    return f"{verb} INTO {table} ({quoted}) VALUES ({', '.join('?' * len(names))})"


# One queue_log line, as the queueevent table's EVENT_COLUMNS: ``time|callid|queue|agent|event|data...``
# (data keeps its own ``|``).  Plain tuples: a named tuple per line cost more than the parsing.
Event = tuple[int, str, str, str, str, str]


@dataclass(frozen=True)
class Sources:
    queue_log: Path
    cdr_db: Path
    cel_db: Path

    @classmethod
    def in_log_dir(cls, log_dir: Path) -> Sources:
        return cls(queue_log=log_dir / "queue_log", cdr_db=log_dir / "linebox-cdr.db",
                   cel_db=log_dir / "linebox-cel.db")


@dataclass
class Progress:
    """What one source gave in a call: rows read, and whether it stopped at its chunk limit with more to read."""

    read: int = 0
    more: bool = False


def collect_queue_log(path: Path) -> int:
    """Store the queue_log lines not read yet, chunk by chunk to the end; return how many lines were read."""
    return read_queue_log(path).read


def read_queue_log(path: Path, max_chunks: int | None = None) -> Progress:
    """Store the queue_log lines not read yet, at most ``max_chunks`` chunks (each its own transaction)."""
    if not path.exists():
        return Progress()
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())  # the file opened, even if the path is rotated meanwhile
        first = handle.readline()
        identity = f"{stat.st_dev}:{stat.st_ino}:{hashlib.sha256(first).hexdigest()[:16]}"
        state = CollectorState.get_or_none(CollectorState.source == "queue_log")
        offset = state.position if state and state.identity == identity and state.position <= stat.st_size else 0
        progress = Progress()
        chunks = 0
        while max_chunks is None or chunks < max_chunks:
            handle.seek(offset)
            chunk = handle.read(CHUNK_BYTES)
            full = len(chunk) == CHUNK_BYTES
            end = chunk.rfind(b"\n") + 1  # a line still being written is left for the next round
            if end == 0 and full:  # one line longer than a chunk: read it whole
                chunk += handle.readline()
                end = chunk.rfind(b"\n") + 1
            if end == 0:
                return progress
            progress.read += _store_queue_log(chunk[:end], identity, offset + end, last=not full)
            offset += end
            chunks += 1
            if not full:
                return progress
        progress.more = True
        return progress


def parse_events(text: str) -> list[Event]:
    """The lines of ``text`` that look like queue_log's (the time first), as events.

    Parsed inline in one comprehension: a function call per line cost a tenth of a backlog's time."""
    return [(int(p[0]), p[1], p[2], p[3], p[4], p[5] if len(p) > 5 else "")
            for p in (line.split("|", 5) for line in text.splitlines()) if len(p) >= 5 and p[0].isdigit()]


def _store_queue_log(text: bytes, identity: str, position: int, last: bool) -> int:
    """One chunk of whole lines and the offset after them, in one transaction; ``last``: no backlog follows."""
    rows = parse_events(text.decode(errors="replace"))
    with database.atomic():
        cursor = database.cursor()
        stored_before = cursor.execute("SELECT MAX(id) FROM queueevent").fetchone()[0] or 0
        cursor.executemany(_insert("queueevent", EVENT_COLUMNS, "INSERT OR IGNORE"), rows)
        keys = {(r[1], r[2]) for r in rows if r[1] not in NON_CALL_IDS}
        started = [r[0] for r in rows if r[4] == "QUEUESTART"]
        if started:  # Asterisk started again: the calls it left open were cut
            keys |= _open_calls_before(max(started))
        changed = rederive(keys, rows, stored_before)
        if changed:  # queue calls stored or changed: their days' per-queue/agent costs are rolled up again
            zone = localtime.site_zone()
            queue_costs.forget_queue_days({localtime.local_text(e, zone, "%Y-%m-%d") for e in changed})
        # while a backlog is read, the days it fills are rolled up once, after its last chunk
        rollup.refresh(changed, int(time.time()), max_new_days=31 if last else 0)
        CollectorState.replace(source="queue_log", position=position, identity=identity).execute()
    return len(rows)


def _float(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def _int(value: object) -> int:
    """A count of seconds as Asterisk wrote it ("12", "12.0", 12, or nothing usable: 0)."""
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        try:
            return int(float(str(value)))
        except ValueError:
            return 0


def _field(data: str, index: int) -> str:
    """One of the ``|``-separated data fields of a queue_log line ("" when the line has fewer)."""
    fields = data.split("|")
    return fields[index] if len(fields) > index else ""


def derive(events: Iterable[Event], starts: Iterable[int] = ()) -> tuple | None:
    """One caller's stay in a queue from its events, in order: the ``DERIVED`` columns' values.

    ``starts``: when Asterisk started (``asterisk_starts``).  A call still waiting, or talking, when
    Asterisk started again after its last event was cut by that restart (Asterisk crashed, or the box
    lost power): a waiting caller's outcome is ``interrupted``, an answered call keeps its outcome (an
    agent did answer in time) and is ``ended_by`` ``restart``, with no talk time (Asterisk wrote none).

    Queue callbacks (docs/reports.md): the stay of a caller who asked to be called back ends ``callback``
    (its ``CALLBACKREQUEST`` line); the placeholder that then held their place (a ``CALLBACK`` line, written
    before it entered) ends ``callback_call`` when an agent took it, ``callback_lost`` when it ended without
    one.  Neither placeholder outcome is a caller's call in the queue's figures."""
    events = list(events)
    placeholder = any(event[4] == "CALLBACK" for event in events)
    entered: int | None = None
    last = 0
    for when, callid, queue, member, event, data in events:
        last = when
        if event == "ENTERQUEUE":
            key, entered, caller = (callid, queue), when, _field(data, 1)
            outcome, wait, talk, agent, ended_by = "waiting", 0, 0, "", ""
        elif entered is None:
            continue
        elif event == "CONNECT":
            outcome, wait, agent = "answered", _int(_field(data, 0)), member
        elif event in ("COMPLETECALLER", "COMPLETEAGENT"):
            talk, ended_by = _int(_field(data, 1)), "caller" if event == "COMPLETECALLER" else "agent"
        elif event in ("BLINDTRANSFER", "ATTENDEDTRANSFER"):
            talk, ended_by = _int(_field(data, 3)), "transfer"
        elif event in EXITS:
            outcome, wait = EXITS[event], _int(_field(data, 2))
        elif event == "EXITWITHKEY":
            outcome, wait = "exitkey", _int(_field(data, 3))
        elif event == "CALLBACKREQUEST":
            outcome = "callback"
    if entered is None:
        return None
    still_open = outcome == "waiting" or (outcome == "answered" and not ended_by)
    if still_open and any(start > last for start in starts):
        outcome, ended_by = ("interrupted" if outcome == "waiting" else outcome), "restart"
    if placeholder and outcome != "waiting":
        outcome = "callback_call" if outcome == "answered" else "callback_lost"
    return (*key, entered, caller, outcome, wait, talk, agent, ended_by)


def _open_calls_before(moment: int) -> set[tuple[str, str]]:
    """The (callid, queue) of the calls that entered before ``moment`` and are still waiting or talking."""
    c = QueueCall
    still_open = (c.outcome == "waiting") | ((c.outcome == "answered") & (c.ended_by == ""))
    return set(c.select(c.callid, c.queue).where(still_open & (c.entered < moment)).tuples())


def rederive(keys: set[tuple[str, str]], new: Iterable[Event] = (), stored_before: int | None = None) -> set[int]:
    """Re-derive the calls of these (callid, queue) pairs from all their events, in bulk.

    ``new``: the events just stored, with ids above ``stored_before``.  A call none of whose events
    was stored before them (most calls of a backlog) is derived from these alone: its events are not
    read back, and it has no stored row to compare with.  Without ``stored_before``, every call is
    derived from its events read back.

    Returns the entry times of every call stored or changed, so the daily roll-ups of those days
    can be brought up to date."""
    changed: set[int] = set()
    starts = asterisk_starts()
    keys_of: dict[str, list[tuple[str, str]]] = {}
    for key in keys:
        keys_of.setdefault(key[0], []).append(key)
    callids = sorted(keys_of)
    arrived: dict[tuple[str, str], list[Event]] = {}
    for event in sorted(new, key=itemgetter(0)):  # by time, as read back below (the sort is stable: file order)
        arrived.setdefault((event[1], event[2]), []).append(event)
    cursor = database.cursor()
    for i in range(0, len(callids), 2000):
        batch = callids[i:i + 2000]
        # Lists go in as one JSON parameter: the same statement text whatever their length, so SQLite's
        # prepared-statement cache holds a few statements, not one per length (memory grew with those).
        known = batch if stored_before is None else [row[0] for row in cursor.execute(
            f"SELECT DISTINCT callid FROM queueevent WHERE callid IN {IN_JSON} AND id <= ?",
            (json.dumps(batch), stored_before))]  # calls with earlier events, from the callid index alone
        stored_events: dict[tuple[str, str], list[Event]] = {}
        stored: dict[tuple[str, str], tuple] = {}
        if known:
            for event in cursor.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM queueevent"
                                        f" WHERE callid IN {IN_JSON} ORDER BY time, id", (json.dumps(known),)):
                stored_events.setdefault((event[1], event[2]), []).append(event)
            stored = {(row[0], row[1]): row for row in cursor.execute(
                f"SELECT {', '.join(DERIVED)} FROM queuecall WHERE callid IN {IN_JSON}", (json.dumps(known),))}
        known_ids = set(known)
        calls = []
        for callid in batch:
            events = stored_events if callid in known_ids else arrived
            for key in keys_of[callid]:
                call = derive(events.get(key, ()), starts)
                # Only calls whose row would change are written (a replay after a restart changes none),
                # so neither the table nor the roll-ups of past days are rewritten for nothing.
                if call and stored.get(key) != call:
                    calls.append(call)
        if calls:
            # an update in place keeps the call's row and its next-call gap (rewritten below only if it moves)
            cursor.executemany(_insert("queuecall", DERIVED) + " ON CONFLICT (callid, queue) DO UPDATE SET "
                               + ", ".join(f"{name} = excluded.{name}" for name in DERIVED[2:]), calls)
        changed.update(c[2] for c in calls)
        changed.update(_link_repeat_calls({(c[1], c[3]) for c in calls if c[3]}))
    return changed


NEXT_CALL = ("(SELECT MIN(n.entered) - queuecall.entered FROM queuecall AS n"
             " WHERE n.queue = queuecall.queue AND n.caller = queuecall.caller"
             " AND n.entered >= queuecall.entered AND n.id != queuecall.id)")
def _link_repeat_calls(pairs: set[tuple[str, str]]) -> list[int]:
    """Set ``next_call_seconds`` of every call of these (queue, caller) pairs, in one statement.

    Run after the calls are stored, so calls collected in the same round see each other.  Only rows
    whose gap changes are written.  A changed gap of a call on a day already rolled up moves that
    call in the day's FCR histogram in place (a repeat call is frequent: re-rolling the whole day
    each time would cost a day's worth of rows); the entry times of the other changed calls are
    returned.
    """
    if not pairs:
        return []
    # The calls of these pairs, through the (queue, caller) index (``(queue, caller) IN (VALUES ...)``
    # made SQLite scan the whole table, once per 500 calls: quadratic on a backlog); the pairs as one JSON
    # parameter, so the statement text is always the same.
    calls = ("id IN (SELECT q.id FROM json_each(?) AS p"
             " JOIN queuecall AS q ON q.queue = p.value ->> 0 AND q.caller = p.value ->> 1)")
    params = [json.dumps(sorted(pairs))]
    through = rollup.rolled_through()
    before = {row[0]: row[1:] for row in database.execute_sql(
        f"SELECT id, queue, next_call_seconds FROM queuecall"
        f" WHERE {calls} AND entered < ? AND outcome = 'answered' AND caller != ''",
        [*params, through]).fetchall()} if through else {}
    cursor = database.execute_sql(
        f"UPDATE queuecall SET next_call_seconds = {NEXT_CALL}"
        f" WHERE {calls} AND next_call_seconds IS NOT {NEXT_CALL}"
        " RETURNING id, entered, next_call_seconds", params)
    changed = []
    for call_id, entered, gap in cursor.fetchall():
        if entered >= through:
            changed.append(entered)
        elif call_id in before:
            queue, old_gap = before[call_id]
            rollup.move_repeat(entered, queue, old_gap, gap)
    return changed


def _rows_after(db_path: Path, source: str, table: str, columns: tuple[str, ...],
                key: tuple[str, ...], limit: int) -> list[sqlite3.Row] | None:
    """The rows of one of Asterisk's SQLite tables added since the last round: after the row the
    collector stopped at, while that row still holds the same ``key`` (else from the start).  None when
    the database could not be read (no table yet, or Asterisk held it locked too long)."""
    if not db_path.exists():
        return []
    state = CollectorState.get_or_none(CollectorState.source == source)
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)) as db:
            db.row_factory = sqlite3.Row
            last = 0
            if state and state.position:
                seen = db.execute(f"SELECT {', '.join(key)} FROM {table} WHERE rowid = ?", (state.position,)).fetchone()
                last = state.position if seen and _identity(seen, key) == state.identity else 0
            query = (f"SELECT rowid AS row_id, {', '.join(columns)} FROM {table} WHERE rowid > ? ORDER BY rowid"
                     f" LIMIT {int(limit)}")
            return db.execute(query, (last,)).fetchall()
    except sqlite3.OperationalError:
        return None


def _identity(row: sqlite3.Row, key: tuple[str, ...]) -> str:
    """What the row the collector stopped at must still hold for reading to go on after it."""
    return "|".join(str(row[name]) for name in key)


def _save_position(source: str, rows: list[sqlite3.Row], key: tuple[str, ...]) -> None:
    CollectorState.replace(source=source, position=rows[-1]["row_id"], identity=_identity(rows[-1], key)).execute()


def collect_cdr(cdr_db: Path) -> int:
    """Copy CDR rows added since the last round, chunk by chunk to the end; return how many were read."""
    return read_cdr(cdr_db).read


def read_cdr(cdr_db: Path, max_chunks: int | None = None) -> Progress:
    """Copy CDR rows added since the last round, at most ``max_chunks`` chunks (each its own transaction)."""
    progress = Progress()
    if not cdr_db.exists():
        return progress
    query = f"SELECT rowid, {', '.join(CDR_FIELDS)} FROM cdr WHERE rowid > ? ORDER BY rowid LIMIT {CDR_CHUNK}"
    insert = _insert("callrecord", CALL_RECORD_COLUMNS, "INSERT OR IGNORE")
    try:
        with closing(sqlite3.connect(f"file:{cdr_db}?mode=ro", uri=True, timeout=5)) as cdr:
            state = CollectorState.get_or_none(CollectorState.source == "cdr")
            last = 0
            if state and state.position:
                seen = cdr.execute("SELECT uniqueid, sequence FROM cdr WHERE rowid = ?", (state.position,)).fetchone()
                last = state.position if seen and _cdr_identity(*seen) == state.identity else 0
            chunks = 0
            while max_chunks is None or chunks < max_chunks:
                rows = cdr.execute(query, (last,)).fetchall()
                if not rows:
                    return progress
                records = []
                for r in rows:
                    trunk, number = legs.trunk_leg(r[16] or "", r[12] or "", r[17] or "")
                    records.append((r[1], _int(r[2] or 0), r[3] or "", r[4] or "", r[5] or "", r[6] or "", r[7] or "",
                                    r[8] or "", r[9] or "", r[10] or "", r[11] or "", r[12] or "", _int(r[13]),
                                    _int(r[14]), r[15] or "", r[16] or "", trunk, number,
                                    legs.calling_endpoint(r[10] or "") if trunk else ""))
                with database.atomic():
                    database.cursor().executemany(insert, records)
                    # each leg through a trunk priced as it is stored (a replayed record keeps its price); the
                    # pricing (rate tables, the number classifier) is loaded with the first one
                    trunk_legs = [(record[0], record[1]) for record in records if record[16]]
                    if trunk_legs:
                        from appliance.billing import calls
                        calls.price_new_records(trunk_legs)
                    # the per-queue and per-agent cost roll-up of these days is made again at the next report
                    queue_costs.forget_queue_days({record[3][:10] for record in records if record[3]})
                    # records whose caller came in on a SIP trunk: inbound legs, charged where the trunk's
                    # table has an inbound line (the trunk names are read once a chunk, and only then)
                    received = [(record[0], record[1], record[9]) for record in records
                                if record[9].startswith("PJSIP/")]
                    if received:
                        from appliance.billing import calls
                        inbound = calls.inbound_legs(received)
                        if inbound:
                            calls.price_inbound_records(inbound)
                    last = rows[-1][0]
                    CollectorState.replace(source="cdr", position=last, identity=_cdr_identity(rows[-1][1], rows[-1][2])
                                           ).execute()
                progress.read += len(rows)
                chunks += 1
                if len(rows) < CDR_CHUNK:
                    return progress
    except sqlite3.OperationalError:
        return progress  # no cdr table yet: Asterisk creates it with the first record
    progress.more = True
    return progress


def _cdr_identity(uniqueid: str, sequence: object) -> str:
    """What the CDR row the collector stopped at must still hold for reading to go on after it."""
    return f"{uniqueid}|{sequence}"


CEL_FIELDS = ("eventtype", "eventtime", "uniqueid", "linkedid", "cidnum", "exten", "context", "channame", "peer")
CEL_KEY = ("uniqueid", "eventtype", "eventtime")
INTERRUPTED = "INTERRUPTED"  # the disposition of a call Asterisk stopped under (no CDR was ever written)
RESTARTS = "restarts"  # CollectorState: the last Asterisk start whose interrupted calls are recorded


def collect_cel(cel_db: Path) -> int:
    """Copy CEL rows added since the last round, chunk by chunk to the end; return how many were read."""
    return read_cel(cel_db).read


def read_cel(cel_db: Path, max_chunks: int | None = None) -> Progress:
    """Copy CEL rows added since the last round (at most ``max_chunks`` chunks, each its own transaction),
    then, once every row is in, record the calls each new Asterisk start cut: a call's end may be in a
    chunk not read yet, so looking earlier would call a finished call interrupted."""
    progress = Progress()
    chunks = 0
    while max_chunks is None or chunks < max_chunks:
        rows = _rows_after(cel_db, "cel", "cel", CEL_FIELDS, CEL_KEY, CDR_CHUNK)
        if rows is None:
            return progress  # unread: the calls a restart cut are looked for once these rows are in
        progress.more = len(rows) == CDR_CHUNK
        progress.read += _store_cel(rows, caught_up=not progress.more)
        chunks += 1
        if not progress.more:
            break
    return progress


def _store_cel(rows: list[sqlite3.Row], caught_up: bool) -> int:
    events = [{"eventtype": r["eventtype"] or "", "eventtime": _float(r["eventtime"]), "uniqueid": r["uniqueid"] or "",
               "linkedid": r["linkedid"] or "", "cidnum": r["cidnum"] or "", "exten": r["exten"] or "",
               "context": r["context"] or "", "channel": r["channame"] or "", "peer": r["peer"] or ""} for r in rows]
    ended = sorted({e["linkedid"] for e in events if e["eventtype"] == "LINKEDID_END"})
    with database.atomic():
        if events:
            CallEvent.insert_many(events).on_conflict_ignore().execute()
            _save_position("cel", rows, CEL_KEY)
        for start in range(0, len(ended), 500):  # a call that ended can never be cut: its events are not needed
            CallEvent.delete().where(CallEvent.linkedid.in_(ended[start:start + 500])).execute()
        if caught_up:
            record_interrupted_calls()
    return len(events)


def asterisk_starts(after: int = 0) -> list[int]:
    """When Asterisk started (its ``QUEUESTART`` queue_log line, written once at every start), in order."""
    return [row[0] for row in database.execute_sql(
        "SELECT DISTINCT time FROM queueevent WHERE event = 'QUEUESTART' AND time > ? ORDER BY time", (after,))]


def latest_start() -> int | None:
    """When Asterisk last started, as far as the collected queue_log tells (None: never seen)."""
    return database.execute_sql("SELECT MAX(time) FROM queueevent WHERE event = 'QUEUESTART'").fetchone()[0]


def interrupting_starts(since: int) -> list[tuple[int, int]]:
    """(when, how many calls it cut) for each Asterisk start after ``since`` that cut calls: the starts
    ``linebox diag`` tells the technician about."""
    out = []
    for start in asterisk_starts(since):
        cut = CallRecord.select().where((CallRecord.disposition == INTERRUPTED) & (CallRecord.sequence == -1)
                                        & (CallRecord.end == asterisk_time(start))).count()
        if cut:
            out.append((start, cut))
    return out


def record_interrupted_calls() -> int:
    """For each Asterisk start not handled yet, record every call still open when it started: a call
    whose channels started before it and that has no ``LINKEDID_END`` never ended for Asterisk, which
    then wrote no CDR.  Its record (``uniqueid`` = the call's linkedid, ``sequence`` -1, which no CDR
    has) says ``INTERRUPTED`` and ends at the restart: the crash itself left no time behind.  Run
    inside the round's transaction, so a collector killed here records nothing twice."""
    state = CollectorState.get_or_none(CollectorState.source == RESTARTS)
    previous = state.position if state else 0
    recorded = 0
    for start in asterisk_starts(previous):
        firsts = (CallEvent.select().where((CallEvent.eventtype == "CHAN_START") & (CallEvent.eventtime >= previous)
                                           & (CallEvent.eventtime < start)
                                           & (CallEvent.uniqueid == CallEvent.linkedid)))
        for first in firsts:
            events = list(CallEvent.select().where(CallEvent.linkedid == first.linkedid).order_by(CallEvent.id))
            if any(e.eventtype == "LINKEDID_END" for e in events):
                continue
            others = [e for e in events if e.eventtype == "CHAN_START" and e.uniqueid != first.uniqueid]
            answer = next((e.eventtime for e in events if e.eventtype == "ANSWER"), None)
            if CallRecord.get_or_none((CallRecord.uniqueid == first.linkedid) & (CallRecord.sequence == -1)):
                continue
            recorded += 1
            CallRecord.insert(
                uniqueid=first.linkedid, sequence=-1, linkedid=first.linkedid, start=asterisk_time(first.eventtime),
                answer=asterisk_time(answer) if answer else "", end=asterisk_time(start), src=first.cidnum,
                dst=first.exten,
                dcontext=first.context, channel=first.channel, dstchannel=others[0].channel if others else "",
                duration=int(start - first.eventtime), billsec=int(start - answer) if answer else 0,
                disposition=INTERRUPTED,
            ).execute()
        previous = start
        CollectorState.replace(source=RESTARTS, position=start, identity="").execute()
    # Calls older than the last start handled have ended or are recorded as cut: nothing reads their events again.
    CallEvent.delete().where(CallEvent.eventtime < previous).execute()
    return recorded


MISSED_SYNC_SECONDS = 5
_missed_synced = 0


def collect_once(sources: Sources, max_chunks: int | None = None) -> dict[str, int]:
    """One round: queue_log, call records, channel events (CEL), then the roll-ups of days that ended;
    what was read, per source.

    ``max_chunks``: at most that many chunks of each source (the service's rounds, so that its watchdog
    is fed while a backlog is read); ``more`` in the answer is 1 when a source stopped there with more to
    read.  None (``linebox collect --once``): everything there is."""
    queue_log = read_queue_log(sources.queue_log, max_chunks)
    cdr = read_cdr(sources.cdr_db, max_chunks)
    cel = read_cel(sources.cel_db, max_chunks)
    more = queue_log.more or cdr.more or cel.more
    now = int(time.time())
    global _missed_synced
    # the missed-call list follows new calls (a backlog is read first), at most every few seconds: its
    # check of the open lines costs a few indexed queries per line (a page or report brings it up to date)
    if (queue_log.read or cdr.read) and not more and now - _missed_synced >= MISSED_SYNC_SECONDS:
        _missed_synced = now
        try:
            missed.sync(now=now)
        except peewee.DatabaseError:  # the list catches up at its next read; the records are what must not stop
            logging.getLogger("linebox.collector").exception("the missed-call list was not brought up to date")
    if not more and rollup.rolled_through() < rollup.midnight(now):  # a quiet midnight passed, or days to roll
        with database.atomic():
            rollup.refresh((), now)
    return {"queue_log": queue_log.read, "cdr": cdr.read, "cel": cel.read, "more": int(more)}


def run(sources: Sources, stop: threading.Event, interval: float = 0.5, on_round=None, on_error=None,
        retry_after: float = 5) -> None:
    """Collect until ``stop`` is set; ``on_round`` is called after each round (the service feeds its watchdog).

    A round reads one chunk of each source; while a backlog remains, the next round starts at once.
    A round the database refuses (disk full, locked past the busy timeout) is passed to ``on_error`` and
    tried again after ``retry_after`` seconds: each chunk's rows commit with its read position, so a
    refused chunk stored nothing and the next round reads the same lines again, and none twice.
    Without ``on_error`` the error is raised.
    """
    while not stop.is_set():
        try:
            counts = collect_once(sources, max_chunks=1)
        except (peewee.OperationalError, sqlite3.OperationalError) as error:  # raw cursors raise sqlite3's
            if on_error is None:
                raise
            on_error(error)
            stop.wait(retry_after)
            continue
        if on_round:
            on_round(counts)
        if not counts["more"]:
            stop.wait(interval)
