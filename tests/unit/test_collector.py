"""The collector on queue_log text written the way Asterisk writes it (the lab test uses real Asterisk)."""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from appliance.callcenter import collector, reports
from appliance.model.models import CallEvent, CallRecord, CollectorState, QueueCall, QueueEvent

# the SQL of the data model: runs on SQLite and on PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_engines

T = int(datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp())
LINES = [
    f"{T}|NONE|700|NONE|QUEUESTART|",
    f"{T + 1}|c1|700|NONE|ENTERQUEUE||+441111|1",
    f"{T + 9}|c1|700|201|RINGNOANSWER|15000",
    f"{T + 12}|c1|700|202|CONNECT|11|c1.2|3",
    f"{T + 2}|c2|700|NONE|ENTERQUEUE||+442222|2",
    f"{T + 40}|c2|700|NONE|ABANDON|1|2|38",
    f"{T + 100}|c1|700|202|COMPLETECALLER|11|88|1",
    f"{T + 3600}|c3|700|NONE|ENTERQUEUE||+441111|1",
    f"{T + 3603}|c3|700|NONE|ABANDON|1|1|3",
]


def write(path, lines, mode="w"):
    with open(path, mode) as handle:
        handle.write("".join(line + "\n" for line in lines))


def test_calls_are_derived_and_reported(install, tmp_path):
    log = tmp_path / "queue_log"
    write(log, LINES)
    assert collector.collect_queue_log(log) == len(LINES)
    calls = {c.callid: c for c in QueueCall.select()}
    assert (calls["c1"].outcome, calls["c1"].wait_seconds, calls["c1"].talk_seconds, calls["c1"].agent) == \
        ("answered", 11, 88, "202")
    assert calls["c1"].next_call_seconds == 3599  # the same caller called again an hour later
    assert (calls["c2"].outcome, calls["c2"].wait_seconds) == ("abandoned", 38)
    (kpi,) = reports.queue_report(datetime.fromtimestamp(T - 60, UTC), datetime.fromtimestamp(T + 86400, UTC))
    assert (kpi.offered, kpi.answered, kpi.abandoned, kpi.short_abandons) == (3, 1, 1, 1)
    assert kpi.service_level_pct == 50.0 and kpi.asa_seconds == 11.0 and kpi.fcr_pct == 0.0
    (kpi,) = reports.queue_report(datetime.fromtimestamp(T - 60, UTC), datetime.fromtimestamp(T + 86400, UTC),
                                  fcr_hours=0)
    assert kpi.fcr_pct == 100.0


def test_half_written_lines_wait_and_nothing_is_duplicated(install, tmp_path):
    log = tmp_path / "queue_log"
    write(log, LINES[:3])
    with open(log, "a") as handle:
        handle.write(LINES[3][:10])  # Asterisk is in the middle of writing this line
    assert collector.collect_queue_log(log) == 3
    with open(log, "a") as handle:
        handle.write(LINES[3][10:] + "\n")
    write(log, LINES[4:], mode="a")
    collector.collect_queue_log(log)
    collector.collect_queue_log(log)
    CollectorState.delete().execute()  # state lost: everything is read again
    collector.collect_queue_log(log)
    assert QueueEvent.select().count() == len(LINES)
    assert QueueCall.select().count() == 3


def test_rotated_log_is_read_from_its_start(install, tmp_path):
    log = tmp_path / "queue_log"
    write(log, LINES[:4])
    collector.collect_queue_log(log)
    os.rename(log, tmp_path / "queue_log.1")
    write(log, LINES[4:])
    collector.collect_queue_log(log)
    assert QueueEvent.select().count() == len(LINES)
    day = datetime.fromtimestamp(T, UTC).replace(hour=0)
    assert [r.agent for r in reports.agent_report(day, day + timedelta(days=1))] == ["202"]


def test_log_made_again_in_place_is_read_from_its_start(install, tmp_path):
    """Same path, same inode (a file truncated and written again, or a freed inode number given to the
    new file of a new folder), longer than the old offset: the old offset must not skip its lines."""
    log = tmp_path / "queue_log"
    write(log, LINES[:2])
    collector.collect_queue_log(log)
    inode = log.stat().st_ino
    write(log, LINES[2:])  # truncates and rewrites the same inode
    assert log.stat().st_ino == inode
    collector.collect_queue_log(log)
    assert QueueEvent.select().count() == len(LINES)
    assert collector.collect_queue_log(log) == 0


def write_cdr(path, calls: list[str], create: bool = True) -> None:
    """CDR rows the way Asterisk's cdr_sqlite3_custom writes them (its own row id, text columns)."""
    with closing(sqlite3.connect(path)) as cdr, cdr:
        if create:
            cdr.execute(f"CREATE TABLE cdr (AcctId INTEGER PRIMARY KEY, {', '.join(collector.CDR_FIELDS)})")
        for uniqueid in calls:
            cdr.execute("INSERT INTO cdr (uniqueid, sequence, src, dst, duration, billsec, disposition)"
                        " VALUES (?, '0', '100', '700', '8', '6', 'ANSWERED')", (uniqueid,))


