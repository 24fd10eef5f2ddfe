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
