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

The offset is saved in the same transaction as the rows it covers.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import peewee

from appliance.callcenter import rollup
from appliance.model.database import database
from appliance.model.models import CallEvent, CallRecord, CollectorState, QueueCall, QueueEvent

# Not callers: events Asterisk writes for members and for the queue itself.
NON_CALL_IDS = {"NONE", "MANAGER", "CLI", "REALTIME", "AUTO"}
BATCH = 2000
CDR_FIELDS = ("uniqueid", "sequence", "linkedid", "start_time", "answer_time", "end_time", "src", "dst", "dcontext",
              "channel", "dstchannel", "lastapp", "duration", "billsec", "disposition", "userfield")


@dataclass(frozen=True)
class Sources:
    queue_log: Path
    cdr_db: Path
    cel_db: Path

    @classmethod
    def in_log_dir(cls, log_dir: Path) -> Sources:
        return cls(queue_log=log_dir / "queue_log", cdr_db=log_dir / "linebox-cdr.db",
                   cel_db=log_dir / "linebox-cel.db")


def parse_line(line: str) -> dict | None:
    parts = line.rstrip("\n").split("|")
    if len(parts) < 5 or not parts[0].isdigit():
        return None
    return {"time": int(parts[0]), "callid": parts[1], "queue": parts[2], "agent": parts[3], "event": parts[4],
            "data": "|".join(parts[5:])}


def collect_queue_log(path: Path) -> int:
    """Store the queue_log lines not read yet; return how many lines were read."""
    if not path.exists():
        return 0
    stat = path.stat()
    state = CollectorState.get_or_none(CollectorState.source == "queue_log")
    with open(path, "rb") as handle:
        first = handle.readline()
        identity = f"{stat.st_dev}:{stat.st_ino}:{hashlib.sha256(first).hexdigest()[:16]}"
        offset = state.position if state and state.identity == identity and state.position <= stat.st_size else 0
        handle.seek(offset)
        chunk = handle.read()
    end = chunk.rfind(b"\n") + 1  # a line still being written is left for the next round
    if end == 0:
        return 0
    rows = [row for line in chunk[:end].decode(errors="replace").splitlines() if (row := parse_line(line))]
    with database.atomic():
        # executemany on the raw cursor: building peewee's multi-row INSERT text cost most of a round
        database.cursor().executemany(
            "INSERT OR IGNORE INTO queueevent (time, callid, queue, agent, event, data) VALUES (?, ?, ?, ?, ?, ?)",
            [(r["time"], r["callid"], r["queue"], r["agent"], r["event"], r["data"]) for r in rows])
        keys = {(r["callid"], r["queue"]) for r in rows if r["callid"] not in NON_CALL_IDS}
        started = [r["time"] for r in rows if r["event"] == "QUEUESTART"]
        if started:  # Asterisk started again: the calls it left open were cut
            keys |= _open_calls_before(max(started))
        changed = rederive(keys)
        rollup.refresh(changed, int(time.time()))
        CollectorState.replace(source="queue_log", position=offset + end, identity=identity).execute()
    return len(rows)


