"""The collector at the limit: its rate beside a plain SQLite insert of the same rows, and its memory on a
backlog of a million lines.

* ratio: a backlog of 200,000 queue_log lines and its call records (``lab.backlog``: Asterisk's formats,
  a week of a busy call center, so past days are rolled up too) is collected from scratch in this
  process (``collect_once``, as ``linebox collect --once`` does); then every row the collector stored
  (queue events, derived calls with their next-call gaps, call records) is inserted into a fresh
  database of the same schema and indexes with Python's sqlite3 ``executemany`` in one transaction.
  Each is run three times, alternately, and its best time kept (a shared machine's other work slows
  single runs by half).  ``collector_vs_insert_ratio`` is the plain insert's time over the collector's
  (the collector's rate as a fraction of the plain insert's); ``collector_vs_insert_cpu_ratio`` the same
  in CPU time.  Goal: at least 0.5.
* memory: ``linebox collect --once`` collects a backlog of 100,000 lines, then one of 1,000,000 lines, each
  in its own process; their peak RSS (``VmHWM`` as the process exits) is recorded.  Goal: the same with ten times the
  backlog (memory bounded by the collector's chunk, not by the backlog).

The machine's load average at the start is recorded: other work on a shared 2-core box skews the figures,
and the wall-clock ratio most (a run of 10 s finds the CPU free less often than one of 3 s; CPU time does
not depend on it).  Written to ``benchmarks/results/collector.json``.

Before the collector read in chunks (one transaction for a whole backlog, peewee's INSERT builder, a table
scan per 500 calls to link repeat calls), the same run gave: ratio 0.16 (load 4.8), peak RSS 117 MiB for
100,000 lines and 837 MiB for 1,000,000 lines (605 s, 1,652 lines/s).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from appliance.callcenter import collector
from appliance.install import Install
from appliance.model.database import PRAGMAS, close_database, open_database
from benchmarks.sites import run_header, save_figures
from lab.backlog import write_backlog

# The rows the collector stores, table by table (ids left to SQLite, as the collector leaves them).
TABLES = {
    "queueevent": ("time", "callid", "queue", "agent", "event", "data"),
    "queuecall": ("callid", "queue", "entered", "caller", "outcome", "wait_seconds", "talk_seconds", "agent",
                  "ended_by", "next_call_seconds"),
    "callrecord": ("uniqueid", "sequence", "linkedid", "start", "answer", "end", "src", "dst", "dcontext", "channel",
                   "dstchannel", "lastapp", "duration", "billsec", "disposition", "userfield"),
}


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for name, value in PRAGMAS.items():
        db.execute(f"PRAGMA {name} = {value}")
    return db


def _collect(logs: Path, db_path: Path) -> tuple[dict, float, float]:
    """The collector's rounds until the backlog is read (``linebox collect --once``), on a new database."""
    for old in db_path.parent.glob(db_path.name + "*"):
        old.unlink()
    open_database(db_path)
    wall, cpu = time.perf_counter(), time.process_time()
    counts = collector.collect_once(collector.Sources.in_log_dir(logs))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    close_database()
    return counts, wall, cpu


def _plain_insert(rows: dict[str, list], db_path: Path) -> tuple[float, float]:
    """The same rows with sqlite3's executemany, one transaction, into a new database of the same schema."""
    for old in db_path.parent.glob(db_path.name + "*"):
        old.unlink()
    open_database(db_path)  # the same tables and indexes, empty
    close_database()
    with closing(_connect(db_path)) as db:
        wall, cpu = time.perf_counter(), time.process_time()
        db.execute("BEGIN")
        for table, columns in TABLES.items():
            db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                           rows[table])
        db.execute("COMMIT")
        return time.perf_counter() - wall, time.process_time() - cpu


