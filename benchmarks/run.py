"""``make bench``: render and apply a large site against the lab's real Asterisk.

Site: 10,000 extensions, 200 trunks, 1,000 routes (500 inbound, 500
outbound), 100 ring groups.  Measured: storing it (config import path),
rendering every file (timed, then traced for memory in a run of its own: tracing
slows it several times), a full apply including Asterisk's reloads and
verification, a one-extension change applied, and peak memory; the object road
(``benchmarks.live``: 50 extensions created, given a new password and deleted through the REST API, each
timed until a phone's REGISTER shows it).  Then the
apply's overhead: five applies that change pjsip.conf, extensions.conf and
voicemail.conf, each divided by Asterisk's own reloads of the same files (the
same generations swapped by hand and the same reload commands sent over AMI),
goal 1.2 in every run (``full_apply_ratio_worst``); and Asterisk's resident
memory across 50 applies of one change.  Figures are printed and written to
``benchmarks/results/core.json``.  Goals on a 2-core machine: render under 1 s,
full apply under 5 s.  Then, unless
``--core-only``, the call-center (``benchmarks.callcenter``), collector at the
limit (``benchmarks.collector``), console (``benchmarks.web``), trunk
failover (``benchmarks.failover``), SIP ban (``benchmarks.bans``), call cost (``benchmarks.cost``),
caller history (``benchmarks.history``), call-record search (``benchmarks.callrecords``), voice robot
(``benchmarks.robot``) and multi-node failover (``benchmarks.cluster``) benchmarks, and last how many calls
one box carries (``benchmarks.capacity``: SIPp load under a CPU quota);
the site they share and the results folder are in ``benchmarks.sites``.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from appliance.model.database import close_database
from appliance.provisioning import apply, files, generations, render
from appliance.site import service
from benchmarks.sites import big_site, run_header, save_figures
from lab import rootfs
from lab.pbx import start_pbx


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _rename(number: str, name: str, **more) -> None:
    one = service.get_object("extension", number)
    service.save_object("extension", {**one.model_dump(), "name": name, **more}, "bench", original_key=number)


def _reload_commands(changed: list[str]) -> list[str]:
    """The commands apply sends for these files (:mod:`appliance.provisioning.reload`), in its order."""
    commands: list[str] = []
    for name in changed:
        entry = files.BY_NAME.get(name)
        if entry and entry.reload and entry.reload not in commands:
            commands.append(entry.reload)
    return commands


def apply_overhead(install, facts, runs: int = 5) -> dict:
    """Full apply ÷ Asterisk's own reloads of the same files, ``runs`` times.

    Each run renames an extension with a mailbox and changes its ring time and applies it (the whole apply:
    reading the site, check, render, the extensions' rows, stage, reloads, verify).  Its endpoint and ring
    time are rows of the projection, so of the files only voicemail.conf changes (its mailbox line): the
    apply reloads app_voicemail alone, and Linebox's own work is most of what is left.  Then the same
    reloads by hand: the previous generation put back live and the same reload commands sent, then the new
    one and the commands again: Asterisk going through the same change of the same files both ways, with
    nothing of Linebox's around it; the mean of both is the run's divisor."""
    target = install.target()
    ratios, applies, raws, own, steps = [], [], [], [], []
    with install.connect_apply_ami(timeout=120) as ami:
        for run in range(runs):
            before = target.live_generation()
            _rename(str(10000 + 2 * run), f"Run {run} user", ring_seconds=30 + run)
            result, seconds = timed(lambda: apply.apply(service.snapshot, facts, target, user="bench"))
            if not result.ok:
                raise SystemExit(f"apply {run} failed: {result.error}")
            after = target.live_generation()
            commands = _reload_commands(result.changed)

            def reload_all(commands=commands) -> None:
                for command in commands:
                    ami.command(command)
            generations.point_live_at(target, before)
            _, back = timed(reload_all)
            generations.point_live_at(target, after)
            _, forward = timed(reload_all)
            raw = (back + forward) / 2  # the same change both ways: less of the machine's noise in one run
            in_apply = sum(s.seconds for s in result.steps if s.name.startswith("reload: "))
            applies.append(round(seconds, 3))
            # per step, and what no step times (reading the site, the lock, reading the live generation)
            steps.append({**{s.name: round(s.seconds * 1000) for s in result.steps},
                          "outside steps": round((seconds - sum(s.seconds for s in result.steps)) * 1000)})
            raws.append(round(raw, 3))
            ratios.append(round(seconds / raw, 3))
            own.append(round(seconds / in_apply, 3))
            print(f"run {run + 1}: apply {seconds:.2f} s, Asterisk's reloads {back:.2f}/{forward:.2f} s, "
                  f"ratio {ratios[-1]}", file=sys.stderr, flush=True)
    return {"full_apply_runs_s": applies, "asterisk_own_reloads_s": raws, "full_apply_ratios": ratios,
            "full_apply_reloads": commands, "full_apply_runs_steps_ms": steps,
            "full_apply_ratio_worst": max(ratios), "full_apply_ratio_median": statistics.median(ratios),
            # the apply's wall time ÷ its own reload commands' (the same Asterisk work, timed inside the
            # apply): Linebox's overhead without the noise of comparing two runs of Asterisk's reloads
            "full_apply_ratio_to_its_reload_steps": own}


def settle(pbx, deadline_s: float = 300.0) -> dict:
    """Wait until res_pjsip_options has nothing queued; the seconds waited, and whether it emptied in time.

    The object road's 50 new extensions each made Asterisk read every endpoint at their first registration
    (see ``benchmarks.live``), seconds each, queued one after the other on one serializer; an apply measured
    meanwhile would be measured against a busy Asterisk, and its reload against an idle one."""
    start = time.perf_counter()
    while True:
        out = pbx.cli("core show taskprocessors like options/manage", timeout=60)
        row = next((ln.split() for ln in out.splitlines() if "options/manage" in ln), None)
        waited = round(time.perf_counter() - start, 1)
        if row is None or (len(row) > 2 and row[2] == "0"):
            return {"settle_before_overhead_s": waited, "settled_before_overhead": True}
        if waited > deadline_s:
            print(f"Asterisk's options serializer still busy after {waited} s: {row}", file=sys.stderr, flush=True)
            return {"settle_before_overhead_s": waited, "settled_before_overhead": False}
        time.sleep(0.5)  # polling Asterisk's own queue: the condition is the queue, not the time


def _asterisk_rss_kib(pbx) -> int:
    """The lab's Asterisk (started under unshare and chroot, in the session of the process we hold)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            comm = fields[0].split("(", 1)[1]
            session = int(fields[1].split()[3])
        except (OSError, IndexError, ValueError):
            continue
        if comm == "asterisk" and session == pbx.process.pid:
            status = (stat.parent / "status").read_text()
            return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:")))
    raise SystemExit("the lab's Asterisk process was not found")


def asterisk_memory(install, facts, pbx, applies: int = 50) -> dict:
    """Asterisk's resident memory across ``applies`` applies of one change each (a renamed extension)."""
    target = install.target()
    start = _asterisk_rss_kib(pbx)
    samples = [start]
    failed = []
    for n in range(applies):
        _rename(str(10001 + 2 * (n % 25)), f"Memory {n}")
        result = apply.apply(service.snapshot, facts, target, user="bench")
        if not result.ok:  # kept and counted (Asterisk's own errors, e.g. pjproject's asserts): the run goes on
            failed.append(f"apply {n + 1}: {result.error}")
            print(f"apply {n + 1} failed: {result.error}", file=sys.stderr, flush=True)
        if (n + 1) % 10 == 0:
            samples.append(_asterisk_rss_kib(pbx))
            print(f"{n + 1} applies: Asterisk RSS {samples[-1] / 1024:.1f} MiB", file=sys.stderr, flush=True)
    return {"asterisk_rss_mib_every_10_applies": [round(k / 1024, 1) for k in samples],
            "asterisk_rss_growth_mib_50_applies": round((samples[-1] - start) / 1024, 1),
            "asterisk_rss_applies_failed": failed}


def main() -> int:
    figures: dict = {**run_header(),
                     "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}"}
    site = big_site()
    root = rootfs.build()
    figures["asterisk"] = rootfs.asterisk_version(root)
    with tempfile.TemporaryDirectory() as tmp:
        install, pbx = start_pbx(Path(tmp) / "home", root)
        try:
            site.settings = service.load_settings()
            counts, seconds = timed(lambda: service.replace_site(site, "bench"))
            figures["store_site_s"] = round(seconds, 3)

            snapshot, seconds = timed(service.snapshot)
            figures["load_snapshot_s"] = round(seconds, 3)
            facts = install.facts()
            rendered, seconds = timed(lambda: render.render_all(snapshot, facts))
            figures["render_s"] = round(seconds, 3)
            tracemalloc.start()  # a run of its own: tracing every allocation slows rendering several times
            render.render_all(snapshot, facts)
            figures["render_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 1)
            tracemalloc.stop()
            figures["rendered_kib"] = sum(len(t) for t in rendered.values()) // 1024

            result, seconds = timed(lambda: apply.apply(snapshot, facts, install.target(), user="bench"))
            if not result.ok:
                print(f"full apply failed: {result.error}", file=sys.stderr)
                return 1
            figures["full_apply_s"] = round(seconds, 3)
            figures["full_apply_steps_ms"] = {s.name: round(s.seconds * 1000) for s in result.steps}

            one = service.get_object("extension", "10005")
            service.save_object("extension", {**one.model_dump(), "name": "Renamed user"}, "bench",
                                original_key="10005")
            result, seconds = timed(lambda: apply.apply(service.snapshot(), facts, install.target(), user="bench"))
            figures["one_change_apply_s"] = round(seconds, 3)
            figures["one_change_apply_steps_ms"] = {s.name: round(s.seconds * 1000) for s in result.steps}
            # every endpoint listed: extensions are rows (appliance.provisioning.projection), read one by one
            listed, seconds = timed(lambda: pbx.cli("pjsip show endpoints", timeout=600))
            figures["asterisk_endpoints"] = listed.count(" Endpoint:  ") - 1
            figures["pjsip_show_endpoints_s"] = round(seconds, 3)
            from benchmarks import live  # the object road: one extension saved -> its phone registers
            figures.update(live.measure(install, pbx))
            figures.update(settle(pbx))
            figures.update(apply_overhead(install, facts))
            figures.update(asterisk_memory(install, facts, pbx))
        finally:
            pbx.stop()
            close_database()
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["goals"] = {"render_s": 1.0, "full_apply_s": 5.0, "full_apply_ratio_worst": 1.2, "edit_live_p95_ms": 100}
    figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
    save_figures("core", figures)
    for key, value in figures.items():
        print(f"{key:24} {value}")
    if "--core-only" in sys.argv:
        return 0
    from benchmarks import callcenter  # here, not at the top: --core-only needs neither of the others
    cc = callcenter.main()
    cc["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    callcenter.save(cc)
    for key, value in cc.items():
        print(f"{key:28} {value}")
    from benchmarks import collector
    for key, value in collector.main().items():
        print(f"{key:36} {value}")
    from benchmarks import web
    for key, value in web.main().items():
        print(f"{key:28} {value}")
    from benchmarks import failover
    for key, value in failover.main().items():
        print(f"{key:28} {value}")
    from benchmarks import bans
    for key, value in bans.main().items():
        print(f"{key:28} {value}")
    from benchmarks import cost
    for key, value in cost.main().items():
        print(f"{key:32} {value}")
    from benchmarks import history
    for key, value in history.main().items():
        print(f"{key:28} {value}")
    from benchmarks import callrecords
    for key, value in callrecords.main().items():
        print(f"{key:32} {value}")
    from benchmarks import robot
    for key, value in robot.main().items():
        print(f"{key:32} {value}")
    from benchmarks import cluster  # the multi-node edge: a node killed, its calls to the standby
    for key, value in cluster.main().items():
        print(f"{key:32} {value}")
    from benchmarks import capacity  # last: the heaviest, SIPp load stepped up under a CPU quota
    for key, value in capacity.main().items():
        print(f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
