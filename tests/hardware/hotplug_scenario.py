"""Hotplug scenario, run by test_hotplug.py under ``LD_PRELOAD=libumockdev-preload.so.0``.

It builds an umockdev testbed, runs :func:`hardware.detect.monitor` in a thread against it,
then plugs, binds, unbinds, renumerates and unplugs fake cards, emitting real uevents through
umockdev's netlink emulation.  It prints one JSON document: the list of diffs the monitor's
callback received after each step.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from hardware.detect import InventoryDiff, monitor
from tests.hardware.umockdev_testbed import Testbed

DEVICES = Path(__file__).parent / "devices"
TE435 = "/sys/devices/pci0000:00/0000:00:1c.6/0000:07:00.0"
ASTRIBANK = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"


def main() -> int:
    testbed = Testbed()
    try:
        steps = run(testbed)
    finally:
        testbed.close()
    json.dump(steps, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 0


def run(testbed: Testbed) -> list[dict]:
    """Plug, bind, unbind, renumerate and unplug; the monitor's diffs after each step."""
    stop, ready, arrived = threading.Event(), threading.Event(), threading.Event()
    received: list[dict] = []

    def callback(diff: InventoryDiff, _inventory: object) -> None:
        received.append(diff.to_dict())
        arrived.set()

    thread = threading.Thread(target=monitor, args=(callback,),
                              kwargs={"stop": stop, "ready": ready, "settle": 0.8, "poll_interval": 0.1},
                              daemon=True)
    thread.start()
    if not ready.wait(10):
        raise SystemExit("monitor did not start")
    steps: list[dict] = []

    def step(name: str, action: Callable[[], None]) -> None:
        arrived.clear()
        before = len(received)
        action()
        arrived.wait(10)
        steps.append({"step": name, "diffs": received[before:]})

    step("plug TE435", lambda: testbed.add_from_file(str(DEVICES / "digital-te435-no-driver.umockdev")))

    def bind() -> None:
        testbed.set_attribute_link(TE435, "driver", "../../../../bus/pci/drivers/wcte43x")
        testbed.uevent(TE435, "bind")
    step("bind wcte43x", bind)

    def unbind() -> None:
        os.unlink(f"{testbed.root}{TE435}/driver")  # unlink() is not redirected by the preload library
        testbed.uevent(TE435, "unbind")
    step("unbind wcte43x", unbind)

    step("plug Astribank (USB firmware loaded)",
         lambda: testbed.add_from_file(str(DEVICES / "astribank-usb-firmware.umockdev")))

    def renumerate() -> None:
        testbed.uevent(ASTRIBANK + "/1-1:1.0", "remove")
        testbed.uevent(ASTRIBANK, "remove")
        testbed.remove_device(ASTRIBANK + "/1-1:1.0")
        testbed.remove_device(ASTRIBANK)
        testbed.add_from_file(str(DEVICES / "astribank-ready.umockdev"))
    step("Astribank renumerates after FPGA load", renumerate)

    def unplug() -> None:
        testbed.uevent(TE435, "remove")
        testbed.remove_device(TE435)
    step("unplug TE435", unplug)

    stop.set()
    thread.join(5)
    return steps

if __name__ == "__main__":
    os._exit(main())