def _float(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def _int(value: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        return 0


def derive(events: Iterable[QueueEvent], starts: Iterable[int] = ()) -> dict | None:
    """One caller's stay in a queue from its events, in order.

    ``starts``: when Asterisk started (``asterisk_starts``).  A call still waiting, or talking, when
    Asterisk started again after its last event was cut by that restart (Asterisk crashed, or the box
    lost power): a waiting caller's outcome is ``interrupted``, an answered call keeps its outcome (an
    agent did answer in time) and is ``ended_by`` ``restart``, with no talk time (Asterisk wrote none)."""
    call: dict | None = None
    last = 0
    for e in events:
        last = e.time
        data = e.data.split("|") if e.data else []
        field = (lambda i, d=data: d[i] if len(d) > i else "")  # noqa: E731 - tiny local accessor
        if e.event == "ENTERQUEUE":
            call = {"callid": e.callid, "queue": e.queue, "entered": e.time, "caller": field(1),
                    "outcome": "waiting", "wait_seconds": 0, "talk_seconds": 0, "agent": "", "ended_by": ""}
        elif call is None:
            continue
        elif e.event == "CONNECT":
            call.update(outcome="answered", wait_seconds=_int(field(0)), agent=e.agent)
        elif e.event in ("COMPLETECALLER", "COMPLETEAGENT"):
            call.update(talk_seconds=_int(field(1)), ended_by="caller" if e.event == "COMPLETECALLER" else "agent")
        elif e.event in ("BLINDTRANSFER", "ATTENDEDTRANSFER"):
            call.update(talk_seconds=_int(field(3)), ended_by="transfer")
        elif e.event in ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY"):
            outcome = {"ABANDON": "abandoned", "EXITWITHTIMEOUT": "timeout", "EXITEMPTY": "exitempty"}[e.event]
            call.update(outcome=outcome, wait_seconds=_int(field(2)))
        elif e.event == "EXITWITHKEY":
            call.update(outcome="exitkey", wait_seconds=_int(field(3)))
    if call and _still_open(call) and any(start > last for start in starts):
        call.update(outcome="interrupted" if call["outcome"] == "waiting" else call["outcome"], ended_by="restart")
    return call


def _still_open(call: dict) -> bool:
    return call["outcome"] == "waiting" or (call["outcome"] == "answered" and not call["ended_by"])


def _open_calls_before(moment: int) -> set[tuple[str, str]]:
    """The (callid, queue) of the calls that entered before ``moment`` and are still waiting or talking."""
    c = QueueCall
    still_open = (c.outcome == "waiting") | ((c.outcome == "answered") & (c.ended_by == ""))
    return set(c.select(c.callid, c.queue).where(still_open & (c.entered < moment)).tuples())


def rederive(keys: set[tuple[str, str]]) -> set[int]:
    """Re-derive the calls of these (callid, queue) pairs from all their stored events, in bulk.

    Returns the entry times of every call stored or changed, so the daily roll-ups of those days
    can be brought up to date."""
    changed: set[int] = set()
    starts = asterisk_starts()
    callids = sorted({callid for callid, _ in keys})
    for i in range(0, len(callids), 500):
        chunk = callids[i:i + 500]
        by_call: dict[tuple[str, str], list[QueueEvent]] = {}
        events = (QueueEvent.select().where(QueueEvent.callid.in_(chunk))
                  .order_by(QueueEvent.time, QueueEvent.id).namedtuples())  # plain rows: no model objects
        for event in events:
            by_call.setdefault((event.callid, event.queue), []).append(event)
        calls = [call for key, evs in by_call.items() if key in keys and (call := derive(evs, starts))]
        # Only calls whose row would change are written (a replay after a restart changes none), so
        # neither the table nor the roll-ups of past days are rewritten for nothing.
        columns = [getattr(QueueCall, name) for name in DERIVED]
        stored = {(r["callid"], r["queue"]): r
                  for r in QueueCall.select(*columns).where(QueueCall.callid.in_(chunk)).dicts()}
        calls = [c for c in calls if stored.get((c["callid"], c["queue"])) != c]
        if calls:
            QueueCall.insert_many(calls).on_conflict_replace().execute()
        changed.update(c["entered"] for c in calls)
        changed.update(_link_repeat_calls({(c["queue"], c["caller"]) for c in calls if c["caller"]}))
    return changed


DERIVED = ("callid", "queue", "entered", "caller", "outcome", "wait_seconds", "talk_seconds", "agent", "ended_by")


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
    values = ", ".join("(?, ?)" for _ in pairs)
    params = [item for pair in sorted(pairs) for item in pair]
    through = rollup.rolled_through()
    before = {row[0]: row[1:] for row in database.execute_sql(
        "SELECT id, queue, next_call_seconds FROM queuecall"
        f" WHERE (queue, caller) IN (VALUES {values}) AND entered < ? AND outcome = 'answered' AND caller != ''",
        [*params, through]).fetchall()} if through else {}
    cursor = database.execute_sql(
        f"UPDATE queuecall SET next_call_seconds = {NEXT_CALL}"
        f" WHERE (queue, caller) IN (VALUES {values}) AND next_call_seconds IS NOT {NEXT_CALL}"
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
                key: tuple[str, ...]) -> list[sqlite3.Row] | None:
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
            query = f"SELECT rowid AS row_id, {', '.join(columns)} FROM {table} WHERE rowid > ? ORDER BY rowid"
            return db.execute(query, (last,)).fetchall()
    except sqlite3.OperationalError:
        return None


def _identity(row: sqlite3.Row, key: tuple[str, ...]) -> str:
    """What the row the collector stopped at must still hold for reading to go on after it."""
    return "|".join(str(row[name]) for name in key)


def _save_position(source: str, rows: list[sqlite3.Row], key: tuple[str, ...]) -> None:
    CollectorState.replace(source=source, position=rows[-1]["row_id"], identity=_identity(rows[-1], key)).execute()


CDR_KEY = ("uniqueid", "sequence")


def collect_cdr(cdr_db: Path) -> int:
    """Copy CDR rows added since the last round; return how many were read."""
    rows = _rows_after(cdr_db, "cdr", "cdr", CDR_FIELDS, CDR_KEY)
    if not rows:
        return 0
    records = [{
        "uniqueid": r["uniqueid"], "sequence": r["sequence"] or 0, "linkedid": r["linkedid"] or "",
        "start": r["start_time"] or "", "answer": r["answer_time"] or "", "end": r["end_time"] or "",
        "src": r["src"] or "", "dst": r["dst"] or "", "dcontext": r["dcontext"] or "", "channel": r["channel"] or "",
        "dstchannel": r["dstchannel"] or "", "lastapp": r["lastapp"] or "", "duration": _int(str(r["duration"])),
        "billsec": _int(str(r["billsec"])), "disposition": r["disposition"] or "", "userfield": r["userfield"] or "",
    } for r in rows]
    with database.atomic():
        for i in range(0, len(records), BATCH):
            CallRecord.insert_many(records[i:i + BATCH]).on_conflict_ignore().execute()
        _save_position("cdr", rows, CDR_KEY)
    return len(records)


CEL_FIELDS = ("eventtype", "eventtime", "uniqueid", "linkedid", "cidnum", "exten", "context", "channame", "peer")
CEL_KEY = ("uniqueid", "eventtype", "eventtime")
INTERRUPTED = "INTERRUPTED"  # the disposition of a call Asterisk stopped under (no CDR was ever written)
RESTARTS = "restarts"  # CollectorState: the last Asterisk start whose interrupted calls are recorded


def collect_cel(cel_db: Path) -> int:
    """Copy CEL rows added since the last round, then record the calls each new Asterisk start cut;
    return how many rows were read."""
    rows = _rows_after(cel_db, "cel", "cel", CEL_FIELDS, CEL_KEY)
    if rows is None:
        return 0  # unread: the calls a restart cut are looked for once these rows are in
    events = [{"eventtype": r["eventtype"] or "", "eventtime": _float(r["eventtime"]), "uniqueid": r["uniqueid"] or "",
               "linkedid": r["linkedid"] or "", "cidnum": r["cidnum"] or "", "exten": r["exten"] or "",
               "context": r["context"] or "", "channel": r["channame"] or "", "peer": r["peer"] or ""} for r in rows]
    with database.atomic():
        for i in range(0, len(events), BATCH):
            CallEvent.insert_many(events[i:i + BATCH]).on_conflict_ignore().execute()
        if rows:
            _save_position("cel", rows, CEL_KEY)
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
                                        & (CallRecord.end == _local(start))).count()
        if cut:
            out.append((start, cut))
    return out


def _local(epoch: float) -> str:
    """An epoch as Asterisk writes its CDR and CEL times (local time)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


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
                uniqueid=first.linkedid, sequence=-1, linkedid=first.linkedid, start=_local(first.eventtime),
                answer=_local(answer) if answer else "", end=_local(start), src=first.cidnum, dst=first.exten,
                dcontext=first.context, channel=first.channel, dstchannel=others[0].channel if others else "",
                duration=int(start - first.eventtime), billsec=int(start - answer) if answer else 0,
                disposition=INTERRUPTED,
            ).execute()
        previous = start
        CollectorState.replace(source=RESTARTS, position=start, identity="").execute()
    return recorded


def collect_once(sources: Sources) -> dict[str, int]:
    counts = {"queue_log": collect_queue_log(sources.queue_log), "cdr": collect_cdr(sources.cdr_db),
              "cel": collect_cel(sources.cel_db)}
    now = int(time.time())
    if rollup.rolled_through() < rollup.midnight(now):  # a quiet midnight passed, or days are still to roll
        with database.atomic():
            rollup.refresh((), now)
    return counts


def run(sources: Sources, stop: threading.Event, interval: float = 0.5, on_round=None, on_error=None,
        retry_after: float = 5) -> None:
    """Collect until ``stop`` is set; ``on_round`` is called after each round (the service feeds its watchdog).

    A round the database refuses (disk full, locked past the busy timeout) is passed to ``on_error`` and
    tried again after ``retry_after`` seconds: each source's rows commit with its read position, so a
    refused round stored nothing and the next one reads the same lines again, and none twice.
    Without ``on_error`` the error is raised.
    """
    while not stop.is_set():
        try:
            counts = collect_once(sources)
        except (peewee.OperationalError, sqlite3.OperationalError) as error:  # raw cursors raise sqlite3's
            if on_error is None:
                raise
            on_error(error)
            stop.wait(retry_after)
            continue
        if on_round:
            on_round(counts)
        stop.wait(interval)
