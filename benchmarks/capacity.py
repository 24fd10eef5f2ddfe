"""How much one box carries: SIPp callers through IVR → queue → agents, stepped up under a fixed CPU quota.

The lab site of :mod:`lab.load`: SIPp callers come in through a trunk, press 1 in the IVR (RFC 2833),
wait in queue 700 (recording always on: MixMonitor writes every call), and are answered by agents (the
carrier's phones) who talk for ``HOLD`` seconds while SIPp plays speech to them.  The pbx's Asterisk (all
of its processes) runs under ``QUOTA`` of one CPU (``lab.cpu_quota``: a cgroup, v1 or v2), so that the
figure does not depend on what else the shared machine does; SIPp and the carrier run outside it.

Each step places ``2 × N`` calls, at most ``N`` at once (ramped up over about four seconds), and
records: calls attempted, answered by an agent, failed; Asterisk's CPU (the cgroup's usage over the
step, in cores, and how often the quota throttled it); its peak resident memory; the audio the agents
received as their RTP stacks counted it (``CHANNEL(rtcp,all)`` on each agent's channel: lost packets and
interarrival jitter).  A step passes when every call was answered and ended normally, no call lost more
than ``MAX_LOSS_PCT`` % of its packets and the 95th percentile of the calls' jitter is under
``MAX_JITTER_MS``; stepping stops at the first step that fails.  ``capacity_concurrent_calls`` is the
highest step that passed.  After each step every call is looked up in the call records (the collector's
database) and the queue report: exactly one contact and one queue stay each, and the queue report's
offered count equals the calls placed over the whole run, and the queue's recordings on disk the
calls answered.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchmarks.sites import run_header, save_figures

QUOTA = 0.5  # of one CPU
STEPS = (5, 10, 20, 40, 60, 70, 80, 90, 100, 120, 150)
HOLD = 15  # seconds an agent talks
MAX_LOSS_PCT = 1.0  # of one call's packets
MAX_JITTER_MS = 20.0  # 95th percentile over a step's calls
RTP_PORTS = (52000, 59998)  # beyond the lab's per-instance ranges (10000-49999)


def _idle(pbx, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while pbx.cli("core show channels concise").strip():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)] if ordered else float("nan")


def step(site, quota, asterisk: int, concurrent: int) -> dict:
    """One step of ``2 × concurrent`` calls; its figures."""
    from lab.load import Sampler
    calls = 2 * concurrent
    used, throttled, started = quota.usage_s(), quota.throttled(), time.monotonic()
    with Sampler(asterisk) as memory:
        run, result = site.place(calls=calls, concurrent=concurrent, rate=max(1.0, concurrent / 4),
                                 time_limit_s=2 * (HOLD + 30) + 20)
    seconds = time.monotonic() - started
    cpu = (quota.usage_s() - used) / seconds
    seen = site.account(run, result.created)
    qos = [q for q in seen["qos"].values() if q is not None]
    loss = [100 * q.get("lp", 0) / max(1.0, q.get("rxcount", 0) + q.get("lp", 0)) for q in qos]
    jitter = [1000 * q.get("rxjitter", 0) for q in qos]  # Asterisk reports it in seconds
    answered = sum(seen["answered"].values())
    figures = {
        "concurrent_calls": concurrent, "calls_attempted": calls, "calls_created": result.created,
        "calls_answered": answered, "calls_failed": calls - min(answered, result.successful),
        "sipp_successful": result.successful, "sipp_failed": result.failed, "step_s": round(seconds, 1),
        "asterisk_cpu_cores": round(cpu, 3), "asterisk_cpu_pct_of_quota": round(100 * cpu / quota.share, 1),
        "quota_throttled_periods": quota.throttled() - throttled,
        "asterisk_peak_rss_mib": round(memory.peak_kib / 1024, 1),
        "rtp_loss_pct_mean": round(statistics.mean(loss), 3) if loss else None,
        "rtp_loss_pct_worst": round(max(loss), 3) if loss else None,
        "rtp_jitter_ms_median": round(statistics.median(jitter), 2) if jitter else None,
        "rtp_jitter_ms_p95": round(_percentile(jitter, 0.95), 2) if jitter else None,
        "rtp_packets_received_mean": round(statistics.mean(q.get("rxcount", 0) for q in qos)) if qos else 0,
        "records_each_once": all(n == 1 for n in seen["record_contacts"].values()),
        "queue_report_each_once": all(n == 1 for n in seen["queue_rows"].values()),
        "load_average": round(os.getloadavg()[0], 2),
    }
    figures["passed"] = bool(
        figures["calls_failed"] == 0 and result.created == calls and qos and len(qos) == calls
        and figures["rtp_loss_pct_worst"] <= MAX_LOSS_PCT and figures["rtp_jitter_ms_p95"] <= MAX_JITTER_MS
        and figures["records_each_once"] and figures["queue_report_each_once"])
    if not figures["passed"]:
        figures["sipp_output_tail"] = result.output[-1500:]
        figures["unfinished_calls"] = seen["unfinished"]
    return figures


def main(steps: tuple[int, ...] = STEPS, quota_share: float = QUOTA) -> dict:
    from appliance.callcenter import reports
    from appliance.model.database import close_database
    from appliance.model.models import QueueCall
    from lab import load, rootfs, sipp
    from lab.cpu_quota import cpu_quota, session_pids
    if not sipp.available():
        raise SystemExit("SIPp is missing: apt-get install sip-tester (debian-packages.txt, [test])")
    figures: dict = {**run_header(), "capacity_cpu_quota": quota_share, "hold_seconds": HOLD,
                     "bounds": {"rtp_loss_pct_worst_call": MAX_LOSS_PCT, "rtp_jitter_ms_p95": MAX_JITTER_MS,
                                "calls_lost": 0}}
    curve: list[dict] = []
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="linebox-capacity-") as tmp:
        site = load.start(Path(tmp), rootfs.build(), agents=max(steps), hold=HOLD, talk_seconds=HOLD + 10,
                          rtp_ports=RTP_PORTS)
        try:
            assert site.pbx.process is not None
            asterisk = load.asterisk_pid(site.pbx)
            figures["asterisk_idle_rss_mib"] = round(load.rss_kib(asterisk) / 1024, 1)
            start_day = reports.today()[0]
            with cpu_quota(session_pids(site.pbx.process.pid), quota_share, "capacity") as quota:
                for concurrent in steps:
                    figures_of_step = step(site, quota, asterisk, concurrent)
                    curve.append(figures_of_step)
                    print(" ".join(f"{k}={v}" for k, v in figures_of_step.items() if k not in ("sipp_output_tail",)),
                          file=sys.stderr, flush=True)
                    idle = _idle(site.pbx)
                    if not figures_of_step["passed"] or not idle:
                        break
            placed = sum(s["calls_created"] for s in curve)
            queue_rows = QueueCall.select().where(QueueCall.queue == load.QUEUE).count()
            [report] = reports.queue_report(start_day, reports.today()[1] + timedelta(seconds=1), queue=load.QUEUE)
            figures["run_calls_placed"] = placed
            figures["run_queue_rows"] = queue_rows
            figures["run_queue_report_offered"] = report.offered
            figures["run_each_call_once"] = placed == queue_rows == report.offered
            figures["run_recordings"] = site.recordings()
            answered = sum(s["calls_answered"] for s in curve)
            figures["run_recordings_match_answered"] = figures["run_recordings"] == answered
        finally:
            site.stop()
            close_database()
    passed = [s["concurrent_calls"] for s in curve if s["passed"]]
    figures["capacity_concurrent_calls"] = max(passed) if passed else 0
    figures["capacity_limit_reached"] = bool(curve and not curve[-1]["passed"])
    good = [s for s in curve if s["passed"]]
    if good:  # what one more call costs, from the loads that passed
        top = max(good, key=lambda s: s["concurrent_calls"])
        figures["asterisk_cpu_cores_per_call"] = round(
            statistics.median(s["asterisk_cpu_cores"] / s["concurrent_calls"] for s in good), 4)
        figures["asterisk_rss_mib_per_call"] = round(
            (top["asterisk_peak_rss_mib"] - figures["asterisk_idle_rss_mib"]) / top["concurrent_calls"], 2)
    figures["curve"] = curve
    figures["duration_s"] = round(time.monotonic() - began, 1)
    figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
    save_figures("capacity", figures)
    return figures


if __name__ == "__main__":
    chosen = tuple(int(n) for n in sys.argv[1].split(",")) if len(sys.argv) > 1 else STEPS
    for key, value in main(chosen).items():
        if key != "curve":
            print(f"{key:32} {value}")
