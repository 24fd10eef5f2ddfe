"""Hotplug: hardware.detect.monitor() receiving real (umockdev-synthesised) uevents through pyudev.

The scenario runs in a child process under libumockdev's preload library (see
hotplug_scenario.py and umockdev_testbed.py for why it cannot use ``umockdev-run``).
"""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hardware.umockdev_testbed import PRELOAD

REPO = Path(__file__).resolve().parents[2]


def _have_libumockdev() -> bool:
    """Both libraries present (looked up, not loaded: the preload library must stay out of pytest)."""
    return all(ctypes.util.find_library(name) for name in ("umockdev", "umockdev-preload"))


@pytest.fixture(scope="module")
def steps() -> dict[str, list[dict]]:
    if not _have_libumockdev():
        pytest.fail("libumockdev0 (Debian package umockdev) is not installed: apt-get install umockdev")
    env = {**os.environ, "LD_PRELOAD": PRELOAD, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "tests.hardware.hotplug_scenario"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return {s["step"]: s["diffs"] for s in json.loads(result.stdout)}


def _only(diffs: list[dict]) -> dict:
    assert len(diffs) == 1, diffs
    return diffs[0]


def test_plugging_a_card_reports_it_added(steps):
    diff = _only(steps["plug TE435"])
    assert [(d["key"], d["model"], d["driver"]) for d in diff["added"]] == [
        ("pci:0000:07:00.0", "TE435/TE235 (PCI Express)", None)]
    assert diff["added"][0]["advice"] == ["driver not loaded: modprobe wcte43x"]
    assert diff["removed"] == [] and diff["changed"] == []


def test_driver_bind_and_unbind_are_changes(steps):
    bound = _only(steps["bind wcte43x"])["changed"]
    assert [(c["kind"], c["message"]) for c in bound] == [
        ("driver_bound", "pci:0000:07:00.0: driver wcte43x bound")]
    assert bound[0]["after"]["advice"] == []
    unbound = _only(steps["unbind wcte43x"])["changed"]
    assert [c["kind"] for c in unbound] == ["driver_unbound"]


def test_astribank_moving_through_firmware_states(steps):
    added = _only(steps["plug Astribank (USB firmware loaded)"])["added"]
    assert [(d["key"], d["state"]) for d in added] == [("usb:1-1", "usb-firmware")]
    changed = _only(steps["Astribank renumerates after FPGA load"])["changed"]
    assert [(c["kind"], c["message"]) for c in changed] == [
        ("identity_changed", "usb:1-1: e4e4:1151 → e4e4:1152 (firmware state usb-firmware → ready)")]
    assert changed[0]["after"]["driver"] == "xpp_usb" and changed[0]["after"]["advice"] == []


def test_unplugging_a_card_reports_it_removed(steps):
    diff = _only(steps["unplug TE435"])
    assert [d["key"] for d in diff["removed"]] == ["pci:0000:07:00.0"]
