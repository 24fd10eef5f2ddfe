"""``make run`` (lab/devrun.py) as a user runs it: Asterisk, the console and the event collector."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
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


class Run:
    """One ``make run`` on a home, read as a user reads its banner."""

    def __init__(self, home: Path):
        env = {**os.environ, "LINEBOX_RUN_HOME": str(home), "LINEBOX_WEB_PORT": str(free_port())}
        self.process = subprocess.Popen([sys.executable, "-m", "lab.devrun"], cwd=REPO, env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout or ()), daemon=True)
        self.reader.start()
        self.asterisk_pid: int | None = None

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def started(self) -> str:
        _wait(lambda: "Press Ctrl-C to stop." in self.output or self.process.poll() is not None,
              "make run did not start", 120)
        assert self.process.poll() is None, self.output
        self.asterisk_pid = int(re.search(r"Asterisk .*, pid (\d+)\)", self.output).group(1))
        return self.output

    def field(self, pattern: str) -> str:
        found = re.search(pattern, self.output)
        assert found, f"{pattern!r} not in the banner:\n{self.output}"
        return found.group(1)

    def linebox(self, *args: str) -> subprocess.CompletedProcess:
        """The ``linebox`` command exactly as the banner prints it, run from elsewhere with a bare PATH."""
        command = self.field(r"CLI: +(.+) status\n")
        return subprocess.run(f"{command} {shlex.join(args)}", shell=True, cwd="/", capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin"}, timeout=120)

    def stop(self) -> None:
        """Ctrl-C (SIGTERM): make run ends cleanly, and its Asterisk is gone."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                assert self.process.wait(timeout=60) == 0, self.output
            finally:
                if self.process.poll() is None:
                    self.process.kill()
                    self.process.wait(timeout=10)
        self.reader.join(timeout=5)
        if self.asterisk_pid is not None and _alive(self.asterisk_pid):
            os.kill(self.asterisk_pid, signal.SIGKILL)
            raise AssertionError(f"Asterisk (pid {self.asterisk_pid}) outlived make run:\n{self.output}")


def test_make_run_keeps_its_ports_and_generations_from_run_to_run(tmp_path):
    """Phones set up for make run's SIP port must find it at the next run, and generation numbers and the
    rollback history must go on rather than restart at 000001; a kept port something else holds stops make
    run with the name of that process instead of moving the phones' port."""
    home = tmp_path / "home"

    first = Run(home)
    try:
        first.started()
        sip, ami = int(first.field(r"SIP: +127\.0\.0\.1:(\d+)")), int(first.field(r"AMI: 127\.0\.0\.1:(\d+)"))
        assert first.field(r"Config: +generation (\d+) live") == "000001"
        # the banner's command works as printed, from any folder, with linebox not on PATH
        assert Path(first.field(r"CLI: +LINEBOX_HOME=\S+ (\S+) status")).is_absolute()
        Install.load(home).open()
        add("extension", number="100", name="Front desk")
        close_database()
        applied = first.linebox("apply")
        assert applied.returncode == 0 and "applied generation 000002" in applied.stdout, applied.stderr
    finally:
        first.stop()
    assert _free_udp(sip), f"SIP port {sip} still held after make run stopped"

    second = Run(home)
    try:
        second.started()
        assert int(second.field(r"SIP: +127\.0\.0\.1:(\d+)")) == sip, second.output
        assert int(second.field(r"AMI: 127\.0\.0\.1:(\d+)")) == ami, second.output
        assert second.field(r"Config: +generation (\d+) live") == "000002", second.output
        status = second.linebox("status")
        assert status.returncode == 0 and "Config:   generation 000002 live and loaded" in status.stdout, \
            status.stdout + status.stderr
        Install.load(home).open()
        # a phone in a new number range: the dialplan changes, so the apply makes a generation (a phone in the
        # 1XX range would only be rows, which the apply syncs with no new generation)
        add("extension", number="201", name="Back office")
        close_database()
        applied = second.linebox("apply")
        assert applied.returncode == 0 and "applied generation 000003" in applied.stdout, applied.stderr
        listed = second.linebox("generations").stdout.splitlines()
        assert [line.split()[0] for line in listed] == ["000003", "000002", "000001"], listed
        rolled = second.linebox("rollback", "000002")
        assert rolled.returncode == 0 and "generation 000002 is live" in rolled.stdout, rolled.stderr
    finally:
        second.stop()

    # Something else now holds the kept SIP port: make run names it and stops, starting nothing.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", sip))
        third = Run(home)
        try:
            assert third.process.wait(timeout=60) == 1, third.output
            third.reader.join(timeout=5)
        finally:
            third.stop()
    assert "Linebox is running" not in third.output
    assert f"127.0.0.1:{sip} (UDP), is in use by " in third.output, third.output
    assert f"(pid {os.getpid()}: " in third.output, third.output
    assert json.loads((home / "make-run.json").read_text()) == {"sip_port": sip, "ami_port": ami}


def test_make_run_writes_its_files_as_the_appliance_does(tmp_path):
    """The database, the generations (SIP passwords in pjsip.conf, AMI secrets in manager.conf) and the rest
    of make run's home are readable by their owner and group only (the units' UMask=0027), also what an
    earlier run left readable to everyone."""
    home = tmp_path / "home"
    Install.create(home).open()  # under the test's umask (022): linebox.db and appliance.json are 0644
    add("extension", number="100", name="Front desk")
    close_database()
    assert (home / "linebox.db").stat().st_mode & 0o004

    run = Run(home)
    try:
        run.started()
        live = home / "asterisk" / "live"
        for name in ("pjsip.conf", "manager.conf"):
            assert oct((live / name).stat().st_mode & 0o777) == "0o640", name
        assert "secret = " in (live / "manager.conf").read_text()
        open_to_others = [f"{path.relative_to(home)} {oct(path.stat().st_mode & 0o777)}"
                          for path in [home, *home.rglob("*")]
                          if not path.is_symlink() and path.stat().st_mode & 0o007]
        assert open_to_others == [], open_to_others
        assert oct((home / "linebox.db").stat().st_mode & 0o777) == "0o640"
    finally:
        run.stop()


def _free_udp(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port`` (the console)."""
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_make_run_stops_cleanly_when_its_asterisk_dies(tmp_path):
    """Asterisk killed under make run: make run says so with Asterisk's last words and exits 1 (it does not
    restart it, so the crash stays on the screen), and leaves nothing behind: no console still answering,
    no collector, and SIGTERM is never needed.  Before, it printed "stopping ..." and hung with the console
    still answering and SIGTERM ignored."""
    run = Run(tmp_path / "home")
    pids: list[int] = []
    try:
        run.started()
        web = int(run.field(r"Web console: +http://127\.0\.0\.1:(\d+)/"))
        pids = [run.asterisk_pid, int(run.field(r"Collector: +pid (\d+)"))]
        _wait(lambda: _answers(web), "the console never answered", 30)
        os.kill(run.asterisk_pid, signal.SIGKILL)
        try:
            code = run.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"make run still running 60 s after its Asterisk died:\n{run.output}") from None
        run.reader.join(timeout=5)
        assert code == 1, run.output
        assert "Asterisk stopped unexpectedly" in run.output and "make run" in run.output, run.output
        assert "Traceback" not in run.output, run.output
        assert not _answers(web), "the console still answers after make run ended"
        assert not [pid for pid in pids if _alive(pid)], f"left running: {pids}\n{run.output}"
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(timeout=10)
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
