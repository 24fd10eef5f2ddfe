"""The screen pop's caller history over 1,000,000 queue calls (``appliance.callcenter.history``).

1,000,000 queue calls over 90 days from 100,000 callers (and two busy ones: a switchboard with 500
calls, a reseller with 1% of all calls), 20% with a disposition and note, 10% through a second queue, are
written straight into the tables; then ``caller_history`` is timed for 200 callers picked at random, for
the busy ones, and for a number nobody called from.  The query plan is kept with the figures: it must read the
``(caller, entered)`` index, never the table.  Goal: the slowest under 50 ms (the pop must be on the page
within a second of the phone ringing, the history is one part of it).

Figures go to ``benchmarks/results/history.json`` with the machine's load average.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from appliance.callcenter import history
from appliance.install import Install
from appliance.model.database import close_database, database
from appliance.model.models import CallNote, QueueCall
from appliance.site import service
from benchmarks.sites import run_header, save_figures

CALLS = 1_000_000
CALLERS = 100_000
START = 1_790_000_000  # epoch seconds, late 2026
DAYS = 90
BUSY = "+8613900000000"
RESELLER = "013900000001"  # written nationally: found from the international form all the same


def _caller(rng: random.Random, i: int) -> str:
    return f"+86139{i:08d}"


def _fill(rng: random.Random) -> None:
    calls, notes = [], []
    for i in range(CALLS):
        caller = BUSY if i % 2000 == 0 else RESELLER if i % 100 == 1 else _caller(rng, rng.randrange(2, CALLERS))
        callid = f"{START + i * 7}.{i}"
        entered = START + rng.randrange(DAYS * 86400)
        outcome = "answered" if rng.random() < 0.85 else "abandoned"
        agent = str(200 + rng.randrange(50)) if outcome == "answered" else ""
        calls.append((callid, "700", entered, caller, outcome, rng.randrange(60), rng.randrange(600), agent))
        if rng.random() < 0.1:
            calls.append((callid, "701", entered + 120, caller, outcome, 5, rng.randrange(300), agent))
        if outcome == "answered" and rng.random() < 0.2:
            notes.append((callid, callid, "700", agent, rng.choice(("Sale", "Complaint", "Question")),
                          "note " * rng.randrange(1, 20)))
        if len(calls) >= 20_000:
            _write(calls, notes)
            calls, notes = [], []
    _write(calls, notes)


def _write(calls: list, notes: list) -> None:
    with database.atomic():
        cursor = database.connection()
        cursor.executemany("INSERT INTO queuecall (callid, queue, entered, caller, outcome, wait_seconds, talk_seconds,"
                           " agent, ended_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '')", calls)
        cursor.executemany("INSERT INTO callnote (callid, linkedid, queue, agent, disposition, note, user, saved) "
                           "VALUES (?, ?, ?, ?, ?, ?, 'bench', '2026-12-01')", notes)


def _ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return round((time.perf_counter() - started) * 1000, 2)


def main() -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="linebox-history-bench-"))
    try:
        Install.create(tmp / "home", manage_asterisk=False).open()
        service.save_settings({"country_code": "86"}, "bench")
        rng = random.Random(21)
        started = time.perf_counter()
        _fill(rng)
        fill_s = round(time.perf_counter() - started, 1)
        now = START + DAYS * 86400
        picked = [_caller(rng, rng.randrange(CALLERS)) for _ in range(200)]
        times = [_ms(lambda n=n: history.caller_history(n, "86", now=now)) for n in picked]
        plan = [row[-1] for row in database.execute_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM queuecall WHERE caller = ? AND callid != ? "
            "ORDER BY entered DESC LIMIT 50", (RESELLER, "")).fetchall()]
        figures = {**run_header(), "queue_calls": QueueCall.select().count(), "notes": CallNote.select().count(),
                   "fill_s": fill_s,
                   "history_median_ms": round(statistics.median(times), 2),
                   "history_p95_ms": sorted(times)[int(len(times) * 0.95)],
                   "history_max_ms": max(times),
                   "history_busiest_caller_ms": _ms(lambda: history.caller_history(BUSY, "86", now=now)),
                   "history_reseller_10000_calls_ms": _ms(
                       lambda: history.caller_history("+86 139 0000 0001", "86", now=now)),
                   "history_unknown_number_ms": _ms(lambda: history.caller_history("+12025550000", "86", now=now)),
                   "query_plan": plan, "goals": {"history_max_ms": 50}}
    finally:
        close_database()
        shutil.rmtree(tmp, ignore_errors=True)
    save_figures("history", figures)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:28} {value}")
