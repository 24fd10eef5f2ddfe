"""What an apply reloads, seen on the real Asterisk: only the modules whose files changed.

Asterisk logs "Reloading module '...'" (verbose level 3) for each module it reloads; the test adds a
temporary log channel for those lines (``logger add channel``, gone at Asterisk's next logger reload).
"""

from __future__ import annotations

import time

import pytest

from tests.lab.helpers import add, update

pytestmark = pytest.mark.lab


def watch_reloads(pbx):
    """Start logging module reloads to a file of our own; returns a function giving the modules reloaded
    since the previous call (its log is complete up to a sentinel reload it makes and waits for)."""
    log = pbx.install.target().log_file.parent / "reloads.log"
    pbx.cli("core set verbose 3")
    pbx.cli("logger add channel reloads.log verbose")
    seen = [0]

    def reloaded() -> list[str]:
        pbx.cli("module reload res_musiconhold.so")  # the sentinel: logged after everything before it
        deadline = time.monotonic() + 15
        while True:
            text = log.read_text(errors="replace")[seen[0]:] if log.exists() else ""
            if "Reloading module 'res_musiconhold.so'" in text:
                break
            assert time.monotonic() < deadline, f"Asterisk never logged the sentinel reload: {text[-500:]}"
            time.sleep(0.05)
        seen[0] += len(text)
        lines = [ln.split("Reloading module '")[1].split("'")[0] for ln in text.splitlines()
                 if "Reloading module '" in ln]
        return lines[:-1]  # not the sentinel
    return reloaded


def test_an_apply_reloads_voicemail_only_when_voicemail_conf_changed(pbx):
    add("extension", number="100", name="Alice", voicemail=True, voicemail_pin="4711")
    add("extension", number="101", name="Bob")  # no mailbox
    pbx.apply()
    reloaded = watch_reloads(pbx)

    # its caller ID, no mailbox: a row of the projection (appliance.provisioning.projection), no file changes
    # and nothing is reloaded, yet Asterisk shows the new name
    update("extension", "101", name="Robert")
    renamed = pbx.apply()
    assert renamed.changed == [], renamed.changed
    assert reloaded() == []
    assert '"Robert" <101>' in pbx.cli("pjsip show endpoint 101")

    update("extension", "100", voicemail_pin="5093")  # only voicemail.conf
    pinned = pbx.apply()
    assert pinned.changed == ["voicemail.conf"], pinned.changed
    assert reloaded() == ["app_voicemail.so"]
    verify = next(s for s in pinned.steps if s.name == "verify")
    assert verify.detail == "1 objects checked, no errors logged", verify.detail
