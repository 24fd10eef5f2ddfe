"""Call cost at scale: the slowest cost report over 1,000,000 priced calls, a 50,000-line rate table
imported, and the collector pricing a backlog of trunk calls.

* reports: 1,000,000 priced outbound calls over 30 days from 2,000 extensions in 20 departments through
  10 trunks (30 % of them legs of queue calls, in 20 queues answered by 300 agents) are written straight
  into the call records table (and the queue calls table), with the daily roll-up the collector keeps
  as it prices (the collector's pricing is timed apart); then each cost report (per department,
  extension, agent, queue, trunk, class and inbound trunk, per month and per day) is timed.  Goal: the
  slowest under 500 ms (``cost_report_month_ms``).  The top destinations, read from the records
  themselves, are timed apart.
* rate import: a 50,000-line table (prefixes of a carrier's international list) imported from CSV
  through the same service as the console and the CLI.  Goal: a few seconds.
* pricing: 20,000 CDR rows of trunk calls collected from a CDR database: records per second priced and
  stored, beside the same rows collected with no rate table (the cost of pricing, as a ratio).

Figures go to ``benchmarks/results/cost.json`` with the machine's load average.
"""

from __future__ import annotations

import datetime
import random
import shutil
import sqlite3
import tempfile
import time
from contextlib import closing
from pathlib import Path

from appliance.billing import rates_csv, reports
from appliance.callcenter import collector
from appliance.install import Install
from appliance.model.database import close_database, database
from appliance.site import service
from benchmarks.sites import run_header, save_figures

CALLS = 1_000_000
EXTENSIONS = 2_000
DEPARTMENTS = 20
TRUNKS = 10
QUEUED = 0.3  # the share of calls that are queue calls
QUEUES = 20
AGENTS = 300
CLASSES = ("local", "national", "mobile", "international", "toll_free")
START = datetime.datetime(2026, 11, 1)
HEADER = "prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description\r\n"


