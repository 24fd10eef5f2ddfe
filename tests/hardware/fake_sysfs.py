"""A fake /sys tree laid out as dahdi-linux's dahdi-sysfs.c creates it, for the DAHDI state readers."""

from __future__ import annotations

import os
from pathlib import Path

TE420 = "devices/pci0000:00/0000:00:1c.4/0000:04:00.0/pci:0000:04:00.0"
A4B = "devices/pci0000:00/0000:00:1c.0/0000:03:00.0/pci:0000:03:00.0"


def _write(folder: Path, **attrs: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in attrs.items():
        (folder / name).write_text(f"{value}\n")


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(target, link.parent))


def make_fake_sysfs(root: Path) -> Path:
    """A TE420 (4 E1/T1 spans) and an A4B (1 analog span), as /sys shows them once the drivers load.

    Span devices are children of the DAHDI device; /sys/bus/*/devices hold symlinks, like the kernel.
    """
    te420, a4b = root / TE420, root / A4B
    _write(te420, manufacturer="Digium", type="Wildcard TE420 (5th Gen) (VPMOCT064)", span_count=4, hardware_id="",
           location="PCI Express Bus 04 Slot 01", registration_time="0000000012.345678901")
    (te420 / "spantype").write_text("1:E1\n2:E1\n3:E1\n4:T1\n")
    _write(a4b, manufacturer="Digium", type="Wildcard A4B (VPMOCT032)", span_count=1, hardware_id="1DA4B0123456",
           location="PCI Bus 03 Slot 01")
    (a4b / "spantype").write_text("1:ANALOG_MIXED\n")
    spans = [
        # number, device, local, alarms, name, desc, spantype, digital, master, basechan, channels, lineconfig
        (1, te420, 1, "0x0", "TE4/0/1", "T4XXP (PCI) Card 0 Span 1", "E1", 1, 1, 1, 31, "HDB3/CCS/CRC4"),
        (2, te420, 2, "0x108", "TE4/0/2", "T4XXP (PCI) Card 0 Span 2", "E1", 1, 0, 32, 31, "HDB3/CCS/CRC4"),
        (3, te420, 3, "0x4", "TE4/0/3", "T4XXP (PCI) Card 0 Span 3", "E1", 1, 0, 63, 31, "HDB3/CCS"),
        (4, te420, 4, "0x10", "TE4/0/4", "T4XXP (PCI) Card 0 Span 4", "T1", 1, 0, 94, 24, "B8ZS/ESF"),
        (5, a4b, 1, "0x20", "WCTDM/0", "Wildcard A4B", "ANALOG_MIXED", 0, 0, 118, 4, ""),
    ]
    for number, device, local, alarms, name, desc, spantype, digital, master, base, chans, lineconfig in spans:
        span = device / f"span-{number}"
        _write(span, name=name, desc=desc, spantype=spantype, local_spanno=local, alarms=alarms, lbo=0,
               syncsrc=1, is_digital=digital, is_sync_master=master, basechan=base, channels=chans,
               lineconfig=lineconfig, linecompat="AMI HDB3 CCS CRC4" if spantype == "E1" else "")
        _link(root / "bus/dahdi_spans/devices" / f"span-{number}", span)
    _link(root / "bus/dahdi_devices/devices/pci:0000:04:00.0", te420)
    _link(root / "bus/dahdi_devices/devices/pci:0000:03:00.0", a4b)
    return root