def copied() -> list[str]:
    return sorted(r.uniqueid for r in CallRecord.select())


def test_call_records_survive_a_new_cdr_database(install, tmp_path):
    """Asterisk started on fresh folders (``make run``), or its CDR file rotated or emptied, numbers its
    rows from 1 again: those rows are copied, none twice, however often the collector goes round."""
    cdr_db = tmp_path / "linebox-cdr.db"
    write_cdr(cdr_db, ["1000.0", "1000.1"])
    assert collector.collect_cdr(cdr_db) == 2
    write_cdr(cdr_db, ["1010.0"], create=False)  # the same database goes on
    assert collector.collect_cdr(cdr_db) == 1
    assert collector.collect_cdr(cdr_db) == 0

    cdr_db.unlink()  # a new Asterisk, a new database: row ids 1, 2, ... again
    write_cdr(cdr_db, ["2000.0"])
    collector.collect_cdr(cdr_db)
    assert copied() == ["1000.0", "1000.1", "1010.0", "2000.0"]
    write_cdr(cdr_db, ["2000.1", "2000.2", "2000.3", "2000.4"], create=False)  # past the old last row id
    assert collector.collect_cdr(cdr_db) == 4
    assert collector.collect_cdr(cdr_db) == 0

    with closing(sqlite3.connect(cdr_db)) as cdr, cdr:
        cdr.execute("DELETE FROM cdr")  # emptied in place: SQLite gives row id 1 again
    write_cdr(cdr_db, ["3000.0"], create=False)
    collector.collect_cdr(cdr_db)
    assert copied() == ["1000.0", "1000.1", "1010.0", "2000.0", "2000.1", "2000.2", "2000.3", "2000.4", "3000.0"]

    CollectorState.delete().execute()  # the collector's state lost: read again, nothing doubled
    collector.collect_cdr(cdr_db)
    assert CallRecord.select().count() == 9


def test_a_full_database_refuses_a_round_which_is_collected_whole_once_space_returns(install, tmp_path, engine):
    """Disk full (SQLite's own limit stands in for the file system): the collector says why, stores
    nothing and keeps going; once space returns it stores every line and call record, none twice."""
    if engine == "postgresql":
        pytest.skip("the disk is filled through SQLite's max_page_count; PostgreSQL has no such limit")
    from appliance.model.database import database

    log, cdr_db = tmp_path / "queue_log", tmp_path / "linebox-cdr.db"
    lines = [f"{T + i}|c{i}|700|NONE|ENTERQUEUE|{'x' * 400}|+44{i:06d}|1" for i in range(400)]
    write(log, lines)
    write_cdr(cdr_db, [f"{3000 + i}.0" for i in range(300)])
    pages = database.execute_sql("PRAGMA page_count").fetchone()[0]
    database.execute_sql(f"PRAGMA max_page_count = {pages}")  # full: not one more page
    errors: list[str] = []
    rounds: list[dict[str, int]] = []
    stop = threading.Event()

    def refused(error: Exception) -> None:
        errors.append(str(error))
        assert QueueEvent.select().count() == 0 and CallRecord.select().count() == 0  # nothing half-stored
        database.execute_sql("PRAGMA max_page_count = 1073741823")  # space returns

    def stored(counts: dict[str, int]) -> None:
        rounds.append(counts)
        if len(rounds) == 3:
            stop.set()
    sources = collector.Sources(queue_log=log, cdr_db=cdr_db, cel_db=tmp_path / "linebox-cel.db")
    collector.run(sources, stop, interval=0, on_round=stored,
                  on_error=refused, retry_after=0)
    assert errors and errors[0] == "database or disk is full"
    assert rounds[0] == {"queue_log": 400, "cdr": 300, "cel": 0, "more": 0}
    assert rounds[1:] == [{"queue_log": 0, "cdr": 0, "cel": 0, "more": 0}] * 2
    assert QueueEvent.select().count() == 400 and CallRecord.select().count() == 300
    assert database.execute_sql("PRAGMA integrity_check").fetchall() == [("ok",)]


def write_cel(cel_db, rows) -> None:
    """CEL rows the way Asterisk's cel_sqlite3_custom writes them (Linebox's columns, text values)."""
    with closing(sqlite3.connect(cel_db)) as cel, cel:
        cel.execute("CREATE TABLE IF NOT EXISTS cel (id INTEGER PRIMARY KEY AUTOINCREMENT, eventtype TEXT, "
                    "eventtime TEXT, cidnum TEXT, exten TEXT, context TEXT, channame TEXT, uniqueid TEXT, "
                    "linkedid TEXT, peer TEXT)")
        cel.executemany("INSERT INTO cel (eventtype, eventtime, cidnum, exten, context, channame, uniqueid, linkedid,"
                        " peer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '')", rows)


