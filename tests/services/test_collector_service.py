"""The event collector's service life (``appliance.services.collector``), in process: READY, a round that
copies queue_log and tries auto-pause, the watchdog fed by finished rounds, STOPPING when told to stop.

The copying itself is tested in tests/unit/test_collector.py and, against real Asterisk, in the lab.
"""

from __future__ import annotations

import socket
import threading

from appliance.asterisk.ami import AmiError
from appliance.model.models import QueueEvent
from appliance.services import collector

LINES = ["1790000000|c1|700|NONE|ENTERQUEUE||+441111|1", "1790000009|c1|700|201|RINGNOANSWER|15000"]


def test_collector_service_says_ready_collects_feeds_the_watchdog_and_stops(install, tmp_path, monkeypatch):
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(tmp_path / "notify"))
    systemd.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)

    def no_asterisk(timeout: float = 30, user: str | None = None):
        raise AmiError("cannot reach AMI at 127.0.0.1:1: refused")

    monkeypatch.setattr(install, "connect_ami", no_asterisk)
    install.asterisk_log_dir.mkdir(parents=True, exist_ok=True)
    (install.asterisk_log_dir / "queue_log").write_text("".join(line + "\n" for line in LINES))

    said: list[str] = []
    warned: list[str] = []
    stop = threading.Event()
    safety = threading.Timer(20, stop.set)
    safety.start()

    def warn(message: str) -> None:
        warned.append(message)
        stop.set()  # the round that read the lines has tried auto-pause: enough

    try:
        collector.run(install, say=said.append, warn=warn, stop=stop)
    finally:
        safety.cancel()
        messages = []
        systemd.settimeout(0.2)
        try:
            while True:
                messages.append(systemd.recv(4096).decode())
        except OSError:
            pass
        systemd.close()

    assert QueueEvent.select().count() == len(LINES)
    assert said == [] and warned == ["auto-pause skipped: cannot reach AMI at 127.0.0.1:1: refused"]
    assert messages[0].startswith("READY=1\nSTATUS=collecting from ") and messages[-1] == "STOPPING=1"
    assert "WATCHDOG=1" in messages


def test_collect_once_says_what_it_read(install):
    install.asterisk_log_dir.mkdir(parents=True, exist_ok=True)
    (install.asterisk_log_dir / "queue_log").write_text("".join(line + "\n" for line in LINES))
    assert collector.collect_once(install) == "read 2 queue_log line(s), 0 call record(s)"
    assert collector.collect_once(install) == "read 0 queue_log line(s), 0 call record(s)"


def test_a_backlog_shows_in_the_status_and_auto_pause_waits_until_it_is_read(install, tmp_path, monkeypatch):
    """Rounds of one chunk each while a backlog remains, one after the other: systemd's status says how far
    it has got, the journal when it is done, and auto-pause looks once, at the end (not at misses that
    later lines of the backlog may answer)."""
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(tmp_path / "notify"))
    systemd.settimeout(0.5)
    messages: list[str] = []

    def listen() -> None:  # as systemd does: read as they come (the socket queues only a few)
        while not stop.is_set() or messages[-1:] != ["STOPPING=1"]:
            try:
                messages.append(systemd.recv(4096).decode())
            except TimeoutError:
                if stop.is_set():
                    return

    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.setattr(collector.collector, "CHUNK_BYTES", 64)  # two lines a round
    lines = [f"{1790000000 + i}|c{i}|700|NONE|ENTERQUEUE||+4411{i:04d}|1" for i in range(10)]
    install.asterisk_log_dir.mkdir(parents=True, exist_ok=True)
    (install.asterisk_log_dir / "queue_log").write_text("".join(line + "\n" for line in lines))

    def no_asterisk(timeout: float = 30, user: str | None = None):
        raise AmiError("cannot reach AMI at 127.0.0.1:1: refused")

    monkeypatch.setattr(install, "connect_ami", no_asterisk)
    said: list[str] = []
    warned: list[str] = []
    stop = threading.Event()
    safety = threading.Timer(20, stop.set)
    safety.start()
    listener = threading.Thread(target=listen)
    listener.start()

    def say(message: str) -> None:
        said.append(message)
        stop.set()  # caught up: enough

    try:
        collector.run(install, say=say, warn=warned.append, stop=stop)
    finally:
        safety.cancel()
        stop.set()
        listener.join(10)
        systemd.close()

    assert QueueEvent.select().count() == len(lines)
    assert len(said) == 1 and said[0].startswith("caught up on a backlog: 10 queue_log line(s), 0 call record(s) in ")
    assert warned == ["auto-pause skipped: cannot reach AMI at 127.0.0.1:1: refused"]  # once, at the end
    progress = [m for m in messages if m.startswith("STATUS=catching up on a backlog: ")]
    assert len(progress) >= 3 and progress[0] != progress[-1]
    assert messages[-2:] == [f"STATUS=collecting from {install.asterisk_log_dir}", "STOPPING=1"]
