"""The virtual DAHDI lab: a PRI call across two loc spans configured only by Linebox's generated files.

See :mod:`image.virtual_dahdi`.  A qemu guest with forky's kernel, DKMS-built DAHDI and Asterisk boots on
the files Linebox rendered for a site of two back-to-back loc spans; this test checks, from what the guest
reported on its serial console, that ``dahdi_cfg`` accepted the generated ``system.conf``, chan_dahdi
brought both PRI spans up, and a call placed into span 1 was answered on span 2 by the site's inbound
route (its announcement).  DAHDI is set up and reloaded as on the appliance (roles/dahdi's links and
units, the linebox user asking linebox-dahdi-reload.path): after a reload the spans come up again and a
second call goes through; a refused system.conf comes back in dahdi_cfg's words and the rollback's reload
brings the spans back.  The boot time is kept in ``benchmarks/results/image.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from image import build as image_build
from image import virtual_dahdi
from image.qemu import ACCELERATOR

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "image"

pytestmark = [pytest.mark.lab, pytest.mark.image, pytest.mark.timeout(2400)]


def test_pri_call_across_two_loc_spans_with_generated_files():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report = virtual_dahdi.run_lab(ARTIFACTS / "dahdi-lab-console.log")
    (ARTIFACTS / "dahdi-lab-sections.json").write_text(json.dumps(report.sections, indent=2))

    configured = report.section("dahdi_cfg")  # linebox-dahdi.service at boot, through roles/dahdi's links
    assert report.status("dahdi_cfg") == 0 and "active (exited)" in configured, \
        f"linebox-dahdi.service did not configure DAHDI from the generated system.conf:\n{configured}"
    spans = report.section("pri_spans")
    assert spans.count("Up, Active") == 2, f"both PRI spans must be up:\n{spans}\n{report.section('modules')}"
    _assert_call_answered(report.section("call"))

    # the appliance's reload path, for real: the linebox user asks, the root service runs dahdi_cfg
    journal = report.section("reload_journal")
    reload = report.section("reload")
    assert report.status("reload") == 0 and reload.startswith("reload: ok 0"), f"{reload}\n{journal}"
    assert re.search(r"^requests: \S+\nexit: 0\n", report.section("reload_status")), report.section("reload_status")
    spans = report.section("pri_spans_after_reload")
    assert spans.count("Up, Active") == 2, f"spans after the reload:\n{spans}\n{journal}"
    _assert_call_answered(report.section("call_after_reload"))
    refused = report.section("refused")
    assert report.status("refused") == 1 and refused.startswith("reload: refused"), f"{refused}\n{journal}"
    assert report.status("rollback") == 0 and report.section("rollback").startswith("reload: ok 0"), journal
    spans = report.section("pri_spans_after_rollback")
    assert spans.count("Up, Active") == 2, f"spans after the rollback:\n{spans}\n{journal}"

    results = json.loads(image_build.RESULTS.read_text()) if image_build.RESULTS.exists() else {}
    results["virtual_dahdi_lab"] = {
        "prepare_guest_disk_seconds": round(report.prepare_seconds, 1),
        "boot_to_call_done_seconds": round(report.boot_seconds, 1),
        "asterisk_ready_guest_uptime_seconds": float(report.marks.get("asterisk-ready", "nan")),
        "spans_up_after_seconds": int(report.marks.get("spans-waited", "-1")),
        "spans_up_after_reload_seconds": int(report.marks.get("spans-after-reload", "-1")),
        "accelerator": ACCELERATOR,
    }
    image_build.RESULTS.parent.mkdir(parents=True, exist_ok=True)
    image_build.RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def _assert_call_answered(call: str) -> None:
    assert "login: Success" in call and "originate: Success" in call, call
    # the call, as Asterisk's AMI events told it: a new channel on span 2 (ISDN channels are named
    # DAHDI/i<span>/...) ringing in the CPE trunk's context for the dialled number, answered by the
    # inbound route's announcement; the calling channel on span 1 answered; both cleared normally
    events = [json.loads(line.removeprefix("event: ")) for line in call.splitlines() if line.startswith("event: ")]
    incoming = [e for e in events if e["Event"] == "Newchannel" and e["Channel"].startswith("DAHDI/i2/")]
    assert incoming and incoming[0]["Context"] == "from-dahdi-pri_cpe" and incoming[0]["Exten"] == "200", call
    answered = [e for e in events if e["Event"] == "Newstate" and e["ChannelStateDesc"] == "Up"]
    assert any(e["Channel"].startswith("DAHDI/i2/") and e["Context"] == "ann-answered" for e in answered), call
    assert any(e["Channel"].startswith("DAHDI/i1/") for e in answered), call
    hangups = [e for e in events if e["Event"] == "Hangup"]
    assert hangups and all(e["Cause-txt"] == "Normal Clearing" for e in hangups), call
