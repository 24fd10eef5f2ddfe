"""``make run`` (lab/devrun.py) as a user runs it: Asterisk, the console and the event collector."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from appliance.install import Install
from appliance.model.database import close_database
from appliance.site import service
from lab.carrier import Phone, start_carrier
from lab.instance import free_port
from tests.lab.helpers import add
from tests.lab.test_cli import linebox

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    """A process that still runs (a zombie, ended but not yet reaped, counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _wait(condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout}s")
        time.sleep(0.3)


def listed(home: Path, caller: str, called: str) -> bool:
    """Whether ``linebox calls`` lists a call record from ``caller`` to ``called`` today."""
    out = linebox(home, "calls", "--today").stdout
    return any(line.split()[2:4] == [caller, called] for line in out.splitlines()[2:])


def test_make_run_collects_calls_without_collect_once_and_stops_everything(tmp_path, rootfs):
    """Reports and ``linebox calls`` must fill while ``make run`` runs, as on a box, and Ctrl-C must leave
    no Asterisk or collector behind and lose no record of a call it cut short."""
    # A home as a user leaves it after a first make run: two phones configured.
    home = tmp_path / "home"
    Install.create(home).open()
    add("extension", number="100", name="Front desk")
    add("extension", number="101", name="Back office")
    phones = [Phone(e.number, e.password) for e in service.list_objects("extension")]
    close_database()

    env = {**os.environ, "LINEBOX_RUN_HOME": str(home), "LINEBOX_WEB_PORT": str(free_port())}
    run = subprocess.Popen([sys.executable, "-m", "lab.devrun"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(run.stdout or ()), daemon=True)
    reader.start()
    carrier = None
    pids: list[int] = []
    try:
        _wait(lambda: "Press Ctrl-C to stop." in "".join(output) or run.poll() is not None,
              "make run did not start", 120)
        banner = "".join(output)
        assert run.poll() is None, banner
        asterisk_pid = int(re.search(r"Asterisk .*, pid (\d+)\)", banner).group(1))
        collector = re.search(r"Collector: +pid (\d+)", banner)
        pids = [asterisk_pid, *([int(collector.group(1))] if collector else [])]
        sip_port = int(re.search(r"SIP: +127\.0\.0\.1:(\d+)", banner).group(1))

        carrier = start_carrier(sip_port, phones, rootfs)
        carrier.wait_registered(["100", "101"])
        mark = carrier.mark()
        carrier.call("ph100", "101", tag="front-to-back", hold=3)
        carrier.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "101", since=mark)
        carrier.wait_for("CallerHangup", lambda e: e.get("Tag") == "front-to-back", since=mark, timeout=30)

        # Nobody ran `linebox collect --once`: the call shows up in `linebox calls` by itself.
        _wait(lambda: listed(home, "100", "101"), "the call never appeared in linebox calls", 15)
        assert collector and _alive(pids[1]), banner

        # Ctrl-C in the middle of a call: Asterisk ends it as it stops, and its record is kept too.
        mark = carrier.mark()
        carrier.call("ph101", "100", tag="cut-short", hold=60)
        carrier.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "100", since=mark)
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0, "".join(output)
        reader.join(timeout=5)
        assert not [pid for pid in pids if _alive(pid)], f"left running: {pids}\n{''.join(output)}"
        assert listed(home, "101", "100"), "".join(output)
    finally:
        if carrier is not None:
            carrier.stop()
        if run.poll() is None:  # a failed test: stopped as Ctrl-C would, killed only if that fails
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait(timeout=10)
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