def test_a_call_asterisk_never_ended_is_recorded_once_as_interrupted(install, tmp_path):
    """CEL says a call started and was answered, never that it ended, and Asterisk started again:
    one INTERRUPTED record from its caller to its number, ending at the restart, however often the
    collector goes round or loses its state; a call that ended is not touched, and diag tells."""
    from appliance.support import diagnostics

    now = int(datetime.now(UTC).timestamp()) - 600
    sources = collector.Sources(queue_log=tmp_path / "queue_log", cdr_db=tmp_path / "cdr.db",
                                cel_db=tmp_path / "cel.db")
    write(sources.queue_log, [f"{now - 100}|NONE|NONE|NONE|QUEUESTART|"])
    write_cel(sources.cel_db, [
        ("CHAN_START", f"{now}.5", "100", "101", "from-internal", "PJSIP/100-1", f"{now}.1", f"{now}.1"),
        ("CHAN_START", f"{now}.6", "101", "s", "from-internal", "PJSIP/101-2", f"{now}.2", f"{now}.1"),
        ("ANSWER", f"{now + 2}.1", "101", "s", "from-internal", "PJSIP/101-2", f"{now}.2", f"{now}.1"),
        ("CHAN_START", f"{now}.7", "102", "103", "from-internal", "PJSIP/102-3", f"{now}.3", f"{now}.3"),
        ("LINKEDID_END", f"{now + 5}.0", "102", "103", "from-internal", "PJSIP/102-3", f"{now}.3", f"{now}.3"),
    ])
    collector.collect_once(sources)
    assert not CallRecord.select().exists()  # Asterisk has not started again: the call may still be up
    # The ended call's events are dropped (the table stays the size of the calls up), the open one's kept.
    assert {e.linkedid for e in CallEvent.select()} == {f"{now}.1"}
    assert diagnostics.check_restarts() == []
    write(sources.queue_log, [f"{now + 60}|NONE|NONE|NONE|QUEUESTART|"], mode="a")
    for _ in range(2):
        collector.collect_once(sources)
    CollectorState.delete().execute()
    collector.collect_once(sources)
    (cut,) = CallRecord.select()
    assert (cut.src, cut.dst, cut.channel, cut.dstchannel, cut.disposition, cut.sequence) == \
        ("100", "101", "PJSIP/100-1", "PJSIP/101-2", "INTERRUPTED", -1)
    assert (cut.duration, cut.billsec) == (59, 57)
    assert not CallEvent.select().exists()  # the cut call is recorded: its events are not needed any more
    (finding,) = diagnostics.check_restarts()
    moment = datetime.fromtimestamp(now + 60).strftime("%Y-%m-%d %H:%M:%S")
    assert (finding.level, finding.text) == ("warn", f"Asterisk restarted at {moment}, 1 call(s) interrupted")
    assert diagnostics.check_restarts(now=now + 60 + 25 * 3600) == []  # old news after a day


def test_calls_a_restart_cut_are_looked_for_only_once_the_cel_database_is_read(install, tmp_path):
    """A CEL database that cannot be read this round (Asterisk holding it, no table yet) does not let a
    restart pass unlooked-at: the cut call is recorded in the round that reads its rows."""
    now = int(datetime.now(UTC).timestamp()) - 600
    sources = collector.Sources(queue_log=tmp_path / "queue_log", cdr_db=tmp_path / "cdr.db",
                                cel_db=tmp_path / "cel.db")
    write(sources.queue_log, [f"{now - 100}|NONE|NONE|NONE|QUEUESTART|", f"{now + 60}|NONE|NONE|NONE|QUEUESTART|"])
    sqlite3.connect(sources.cel_db).close()  # the file, not its table yet
    collector.collect_once(sources)
    write_cel(sources.cel_db, [("CHAN_START", f"{now}.5", "100", "101", "from-internal", "PJSIP/100-1", f"{now}.1",
                                f"{now}.1")])
    collector.collect_once(sources)
    assert [r.disposition for r in CallRecord.select()] == ["INTERRUPTED"]


def test_a_backlog_is_read_chunk_by_chunk_each_committed_with_its_offset(install, tmp_path, monkeypatch):
    """Chunks much smaller than the file (the collector's are 1 MiB): each round commits whole lines and the
    offset after them; a line longer than a chunk is read whole; the calls come out as from one read."""
    monkeypatch.setattr(collector, "CHUNK_BYTES", 100)
    long_line = f"{T + 5}|c9|700|NONE|ENTERQUEUE|{'u' * 150}|+449999|3"
    lines = [*LINES[:4], long_line, *LINES[4:]]
    log = tmp_path / "queue_log"
    write(log, lines)
    first = collector.read_queue_log(log, max_chunks=1)
    assert first.more and 0 < first.read < len(lines)
    state = CollectorState.get(CollectorState.source == "queue_log")
    assert log.read_bytes()[:state.position].count(b"\n") == first.read == QueueEvent.select().count()
    rounds = 1
    while collector.read_queue_log(log, max_chunks=1).more:
        rounds += 1
    assert rounds > 3 and QueueEvent.select().count() == len(lines)
    calls = {c.callid: c for c in QueueCall.select()}
    assert (calls["c1"].outcome, calls["c1"].wait_seconds, calls["c1"].talk_seconds) == ("answered", 11, 88)
    assert calls["c1"].next_call_seconds == 3599 and calls["c9"].caller == "+449999"
    assert collector.collect_queue_log(log) == 0