def bench_ratio(tmp: Path, lines: int = 200_000, runs: int = 3) -> dict:
    """Collector and plain insert, alternately ``runs`` times each; the best time of each (the least
    disturbed by other work on the machine) gives the ratio."""
    logs = tmp / "ratio-logs"
    backlog = write_backlog(logs, lines, start=int(time.time()) - 7 * 86400)
    counts, wall, cpu = _collect(logs, tmp / "collector.db")
    assert (counts["queue_log"], counts["cdr"]) == (backlog.lines, backlog.cdr_rows), counts
    with closing(_connect(tmp / "collector.db")) as db:
        rows = {table: db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
                for table, columns in TABLES.items()}
    assert len(rows["queuecall"]) == backlog.calls
    collector_runs, plain_runs = [(wall, cpu)], [_plain_insert(rows, tmp / "plain.db")]
    for _ in range(runs - 1):
        collector_runs.append(_collect(logs, tmp / "collector.db")[1:])
        plain_runs.append(_plain_insert(rows, tmp / "plain.db"))
    collector_s, collector_cpu_s = min(w for w, _ in collector_runs), min(c for _, c in collector_runs)
    plain_s, plain_cpu_s = min(w for w, _ in plain_runs), min(c for _, c in plain_runs)
    stored = sum(len(r) for r in rows.values())
    return {"collector_ratio_lines": backlog.lines, "collector_ratio_cdr_rows": backlog.cdr_rows,
            "collector_ratio_rows_stored": stored, "collector_ratio_runs": runs,
            "collector_s": round(collector_s, 2), "plain_insert_s": round(plain_s, 2),
            "collector_cpu_s": round(collector_cpu_s, 2), "plain_insert_cpu_s": round(plain_cpu_s, 2),
            "collector_rows_per_s": round(stored / collector_s), "plain_insert_rows_per_s": round(stored / plain_s),
            "collector_vs_insert_ratio": round(plain_s / collector_s, 2),
            "collector_vs_insert_cpu_ratio": round(plain_cpu_s / collector_cpu_s, 2)}


# ``linebox collect --once`` as the command runs it, printing its peak RSS (VmHWM) as it exits: a child's
# ru_maxrss would count this process's own peak, which the kernel carries over the child's exec.
PEAK_RSS_AT_EXIT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write(next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))))
from appliance.cli import main
main()
"""


def collect_in_own_process(tmp: Path, lines: int) -> dict:
    """``linebox collect --once`` over a fresh backlog of ``lines`` lines: its time and peak RSS."""
    home = tmp / f"home-{lines}"
    logs = tmp / f"logs-{lines}"
    backlog = write_backlog(logs, lines, start=int(time.time()) - 7 * 86400)
    Install.create(home, asterisk_log=logs / "messages.log", manage_asterisk=False)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_RSS_AT_EXIT, "--home", str(home), "collect", "--once"],
                          capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    seconds = time.perf_counter() - start
    said = done.stdout.strip()
    expected = f"read {backlog.lines} queue_log line(s), {backlog.cdr_rows} call record(s)"
    if done.returncode != 0 or said != expected:
        raise RuntimeError(f"linebox collect --once ended with {done.returncode}, saying {said!r} (not {expected!r}):"
                           f" {done.stderr}")
    peak_kib = int(done.stderr.split("VmHWM:")[-1].split()[0])
    return {"lines": backlog.lines, "seconds": round(seconds, 1), "peak_rss_mib": round(peak_kib / 1024, 1)}


def main() -> dict:
    figures: dict = run_header()
    with tempfile.TemporaryDirectory(prefix="linebox-collector-bench-") as tmp:
        figures.update(bench_ratio(Path(tmp)))
        small = collect_in_own_process(Path(tmp), 100_000)
        large = collect_in_own_process(Path(tmp), 1_000_000)
    figures.update({
        "collector_backlog_lines": large["lines"], "collector_backlog_s": large["seconds"],
        "collector_backlog_lines_per_s": round(large["lines"] / large["seconds"]),
        "collector_backlog_peak_rss_mib": large["peak_rss_mib"],
        "collector_backlog_100k_lines": small["lines"], "collector_backlog_100k_peak_rss_mib": small["peak_rss_mib"],
        "goals": {"collector_vs_insert_ratio": 0.5,
                  "collector_backlog_peak_rss_mib": "flat: about collector_backlog_100k_peak_rss_mib"},
    })
    save_figures("collector", figures)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:36} {value}")
