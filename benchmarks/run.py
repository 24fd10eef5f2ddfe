"""``make bench``: render and apply a large site against the lab's real Asterisk.

Site: 10,000 extensions, 200 trunks, 1,000 routes (500 inbound, 500
outbound), 100 ring groups.  Measured: storing it (config import path),
rendering every file, a full apply including Asterisk's reloads and
verification, a one-extension change applied, and peak memory.  Figures are
printed and written to ``benchmarks/results/core.json``.  Goals on a
2-core machine: render under 1 s, full apply under 5 s.  Then, unless
``--core-only``, the call-center (``benchmarks.callcenter``), collector at the
limit (``benchmarks.collector``), console (``benchmarks.web``), trunk
failover (``benchmarks.failover``) and SIP ban (``benchmarks.bans``) benchmarks;
the site they share and the results folder are in ``benchmarks.sites``.
"""

from __future__ import annotations

import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from appliance.model.database import close_database
from appliance.provisioning import apply, render
from appliance.site import service
from benchmarks.sites import big_site, save_figures
from lab import rootfs
from lab.pbx import start_pbx


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> int:
    figures: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
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
            tracemalloc.start()
            files, seconds = timed(lambda: render.render_all(snapshot, facts))
            figures["render_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 1)
            tracemalloc.stop()
            figures["render_s"] = round(seconds, 3)
            figures["rendered_kib"] = sum(len(t) for t in files.values()) // 1024

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
            figures["asterisk_endpoints"] = pbx.cli("pjsip show endpoints").count(" Endpoint:  ") - 1
        finally:
            pbx.stop()
            close_database()
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["goals"] = {"render_s": 1.0, "full_apply_s": 5.0}
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
