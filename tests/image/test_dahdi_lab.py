"""The virtual DAHDI lab: a PRI call across two loc spans configured only by Linebox's generated files.

See :mod:`image.virtual_dahdi`.  A qemu guest with forky's kernel, DKMS-built DAHDI and Asterisk boots on
the files Linebox rendered for a site of two back-to-back loc spans; this test checks, from what the guest
reported on its serial console, that ``dahdi_cfg`` accepted the generated ``system.conf``, chan_dahdi
brought both PRI spans up, and a call placed into span 1 was answered on span 2 by the site's inbound
route (its announcement).  The boot time is kept in ``benchmarks/results/image.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from image import build as image_build
from image import virtual_dahdi

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "image"

pytestmark = [pytest.mark.lab, pytest.mark.image, pytest.mark.timeout(2400)]


def test_pri_call_across_two_loc_spans_with_generated_files():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report = virtual_dahdi.run_lab(ARTIFACTS / "dahdi-lab-console.log")
    (ARTIFACTS / "dahdi-lab-sections.json").write_text(json.dumps(report.sections, indent=2))

    configured = report.section("dahdi_cfg")
    assert report.status("dahdi_cfg") == 0, f"dahdi_cfg refused the generated system.conf:\n{configured}"
    assert re.search(r"48 channels", report.section("dahdi_cfg")) or "Configured" in report.section("dahdi_cfg"), \
        report.section("dahdi_cfg")
    spans = report.section("pri_spans")
    assert spans.count("Up, Active") == 2, f"both PRI spans must be up:\n{spans}\n{report.section('modules')}"

    # while the call is up: the calling B channel on span 1 (channels 1-23) and the answering one on
    # span 2 (channels 25-47), which runs the inbound route's announcement
    call = report.section("call")
    assert "login: Success" in call and "originate: Success" in call, call
    channels = [line.removeprefix("channel: ").split("!") for line in call.splitlines()
                if line.startswith("channel: DAHDI/")]
    by_number = {int(re.match(r"DAHDI/(?:i\d+/)?(\d+)-", c[0]).group(1)): c for c in channels}
    caller = [c for n, c in by_number.items() if 1 <= n <= 23]
    callee = [c for n, c in by_number.items() if 25 <= n <= 47]
    assert caller and callee, f"no call across the link:\n{call}"
    assert callee[0][1] == "from-trunk" or callee[0][1].startswith("from-"), callee
    assert callee[0][4] == "Up" and callee[0][5] in ("Playback", "Background", "Hangup", "Wait"), callee
    assert caller[0][4] == "Up", caller

    results = json.loads(image_build.RESULTS.read_text()) if image_build.RESULTS.exists() else {}
    results["virtual_dahdi_lab"] = {
        "prepare_guest_disk_seconds": round(report.prepare_seconds, 1),
        "boot_to_call_done_seconds": round(report.boot_seconds, 1),
        "asterisk_ready_guest_uptime_seconds": float(report.marks.get("asterisk-ready", "nan")),
        "spans_up_after_seconds": int(report.marks.get("spans-waited", "-1")),
        "accelerator": "tcg",
    }
    image_build.RESULTS.parent.mkdir(parents=True, exist_ok=True)
    image_build.RESULTS.write_text(json.dumps(results, indent=2) + "\n")
