"""Detection: the real libudev (through pyudev) under umockdev, fed the device files in devices/.

Each test runs ``python -m hardware.detect --json`` inside ``umockdev-run -d FILE ...``, so the
code under test enumerates a fake /sys exactly as it would the real one.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hardware.catalogue import parse_catalogue
from hardware.detect import (
    KNOWN,
    UNKNOWN_TELEPHONY,
    Inventory,
    RawDevice,
    classify,
    compare,
    load,
    save,
)

REPO = Path(__file__).resolve().parents[2]
DEVICES = Path(__file__).parent / "devices"
def needs_umockdev(test):
    """The real libudev under umockdev is the point of these tests: without it they fail, never skip."""
    def check(*args, **kwargs):
        assert shutil.which("umockdev-run"), "Debian package umockdev missing: apt-get install umockdev"
        return test(*args, **kwargs)
    return functools.wraps(test)(check)


def scan_under_umockdev(*names: str) -> dict[str, dict]:
    """Run the detection entry point under umockdev with these device files; devices by key."""
    args = ["umockdev-run"]
    for name in names:
        args += ["-d", str(DEVICES / f"{name}.umockdev")]
    args += ["--", sys.executable, "-m", "hardware.detect", "--json"]
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return {d["key"]: d for d in json.loads(result.stdout)["devices"]}


@needs_umockdev
@pytest.mark.parametrize(("name", "key", "model", "driver", "expected_driver"), [
    ("analog-a8b", "pci:0000:03:00.0", "A8B (PCI Express)", "wcaxx", "wcaxx"),
    ("analog-tdm400p", "pci:0000:05:01.0", "TDM400P rev E/F", "wctdm", "wctdm"),
    ("digital-te420", "pci:0000:04:00.0", "TE420 (5th gen, PCI Express)", "wct4xxp", "wct4xxp"),
    ("bri-b410p", "pci:0000:09:00.0", "B410P (PCI)", "wcb4xxp", "wcb4xxp"),
    ("openvox-b400p", "pci:0000:0a:00.0", "B400P/B400E (HFC-4S)", "wcb4xxp", "wcb4xxp"),
    ("astribank-ready", "usb:1-1", "Astribank-multi (FXS/FXO)", "xpp_usb", "xpp_usb"),
])
def test_known_card_with_its_driver_bound_needs_nothing(name, key, model, driver, expected_driver):
    devices = scan_under_umockdev(name)
    assert list(devices) == [key]
    device = devices[key]
    assert device["status"] == KNOWN
    assert (device["model"], device["driver"], device["expected_driver"]) == (model, driver, expected_driver)
    assert device["advice"] == []
    assert device["card"]["verified"] is True


@needs_umockdev
def test_reported_ids_and_address():
    device = scan_under_umockdev("digital-te420")["pci:0000:04:00.0"]
    assert (device["bus"], device["address"]) == ("pci", "0000:04:00.0")
    assert (device["vendor"], device["device"], device["subvendor"], device["subdevice"]) == (
        "d161", "1420", "0005", "0000")
    assert device["ids"] == "d161:1420/0005:0000"
    assert device["sys_path"] == "/sys/devices/pci0000:00/0000:00:1c.4/0000:04:00.0"
    assert device["card"]["ports"] == [{"kind": "e1t1", "count": 4}]


@needs_umockdev
def test_card_without_driver_says_which_module_to_load():
    device = scan_under_umockdev("digital-te435-no-driver")["pci:0000:07:00.0"]
    assert device["driver"] is None
    assert device["advice"] == ["driver not loaded: modprobe wcte43x"]


@needs_umockdev
def test_openvox_card_whose_driver_debian_lacks():
    device = scan_under_umockdev("openvox-d430-no-driver")["pci:0000:06:00.0"]
    assert device["vendor_name"] == "OpenVox" and device["model"] == "D430P/D430E (3rd gen)"
    assert device["advice"][0] == "driver not loaded: modprobe wct4xxp"
    assert device["advice"][1].startswith("modprobe wct4xxp alone will not bind this card with Debian's DAHDI: ")


@needs_umockdev
def test_unknown_digium_device_is_reported_as_telephony_looking():
    device = scan_under_umockdev("digium-unknown")["pci:0000:08:00.0"]
    assert device["status"] == UNKNOWN_TELEPHONY
    assert device["card"] is None and device["model"] is None
    assert device["advice"] == [
        "unknown Digium (Sangoma) device d161:8fff/d161:8fff: not in the Linebox card catalogue; note the IDs "
        "(lspci -nn / lsusb, dahdi_hardware) and send them in so the card can be added to hardware/data/cards.yaml"]


@needs_umockdev
def test_non_telephony_devices_are_ignored():
    assert scan_under_umockdev("nic-e1000e") == {}


@needs_umockdev
@pytest.mark.parametrize(("name", "state", "advice_start"), [
    ("astribank-no-firmware", "no-firmware", "Astribank waiting for firmware: check that the Astribank firmware"),
    ("astribank-usb-firmware", "usb-firmware", "Astribank has its USB firmware but the FPGA is not loaded"),
    ("astribank-ready-no-driver", "ready", "Astribank firmware loaded but no driver bound: modprobe xpp_usb"),
])
def test_astribank_firmware_states(name, state, advice_start):
    device = scan_under_umockdev(name)["usb:1-1"]
    assert device["state"] == state and device["driver"] is None
    assert len(device["advice"]) == 1 and device["advice"][0].startswith(advice_start)


@needs_umockdev
def test_astribank_firmware_advice_names_the_tools():
    no_fw = scan_under_umockdev("astribank-no-firmware")["usb:1-1"]["advice"][0]
    usb_fw = scan_under_umockdev("astribank-usb-firmware")["usb:1-1"]["advice"][0]
    assert "xpp_fxloader" in no_fw and "USB_FW.hex" in no_fw
    assert "astribank_hexload" in usb_fw and "FPGA_" in usb_fw


@needs_umockdev
def test_whole_machine_at_once():
    names = ["analog-a8b", "analog-tdm400p", "digital-te420", "bri-b410p", "openvox-b400p", "openvox-d430-no-driver",
             "digital-te435-no-driver", "digium-unknown", "nic-e1000e", "astribank-no-firmware"]
    devices = scan_under_umockdev(*names)
    assert sorted(devices) == sorted([
        "pci:0000:03:00.0", "pci:0000:05:01.0", "pci:0000:04:00.0", "pci:0000:09:00.0", "pci:0000:0a:00.0",
        "pci:0000:06:00.0", "pci:0000:07:00.0", "pci:0000:08:00.0", "usb:1-1"])
    needing_action = sorted(k for k, d in devices.items() if d["advice"])
    assert needing_action == ["pci:0000:06:00.0", "pci:0000:07:00.0", "pci:0000:08:00.0", "usb:1-1"]


@needs_umockdev
def test_text_output_for_a_technician():
    args = ["umockdev-run", "-d", str(DEVICES / "digital-te435-no-driver.umockdev"), "--",
            sys.executable, "-m", "hardware.detect"]
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.splitlines() == [
        "pci:0000:07:00.0  d161:800e/d161:800e  Digium TE435/TE235 (PCI Express)  driver: -",
        "    → driver not loaded: modprobe wcte43x"]


# ---------------------------------------------------------------- classification, diff and storage (no udev)

def _raw(**overrides) -> RawDevice:
    values = {"bus": "pci", "address": "0000:04:00.0", "sys_path": "/sys/devices/x", "vendor": "0xd161",
              "device": "0x1420", "subvendor": "0x0005", "subdevice": "0x0000", "driver": "wct4xxp"}
    return RawDevice(**{**values, **overrides})


def test_card_bound_to_another_driver_is_called_out():
    device = classify(_raw(vendor="0x1397", device="0x08b4", subvendor="0x1397", subdevice="0xe888",
                           driver="hfcmulti"))
    assert device.advice[0].startswith("bound to hfcmulti instead of wcb4xxp: add 'blacklist hfcmulti'")


def test_unverified_catalogue_entry_is_flagged():
    data = {"schema": 1, "telephony_vendors": [], "families": [{
        "family": "test", "vendor_name": "Example", "driver": "exdrv", "upstream": True, "verified": False,
        "source": "[memory] not checked", "ports": [{"kind": "fxo", "count": 1}],
        "echo_canceller": {"type": "none"}, "cards": [{"bus": "pci", "vendor": "abcd", "device": "0001",
                                                       "model": "X1"}]}]}
    device = classify(_raw(vendor="abcd", device="0001", subvendor=None, subdevice=None, driver="exdrv"),
                      parse_catalogue(data))
    assert device.advice == ("this card's ID is not verified against a driver source: [memory] not checked",)


def test_non_telephony_vendor_is_not_classified():
    assert classify(_raw(vendor="0x8086", device="0x10d3")) is None


def test_compare_added_removed_bound_unbound_and_renumerated():
    te420 = classify(_raw())
    te420_unbound = classify(_raw(driver=None))
    a8b = classify(_raw(address="0000:03:00.0", device="0x800d", subvendor="0xd161", driver="wcaxx"))
    usb_fw = classify(_raw(bus="usb", address="1-1", vendor="e4e4", device="1151", subvendor=None, subdevice=None,
                           driver=None))
    ready = classify(_raw(bus="usb", address="1-1", vendor="e4e4", device="1152", subvendor=None, subdevice=None,
                          driver="xpp_usb"))
    diff = compare(Inventory((te420_unbound, usb_fw)), Inventory((a8b, te420, ready)))
    assert [d.key for d in diff.added] == ["pci:0000:03:00.0"]
    assert diff.removed == ()
    assert [(c.kind, c.message) for c in diff.changed] == [
        ("driver_bound", "pci:0000:04:00.0: driver wct4xxp bound"),
        ("identity_changed", "usb:1-1: e4e4:1151 → e4e4:1152 (firmware state usb-firmware → ready)")]
    back = compare(Inventory((a8b, te420)), Inventory((te420_unbound,)))
    assert [d.key for d in back.removed] == ["pci:0000:03:00.0"]
    assert [c.kind for c in back.changed] == ["driver_unbound"]
    assert not compare(Inventory((a8b,)), Inventory((a8b,)))


def test_save_and_load_round_trip(tmp_path):
    inventory = Inventory((classify(_raw()), classify(_raw(address="0000:08:00.0", device="8fff", driver=None))))
    path = tmp_path / "state" / "inventory.json"
    save(inventory, path)
    assert load(path) == inventory
    assert json.loads(path.read_text())["devices"][1]["status"] == UNKNOWN_TELEPHONY
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_load_of_a_missing_file_is_an_empty_inventory(tmp_path):
    assert load(tmp_path / "never-written.json") == Inventory()


@needs_umockdev
def test_compare_against_a_saved_inventory_from_the_command_line(tmp_path):
    saved = tmp_path / "inventory.json"
    save(Inventory((classify(_raw(address="0000:07:00.0", device="800e", subvendor="d161", subdevice="800e",
                                  driver="wcte43x")),)), saved)
    args = ["umockdev-run", "-d", str(DEVICES / "digital-te435-no-driver.umockdev"), "--",
            sys.executable, "-m", "hardware.detect", "--json", "--compare", str(saved)]
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    diff = json.loads(result.stdout)["diff"]
    assert [c["message"] for c in diff["changed"]] == ["pci:0000:07:00.0: driver wcte43x unbound"]
