"""Find telephony cards on the PCI and USB buses through udev, and say what is wrong with each.

Why udev (pyudev) and not lspci/lsusb: udev gives IDs, the bound driver and hotplug events from
one source, and the same code runs against a fake device tree under umockdev in the tests.

``scan()`` returns an :class:`Inventory`; ``compare()`` says what changed between two of them
(a card added or removed, a driver bound or unbound, an Astribank moving through its
firmware-loading states); ``save()``/``load()`` keep one as JSON so the next boot can say what
changed since the last one; ``monitor()`` calls back with such a diff on every hotplug event.
Devices from vendors that do not make telephony hardware are ignored.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pyudev

from hardware.advice import advise
from hardware.catalogue import CardModel, Catalogue, load_catalogue, normalize_id

KNOWN = "known"
UNKNOWN_TELEPHONY = "unknown-telephony"

_STATE_ADVICE = {
    "no-firmware": "astribank_no_firmware",
    "usb-firmware": "astribank_usb_firmware",
    "twinstar-monitor": "astribank_twinstar",
    "eeprom-burner": "astribank_burner",
}


@dataclass(frozen=True)
class RawDevice:
    """What udev tells us about one PCI or USB device, before the catalogue is consulted."""

    bus: str
    address: str
    sys_path: str
    vendor: str
    device: str
    subvendor: str | None = None
    subdevice: str | None = None
    driver: str | None = None


@dataclass(frozen=True)
class DetectedDevice:
    """A telephony device found on a bus, with what it is and what to do about it."""

    bus: str
    address: str
    sys_path: str
    vendor: str
    device: str
    subvendor: str | None
    subdevice: str | None
    status: str
    vendor_name: str
    model: str | None
    expected_driver: str | None
    driver: str | None
    state: str | None
    card: dict[str, Any] | None
    advice: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.bus}:{self.address}"

    @property
    def ids(self) -> str:
        text = f"{self.vendor}:{self.device}"
        if self.subvendor:
            text += f"/{self.subvendor}:{self.subdevice or '????'}"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["advice"] = list(self.advice)
        data["ids"] = self.ids
        data["key"] = self.key
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectedDevice:
        values: dict[str, Any] = {name: data.get(name) for name in cls.__dataclass_fields__}
        values["advice"] = tuple(data.get("advice") or ())
        return cls(**values)


@dataclass(frozen=True)
class Inventory:
    """The telephony devices present at one moment, sorted by bus address."""

    devices: tuple[DetectedDevice, ...] = ()

    def by_key(self) -> dict[str, DetectedDevice]:
        return {d.key: d for d in self.devices}

    def to_dict(self) -> dict[str, Any]:
        return {"devices": [d.to_dict() for d in self.devices]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inventory:
        return cls(tuple(DetectedDevice.from_dict(d) for d in data.get("devices", [])))


@dataclass(frozen=True)
class Change:
    """One device that is present in both inventories but differs."""

    key: str
    kind: str  # driver_bound | driver_unbound | driver_changed | identity_changed
    before: DetectedDevice
    after: DetectedDevice
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "message": self.message,
                "before": self.before.to_dict(), "after": self.after.to_dict()}


@dataclass(frozen=True)
class InventoryDiff:
    added: tuple[DetectedDevice, ...] = ()
    removed: tuple[DetectedDevice, ...] = ()
    changed: tuple[Change, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"added": [d.to_dict() for d in self.added], "removed": [d.to_dict() for d in self.removed],
                "changed": [c.to_dict() for c in self.changed]}


# ---------------------------------------------------------------- classification (no udev needed)

def classify(raw: RawDevice, catalogue: Catalogue | None = None) -> DetectedDevice | None:
    """Match one device against the catalogue; None when it is not telephony hardware at all."""
    catalogue = catalogue or load_catalogue()
    card = catalogue.match(raw.bus, raw.vendor, raw.device, raw.subvendor, raw.subdevice)
    common: dict[str, Any] = {
        "bus": raw.bus, "address": raw.address, "sys_path": raw.sys_path, "vendor": normalize_id(raw.vendor),
        "device": normalize_id(raw.device), "subvendor": normalize_id(raw.subvendor) if raw.subvendor else None,
        "subdevice": normalize_id(raw.subdevice) if raw.subdevice else None, "driver": raw.driver}
    if card is None:
        vendor_name = catalogue.telephony_vendor(raw.bus, raw.vendor)
        if vendor_name is None:
            return None
        device = DetectedDevice(status=UNKNOWN_TELEPHONY, vendor_name=vendor_name, model=None, expected_driver=None,
                                state=None, card=None, advice=(), **common)
        return replace(device, advice=(advise("unknown_telephony", vendor=vendor_name, ids=device.ids),))
    device = DetectedDevice(status=KNOWN, vendor_name=card.vendor_name, model=card.model,
                            expected_driver=card.driver, state=card.state, card=card.to_dict(), advice=(), **common)
    return replace(device, advice=tuple(card_advice(card, raw.driver)))


def card_advice(card: CardModel, driver: str | None) -> list[str]:
    """What a technician should do about a known card given the driver bound to it (None: none)."""
    if card.state in _STATE_ADVICE:
        return [advise(_STATE_ADVICE[card.state])]
    advice: list[str] = []
    if driver is None:
        advice.append(advise("astribank_ready_no_driver") if card.state == "ready"
                      else advise("driver_not_loaded", driver=card.driver))
        if not card.upstream:
            advice.append(advise("driver_not_in_debian", driver=card.driver, note=card.driver_note))
    elif driver != card.driver:
        advice.append(advise("wrong_driver", bound=driver, driver=card.driver))
    if not card.verified:
        advice.append(advise("unverified_id", source=card.source))
    return advice


# ---------------------------------------------------------------- reading udev

def _attr(device: pyudev.Device, name: str) -> str | None:
    try:
        value = device.attributes.asstring(name).strip()
    except (KeyError, UnicodeDecodeError, OSError):
        return None
    return value or None


def _driver(device: pyudev.Device) -> str | None:
    """The bound driver, from the sysfs ``driver`` link (libudev's udev_device_get_driver).

    On a real kernel the uevent's DRIVER property always equals the link's name; the link is
    used because it is what changes on bind/unbind (a recorded DRIVER property may be stale).
    """
    return device.driver or None


def _read_pci(device: pyudev.Device) -> RawDevice | None:
    props = device.properties
    vendor, dev = _attr(device, "vendor"), _attr(device, "device")
    if (vendor is None or dev is None) and ":" in props.get("PCI_ID", ""):
        vendor, dev = props["PCI_ID"].split(":", 1)
    if vendor is None or dev is None:
        return None
    subvendor, subdevice = _attr(device, "subsystem_vendor"), _attr(device, "subsystem_device")
    if (subvendor is None or subdevice is None) and ":" in props.get("PCI_SUBSYS_ID", ""):
        subvendor, subdevice = props["PCI_SUBSYS_ID"].split(":", 1)
    return RawDevice("pci", props.get("PCI_SLOT_NAME") or device.sys_name, device.sys_path, vendor, dev,
                     subvendor, subdevice, _driver(device))


def _read_usb(device: pyudev.Device, interface_drivers: dict[str, list[str]]) -> RawDevice | None:
    vendor, product = _attr(device, "idVendor"), _attr(device, "idProduct")
    if (vendor is None or product is None) and device.properties.get("PRODUCT", "").count("/") >= 2:
        vendor, product = device.properties["PRODUCT"].split("/")[:2]
    if vendor is None or product is None:
        return None
    # USB drivers bind to the interfaces, not the device (whose driver is the generic "usb").
    drivers = interface_drivers.get(device.sys_path, [])
    return RawDevice("usb", device.sys_name, device.sys_path, vendor, product, None, None,
                     drivers[0] if drivers else None)


def read_devices(context: pyudev.Context | None = None) -> list[RawDevice]:
    """All PCI devices and USB devices (not interfaces) that udev lists, unclassified."""
    context = context or pyudev.Context()
    found: list[RawDevice] = []
    for device in context.list_devices(subsystem="pci"):
        raw = _read_pci(device)
        if raw is not None:
            found.append(raw)
    interface_drivers: dict[str, list[str]] = {}
    usb_devices = []
    for device in context.list_devices(subsystem="usb"):
        devtype = device.device_type or device.properties.get("DEVTYPE")
        if devtype == "usb_interface":
            driver = _driver(device)
            if driver and device.parent is not None:
                interface_drivers.setdefault(device.parent.sys_path, []).append(driver)
        elif devtype == "usb_device":
            usb_devices.append(device)
    for device in usb_devices:
        raw = _read_usb(device, interface_drivers)
        if raw is not None:
            found.append(raw)
    return found


def scan(context: pyudev.Context | None = None, catalogue: Catalogue | None = None) -> Inventory:
    """The telephony devices present now, each with its catalogue entry, bound driver and advice."""
    catalogue = catalogue or load_catalogue()
    devices = [d for d in (classify(raw, catalogue) for raw in read_devices(context)) if d is not None]
    return Inventory(tuple(sorted(devices, key=lambda d: d.key)))


# ---------------------------------------------------------------- inventory diff and storage

def compare(previous: Inventory, current: Inventory) -> InventoryDiff:
    """What was added, removed, or changed (driver bound/unbound, IDs/firmware state) between two scans."""
    before, after = previous.by_key(), current.by_key()
    added = tuple(after[k] for k in sorted(after.keys() - before.keys()))
    removed = tuple(before[k] for k in sorted(before.keys() - after.keys()))
    changed: list[Change] = []
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key], after[key]
        if (old.vendor, old.device, old.subvendor, old.subdevice) != (new.vendor, new.device, new.subvendor,
                                                                      new.subdevice):
            what = f"{old.ids} → {new.ids}"
            if old.state or new.state:
                what += f" (firmware state {old.state or '-'} → {new.state or '-'})"
            changed.append(Change(key, "identity_changed", old, new, f"{key}: {what}"))
        elif old.driver != new.driver:
            if old.driver is None:
                kind, message = "driver_bound", f"{key}: driver {new.driver} bound"
            elif new.driver is None:
                kind, message = "driver_unbound", f"{key}: driver {old.driver} unbound"
            else:
                kind, message = "driver_changed", f"{key}: driver {old.driver} → {new.driver}"
            changed.append(Change(key, kind, old, new, message))
    return InventoryDiff(added, removed, tuple(changed))


def save(inventory: Inventory, path: str | Path) -> None:
    """Write the inventory as JSON, atomically (a crash never leaves half a file for the next boot)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(inventory.to_dict(), handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path) -> Inventory:
    """Read an inventory written by :func:`save`; a missing file is an empty inventory (first boot)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return Inventory.from_dict(json.load(handle))
    except FileNotFoundError:
        return Inventory()


# ---------------------------------------------------------------- hotplug

def monitor(callback: Callable[[InventoryDiff, Inventory], object], *, context: pyudev.Context | None = None,
            catalogue: Catalogue | None = None, stop: threading.Event | None = None,
            ready: threading.Event | None = None, settle: float = 0.3, poll_interval: float = 0.5) -> Inventory:
    """Watch PCI/USB uevents and call ``callback(diff, inventory)`` whenever the inventory changes.

    Events come in bursts (a device and its interfaces, an Astribank renumerating), so after the
    first event the monitor waits ``settle`` seconds of quiet before rescanning once.  Blocks until
    ``stop`` is set; ``ready`` is set once the monitor listens (so nothing between the initial scan
    and the first event is missed).  Returns the last inventory.
    """
    context = context or pyudev.Context()
    catalogue = catalogue or load_catalogue()
    stop = stop or threading.Event()
    udev_monitor = pyudev.Monitor.from_netlink(context)
    udev_monitor.filter_by("pci")
    udev_monitor.filter_by("usb")
    udev_monitor.start()
    inventory = scan(context, catalogue)
    if ready is not None:
        ready.set()
    while not stop.is_set():
        if udev_monitor.poll(timeout=poll_interval) is None:
            continue
        deadline = time.monotonic() + settle
        while (remaining := deadline - time.monotonic()) > 0:
            if udev_monitor.poll(timeout=remaining) is not None:
                deadline = time.monotonic() + settle
        current = scan(context, catalogue)
        diff = compare(inventory, current)
        inventory = current
        if diff:
            callback(diff, current)
    return inventory


# ---------------------------------------------------------------- command line

def _print_text(inventory: Inventory, out: Any) -> None:
    if not inventory.devices:
        print("no telephony cards found", file=out)
    for d in inventory.devices:
        what = d.model or "unknown telephony-looking device"
        print(f"{d.key}  {d.ids}  {d.vendor_name} {what}  driver: {d.driver or '-'}", file=out)
        for line in d.advice:
            print(f"    → {line}", file=out)


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m hardware.detect [--json] [--save FILE] [--compare FILE] [--monitor]``."""
    parser = argparse.ArgumentParser(prog="python -m hardware.detect", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--compare", metavar="FILE", help="also print what changed since the inventory in FILE")
    parser.add_argument("--save", metavar="FILE", help="write the inventory to FILE as JSON")
    parser.add_argument("--monitor", action="store_true", help="then print one JSON diff per line on hotplug")
    args = parser.parse_args(list(argv) if argv is not None else None)
    inventory = scan()
    if args.json:
        data: dict[str, Any] = inventory.to_dict()
        if args.compare:
            data["diff"] = compare(load(args.compare), inventory).to_dict()
        json.dump(data, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        _print_text(inventory, sys.stdout)
        if args.compare:
            diff = compare(load(args.compare), inventory)
            for d in diff.added:
                print(f"added: {d.key} {d.model or d.ids}")
            for d in diff.removed:
                print(f"removed: {d.key} {d.model or d.ids}")
            for c in diff.changed:
                print(f"changed: {c.message}")
    if args.save:
        save(inventory, args.save)
    if args.monitor:
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            monitor(lambda diff, _inv: print(json.dumps(diff.to_dict(), sort_keys=True), flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
