"""Call-center benchmarks: collector throughput and report query times over 1,000,000 calls.

* collector: a synthetic but realistic queue_log (ENTERQUEUE, RINGNOANSWER, CONNECT, COMPLETE*,
  ABANDON in Asterisk's format) of 200,000 lines is collected from scratch, then collected
  again (all duplicates); events per second are reported.  Goal: 5,000 events/s.
* reports: 1,000,000 queue calls over 30 days in 10 queues, plus the agents' daily logins and
  pauses; the collector's daily roll-up of those days is built (timed), then the per-queue KPI
  report for one day and for the whole month, the agent report (with pause time and occupancy),
  service level per day and calls per hour.  Goal: under 500 ms.
* wallboard latency: in the lab (Debian's Asterisk in the forky root, a carrier placing real SIP
  calls), from the AMI event of a caller joining a queue, as an independent AMI listener receives
  it, to the wallboard's server-sent event showing that caller, as an HTTP client of the console
  receives it; p50/p95 over 20 calls.  Goal: under 1 s.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.callcenter import collector, reports, rollup
from appliance.model.database import close_database, database, open_database
from appliance.model.models import QueueCall, QueueEvent
from benchmarks.sites import save_figures

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
    # each agent's working day: logged in to their queue 08:00-17:00, lunch and a short break
    events = []
    for d in range(30):
        for agent in range(200, 241):
            day, queue, who = base + d * 86400, str(700 + agent % 10), str(agent)
            for offset, event, data in ((8 * 3600, "ADDMEMBER", ""), (12 * 3600, "PAUSE", "lunch"),
                                        (12 * 3600 + 1800, "UNPAUSE", ""), (15 * 3600, "PAUSE", "break"),
                                        (15 * 3600 + 600, "UNPAUSE", ""), (17 * 3600, "REMOVEMEMBER", "")):
                events.append({"time": day + offset, "callid": "MANAGER", "queue": queue, "agent": who,
                               "event": event, "data": data})
    QueueEvent.insert_many(events).execute()
    load = time.perf_counter() - start
    start = time.perf_counter()
    now = int(time.time())
    while rollup.rolled_through() < rollup.midnight(now):  # the collector's first rounds after an upgrade
        with database.atomic():
            rollup.refresh((), now)
    build = time.perf_counter() - start

    def timed(fn) -> float:
        start = time.perf_counter()
        fn()
        return round((time.perf_counter() - start) * 1000, 1)

    day, month_end = START + timedelta(days=14), START + timedelta(days=30)
    figures = {
        "report_calls": calls, "report_load_s": round(load, 1), "report_rollup_build_s": round(build, 1),
        "report_queue_day_ms": timed(lambda: reports.queue_report(day, day + timedelta(days=1))),
        "report_queue_month_ms": timed(lambda: reports.queue_report(START, month_end)),
        "report_one_queue_month_ms": timed(lambda: reports.queue_report(START, month_end, queue="703")),
        "report_agents_month_ms": timed(lambda: reports.agent_report(START, month_end)),
        "report_hourly_month_ms": timed(lambda: reports.calls_per_hour(START, month_end)),
        "report_daily_sl_month_ms": timed(lambda: reports.daily_report(START, month_end)),
    }
    close_database()
    return figures


def bench_wallboard_latency(samples: int = 20) -> dict:
    """AMI QueueCallerJoin -> wallboard SSE message at an HTTP client, over real calls in the lab."""
    import http.client
    import statistics
    import threading

    from appliance.access import accounts, apitokens
    from appliance.asterisk import ami_users
    from appliance.asterisk.ami import Ami
    from appliance.services.http_server import make_server
    from appliance.site import service
    from appliance.web.app import create_app
    from lab import rootfs
    from lab.carrier import Phone, start_carrier
    from lab.pbx import start_pbx

    def add(kind: str, **data) -> None:
        service.save_object(kind, data, user="bench", create=True)

    tmp = Path(tempfile.mkdtemp(prefix="linebox-wallboard-bench-"))
    install, pbx = start_pbx(tmp / "pbx", rootfs.build())
    carrier = server = listener = None
    done = threading.Event()
    try:
        add("extension", number="201", name="Agent 201")
        add("queue", number="700", name="Support", members=[{"extension": "201", "penalty": 0}],
            announce_position=False)
        add("inbound_route", name="support", did="5553700", destination="queue:700")
        from appliance.provisioning import apply
        assert apply.apply(service.snapshot(), install.facts(), install.target(), user="bench").ok
        carrier = start_carrier(pbx.sip_port, [Phone(e.number, e.password) for e in service.list_objects("extension")])
        carrier.wait_registered(["201"])
        carrier.set_behaviour("201", "noanswer")
        add("trunk", name="telco", host="127.0.0.1", port=carrier.telco_port,
            match=[f"127.0.0.1:{carrier.telco_port}"])
        assert apply.apply(service.snapshot(), install.facts(), install.target(), user="bench").ok
        accounts.create_user("wall", "Wallboard-pass-1", "supervisor", actor="bench")
        token = apitokens.create_token("wall", "bench", "bench")

        joins: list[float] = []
        listener = Ami("127.0.0.1", service.load_settings().ami_port, ami_users.LIVE,
                       install.ami_user_secret(ami_users.LIVE))
        listener.connect()
        listener.on_event("QueueCallerJoin", lambda event, _m: joins.append(time.monotonic()))
        server = make_server(create_app(install), "127.0.0.1", 0)
        server.start()
        shown: list[tuple[float, int]] = []  # (arrival, callers waiting in queue 700)

        def read() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            conn.request("GET", "/wallboard/stream", headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            while not done.is_set():
                line = response.readline().decode()
                if line.startswith("data: "):
                    snap = json.loads(line[6:])
                    waiting = [q["waiting"] for q in snap.get("queues", []) if q["queue"] == "700"]
                    if waiting:
                        shown.append((time.monotonic(), waiting[0]))

        threading.Thread(target=read, daemon=True).start()
        ready = time.monotonic() + 30
        while time.monotonic() < ready and not shown:  # the board follows Asterisk: its first snapshot came
            time.sleep(0.05)
        if not shown:
            raise RuntimeError("the wallboard stream sent no snapshot of queue 700 within 30 s")
        latencies = []
        for n in range(samples):
            time.sleep(1.0)
            before = len(joins)
            carrier.call("telco", "5553700", tag=f"latency-{n}", hold=3)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and len(joins) == before:
                time.sleep(0.01)
            joined = joins[before]
            while time.monotonic() < deadline and not any(t >= joined and w >= 1 for t, w in shown):
                time.sleep(0.01)
            seen = next((t for t, w in shown if t >= joined and w >= 1), None)
            if seen is None:
                raise RuntimeError(f"sample {n}: the wallboard never showed the caller who joined the queue")
            latencies.append(seen - joined)
            while time.monotonic() < deadline + 10 and not (shown and shown[-1][1] == 0):
                time.sleep(0.05)  # the caller hung up: the board is idle again before the next sample
        ordered = sorted(latencies)
        return {"wallboard_samples": samples,
                "wallboard_latency_p50_ms": round(statistics.median(ordered) * 1000, 1),
                "wallboard_latency_p95_ms": round(ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)] * 1000, 1),
                "wallboard_latency_max_ms": round(ordered[-1] * 1000, 1)}
    finally:
        done.set()
        if server is not None:
            server.close()
        if listener is not None:
            listener.close()
        if carrier is not None:
            carrier.stop()
        pbx.stop()
        close_database()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        figures = bench_collector(Path(tmp))
        figures.update(bench_reports(Path(tmp)))
    figures.update(bench_wallboard_latency())
    figures["goals"] = {"collector_events_per_s": 5000, "report_ms": 500, "wallboard_latency_ms": 1000}
    return figures


def save(figures: dict) -> None:
    save_figures("callcenter", figures)


if __name__ == "__main__":
    results = main()
    results["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    save(results)
    for key, value in results.items():
        print(f"{key:28} {value}")