def _fill(rng: random.Random) -> None:
    """The site's extensions with departments, and CALLS priced records, written in bulk."""
    with database.atomic():
        _fill_extensions()
    rows, stays = [], []
    seconds = 30 * 86400
    for i in range(CALLS):
        start = START + datetime.timedelta(seconds=i * seconds // CALLS)
        billsec = rng.randint(0, 600)
        rows.append((f"{i}.0", 0, f"{i}.0", start.strftime("%Y-%m-%d %H:%M:%S"), billsec, "ANSWERED",
                     str(10000 + rng.randrange(EXTENSIONS)), f"trunk{rng.randrange(TRUNKS)}",
                     f"86139{rng.randrange(10**6):06d}", rng.choice(CLASSES), rng.randint(0, 5000), "CNY"))
        if rng.random() < QUEUED:  # a queue call the agent forwarded out: counted per queue and agent
            stays.append((f"{i}.0", str(700 + rng.randrange(QUEUES)), int(start.timestamp()), "answered",
                          str(10000 + rng.randrange(AGENTS))))
        if len(rows) == 50_000:
            _store(rows, stays)
            rows.clear()
            stays.clear()
    _store(rows, stays)
    with database.atomic():  # the daily roll-up the collector keeps as it prices, built once here
        for dimension, column in (("extension", "extension"), ("trunk", "trunk"), ("class", "number_class")):
            database.execute_sql(
                "INSERT INTO costday (dimension, day, key, currency, calls, seconds, cost_minor)"
                f" SELECT ?, substr(start, 1, 10), {column}, currency, COUNT(*), SUM(billsec), SUM(cost_minor)"
                " FROM callrecord WHERE billsec > 0 AND cost_minor IS NOT NULL GROUP BY 2, 3, 4", (dimension,))


def _fill_extensions() -> None:
    database.cursor().executemany(
        "INSERT INTO extension (number, name, password, voicemail, voicemail_pin, email, recording, ring_seconds,"
        " department, permitted_networks, options, accepted_risks)"
        " VALUES (?, ?, '', 0, '', '', 'never', 25, ?, '[]', '{}', '[]')",
        [(str(10000 + i), f"User {i}", f"Dept {i % DEPARTMENTS}") for i in range(EXTENSIONS)])


def _store(rows: list[tuple], stays: list[tuple]) -> None:
    with database.atomic():
        database.cursor().executemany(
            "INSERT INTO queuecall (callid, queue, entered, caller, outcome, wait_seconds, talk_seconds, agent,"
            " ended_by) VALUES (?, ?, ?, '', ?, 10, 60, ?, '')", stays)
        database.cursor().executemany(
            "INSERT INTO callrecord (uniqueid, sequence, linkedid, start, billsec, disposition, extension, trunk,"
            " number, number_class, cost_minor, currency, answer, end, src, dst, dcontext, channel, dstchannel,"
            " lastapp, duration, userfield)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '', '', '', '', '', 'Dial', 0, '')", rows)


def _timed_ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return round((time.perf_counter() - started) * 1000, 1)


def bench_reports(home: Path) -> dict:
    Install.create(home, manage_asterisk=False).open()
    try:
        _fill(random.Random(11))
        first, last = START.date(), (START + datetime.timedelta(days=29)).date()
        timings = {}
        # the first per-queue report rolls the month's past days up (once; the collector drops a day's roll-up
        # when it stores a record or queue call of it): timed apart, the reports below read the roll-up
        timings["queue_rollup_first_month_ms"] = _timed_ms(lambda: reports.cost_report(first, last, "queue", "month"))
        for by in reports.GROUPS:
            for period in ("month", "day"):
                timings[f"cost_by_{by}_{period}_ms"] = _timed_ms(
                    lambda by=by, period=period: reports.cost_report(first, last, by, period))
        timings["top_destinations_ms"] = _timed_ms(lambda: reports.top_destinations(first, last))
        grouped = [v for k, v in timings.items() if k.startswith("cost_by_")]
        return {"priced_calls": CALLS, **timings, "cost_report_month_ms": max(grouped)}
    finally:
        close_database()


def bench_rate_import(home: Path) -> dict:
    Install.create(home, manage_asterisk=False).open()
    try:
        service.save_object("trunk", {"name": "carrier", "host": "192.0.2.1"}, user="bench")
        rng = random.Random(5)
        prefixes = sorted({str(rng.randrange(10**7, 10**9)) for _ in range(60_000)})[:50_000]
        text = HEADER + "".join(f"{p},,{rng.randrange(1, 5000) / 1000},60/60,,,CNY,\r\n" for p in prefixes)
        started = time.perf_counter()
        stored = rates_csv.import_bytes("carrier", text.encode(), datetime.date(2026, 11, 1), "bench")
        return {"rate_import_lines": stored, "rate_import_50k_s": round(time.perf_counter() - started, 2)}
    finally:
        close_database()


def _cdr_backlog(path: Path, rows: int) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(f"CREATE TABLE cdr (AcctId INTEGER PRIMARY KEY, {', '.join(collector.CDR_FIELDS)})")
        db.executemany("INSERT INTO cdr (uniqueid, sequence, linkedid, start_time, channel, lastapp, lastdata,"
                       " billsec, disposition, userfield) VALUES (?, 0, ?, ?, ?, 'Dial', ?, ?, 'ANSWERED', ?)",
                       [(f"{i}.0", f"{i}.0", f"2026-11-{1 + i % 28:02d} 10:00:00", f"PJSIP/{10000 + i % 500}-1",
                         f"PJSIP/0{21 + i % 50}{60000000 + i}@carrier,300", 60 + i % 300, "trunk:carrier")
                        for i in range(rows)])


def bench_pricing(home: Path, rows: int = 20_000) -> dict:
    figures = {}
    for label, with_rates in (("unpriced", False), ("priced", True)):
        Install.create(home / label, manage_asterisk=False).open()
        try:
            service.save_settings({"country_code": "86", "area_code": "21"}, user="bench")
            service.save_object("trunk", {"name": "carrier", "host": "192.0.2.1"}, user="bench")
            if with_rates:
                rates_csv.import_bytes("carrier", (HEADER + ",local,0.02,6/6,,100,CNY,\r\n,,0.07,60/60,,,CNY,\r\n")
                                       .encode(), datetime.date(2026, 11, 1), "bench")
            cdr = home / f"{label}-cdr.db"
            _cdr_backlog(cdr, rows)
            started = time.perf_counter()
            collector.collect_cdr(cdr)
            figures[f"collect_{label}_records_per_s"] = round(rows / (time.perf_counter() - started))
        finally:
            close_database()
    figures["pricing_cost_ratio"] = round(figures["collect_unpriced_records_per_s"]
                                          / figures["collect_priced_records_per_s"], 2)
    return figures


def main() -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="linebox-cost-bench-"))
    try:
        figures = {**run_header(), **bench_reports(tmp / "reports"), **bench_rate_import(tmp / "rates"),
                   **bench_pricing(tmp / "pricing")}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figures["goals"] = {"cost_report_month_ms": 500}
    save_figures("cost", figures)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:32} {value}")
