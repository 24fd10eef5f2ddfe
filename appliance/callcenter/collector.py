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
from appliance.model.models import CallRecord, CollectorState, QueueCall, QueueEvent

# Not callers: events Asterisk writes for members and for the queue itself.
NON_CALL_IDS = {"NONE", "MANAGER", "CLI", "REALTIME", "AUTO"}
BATCH = 2000
CDR_FIELDS = ("uniqueid", "sequence", "linkedid", "start_time", "answer_time", "end_time", "src", "dst", "dcontext",
              "channel", "dstchannel", "lastapp", "duration", "billsec", "disposition", "userfield")


@dataclass(frozen=True)
class Sources:
    queue_log: Path
    cdr_db: Path

    @classmethod
    def in_log_dir(cls, log_dir: Path) -> Sources:
        return cls(queue_log=log_dir / "queue_log", cdr_db=log_dir / "linebox-cdr.db")


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
        changed = rederive({(r["callid"], r["queue"]) for r in rows if r["callid"] not in NON_CALL_IDS})
        rollup.refresh(changed, int(time.time()))
        CollectorState.replace(source="queue_log", position=offset + end, identity=identity).execute()
    return len(rows)


def _int(value: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        return 0


def derive(events: Iterable[QueueEvent]) -> dict | None:
    """One caller's stay in a queue from its events, in order."""
    call: dict | None = None
    for e in events:
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
    return call


def rederive(keys: set[tuple[str, str]]) -> set[int]:
    """Re-derive the calls of these (callid, queue) pairs from all their stored events, in bulk.

    Returns the entry times of every call stored or changed, so the daily roll-ups of those days
    can be brought up to date."""
    changed: set[int] = set()
    callids = sorted({callid for callid, _ in keys})
    for i in range(0, len(callids), 500):
        chunk = callids[i:i + 500]
        by_call: dict[tuple[str, str], list[QueueEvent]] = {}
        events = (QueueEvent.select().where(QueueEvent.callid.in_(chunk))
                  .order_by(QueueEvent.time, QueueEvent.id).namedtuples())  # plain rows: no model objects
        for event in events:
            by_call.setdefault((event.callid, event.queue), []).append(event)
        calls = [call for key, evs in by_call.items() if key in keys and (call := derive(evs))]
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


def collect_cdr(cdr_db: Path) -> int:
    """Copy CDR rows added since the last round; return how many were read."""
    if not cdr_db.exists():
        return 0
    state = CollectorState.get_or_none(CollectorState.source == "cdr")
    try:
        with closing(sqlite3.connect(f"file:{cdr_db}?mode=ro", uri=True, timeout=5)) as cdr:
            cdr.row_factory = sqlite3.Row
            last = 0
            if state and state.position:
                seen = cdr.execute("SELECT uniqueid, sequence FROM cdr WHERE rowid = ?", (state.position,)).fetchone()
                last = state.position if seen and _cdr_identity(seen) == state.identity else 0
            query = f"SELECT rowid AS row_id, {', '.join(CDR_FIELDS)} FROM cdr WHERE rowid > ? ORDER BY rowid"
            rows = cdr.execute(query, (last,)).fetchall()
    except sqlite3.OperationalError:
        return 0  # no cdr table yet: Asterisk creates it with the first record
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
        CollectorState.replace(source="cdr", position=rows[-1]["row_id"], identity=_cdr_identity(rows[-1])).execute()
    return len(records)


def _cdr_identity(row: sqlite3.Row) -> str:
    """What the CDR row the collector stopped at must still hold for reading to go on after it."""
    return f"{row['uniqueid']}|{row['sequence']}"


def collect_once(sources: Sources) -> dict[str, int]:
    counts = {"queue_log": collect_queue_log(sources.queue_log), "cdr": collect_cdr(sources.cdr_db)}
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
