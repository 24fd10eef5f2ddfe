"""Call-center benchmarks: collector throughput and report query times over 1,000,000 calls.

* collector: a synthetic but realistic queue_log (ENTERQUEUE, RINGNOANSWER, CONNECT, COMPLETE*,
  ABANDON in Asterisk's format) of 200,000 lines is collected from scratch, then collected
  again (all duplicates); events per second are reported.  Goal: 5,000 events/s.
* reports: 1,000,000 queue calls over 30 days in 10 queues; the per-queue KPI report for one
  day and for the whole month, the agent report and calls per hour.  Goal: under 500 ms.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.callcenter import collector, reports
from appliance.model.database import close_database, open_database
from appliance.model.models import QueueCall

START = datetime(2026, 10, 1, tzinfo=UTC)


def synthetic_queue_log(path: Path, calls: int) -> int:
    rng = random.Random(7)
    lines = []
    t = int(START.timestamp())
    for i in range(calls):
        t += rng.randint(1, 20)
        callid = f"1760000000.{i}"
        queue = str(700 + i % 10)
        lines.append(f"{t}|{callid}|{queue}|NONE|ENTERQUEUE||+4420{i:07d}|1")
        wait = rng.randint(0, 90)
        if rng.random() < 0.85:
            agent = str(200 + rng.randint(0, 40))
            lines.append(f"{t + wait // 2}|{callid}|{queue}|{agent}|RINGNOANSWER|15000")
            lines.append(f"{t + wait}|{callid}|{queue}|{agent}|CONNECT|{wait}|{callid}.1|3")
            lines.append(f"{t + wait + 200}|{callid}|{queue}|{agent}|COMPLETECALLER|{wait}|200|1")
        else:
            lines.append(f"{t + wait}|{callid}|{queue}|NONE|ABANDON|1|1|{wait}")
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def bench_collector(tmp: Path) -> dict:
    open_database(tmp / "collector.db")
    log = tmp / "queue_log"
    lines = synthetic_queue_log(log, 50_000)
    start = time.perf_counter()
    collector.collect_queue_log(log)
    first = time.perf_counter() - start
    collector.CollectorState.delete().execute()  # a restart that lost its offsets: everything again
    start = time.perf_counter()
    collector.collect_queue_log(log)
    again = time.perf_counter() - start
    close_database()
    return {"collector_lines": lines, "collector_events_per_s": round(lines / first),
            "collector_replay_events_per_s": round(lines / again)}


def bench_reports(tmp: Path, calls: int = 1_000_000) -> dict:
    open_database(tmp / "reports.db")
    rng = random.Random(11)
    base = int(START.timestamp())
    span = 30 * 86400
    batch = []
    start = time.perf_counter()
    for i in range(calls):
        answered = rng.random() < 0.85
        batch.append({"callid": f"c{i}", "queue": str(700 + i % 10), "entered": base + (i * span) // calls,
                      "caller": f"+4420{rng.randint(0, 200_000):07d}",
                      "outcome": "answered" if answered else "abandoned", "wait_seconds": rng.randint(0, 120),
                      "talk_seconds": rng.randint(30, 600) if answered else 0,
                      "agent": str(200 + rng.randint(0, 40)) if answered else "", "ended_by": "caller",
                      "next_call_seconds": rng.randint(600, 200_000) if rng.random() < 0.3 else None})
        if len(batch) == 5000:
            QueueCall.insert_many(batch).execute()
            batch = []
    if batch:
        QueueCall.insert_many(batch).execute()
    load = time.perf_counter() - start

    def timed(fn) -> float:
        start = time.perf_counter()
        fn()
        return round((time.perf_counter() - start) * 1000, 1)

    day, month_end = START + timedelta(days=14), START + timedelta(days=30)
    figures = {
        "report_calls": calls, "report_load_s": round(load, 1),
        "report_queue_day_ms": timed(lambda: reports.queue_report(day, day + timedelta(days=1))),
        "report_queue_month_ms": timed(lambda: reports.queue_report(START, month_end)),
        "report_one_queue_month_ms": timed(lambda: reports.queue_report(START, month_end, queue="703")),
        "report_agents_month_ms": timed(lambda: reports.agent_report(START, month_end)),
        "report_hourly_month_ms": timed(lambda: reports.calls_per_hour(START, month_end)),
    }
    close_database()
    return figures


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        figures = bench_collector(Path(tmp))
        figures.update(bench_reports(Path(tmp)))
    figures["goals"] = {"collector_events_per_s": 5000, "report_ms": 500}
    return figures


def save(figures: dict) -> None:
    from benchmarks.run import RESULTS
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "callcenter.json").write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    results = main()
    results["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    save(results)
    for key, value in results.items():
        print(f"{key:28} {value}")
