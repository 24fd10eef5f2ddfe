"""``linebox serve`` for real: a subprocess that talks sd_notify to a socket the test listens on.

The test plays systemd: it binds the ``NOTIFY_SOCKET`` datagram socket, sets ``WATCHDOG_USEC``,
waits for ``READY=1``, fetches the login page over HTTPS verifying the self-signed certificate the
service generated, counts ``WATCHDOG=1`` pings, sends SIGTERM and expects ``STOPPING=1`` and exit 0.
A second start must reuse the certificate.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeSystemd:
    """The receiving end of sd_notify: a unix datagram socket, read with a deadline."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    def wait_for(self, field: str, timeout: float, proc: subprocess.Popen | None = None) -> float:
        """Read until a datagram holds ``field`` (e.g. READY=1); return when it came (monotonic)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                if proc is not None and proc.poll() is not None:
                    break
                continue
            self.messages.append(data)
            if field in data.splitlines():
                return time.monotonic()
        raise AssertionError(f"no {field} within {timeout} s; got {self.messages}")

    def count(self, field: str) -> int:
        return sum(field in m.splitlines() for m in self.messages)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    subprocess.run([sys.executable, "-m", "appliance.cli", "--home", str(home), "init"], cwd=ROOT, check=True,
                   capture_output=True, timeout=60)
    return home


def _start(home: Path, port: int, systemd: FakeSystemd, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "LISTEN_PID", "LISTEN_FDS")}
    env.update(NOTIFY_SOCKET=str(systemd.path), WATCHDOG_USEC="1000000", PYTHONUNBUFFERED="1")
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "--home", str(home), "serve", "--address", "127.0.0.1",
             "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen, systemd: FakeSystemd) -> float:
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    systemd.wait_for("STOPPING=1", 10)
    assert proc.wait(10) == 0
    return time.monotonic() - start


def _get(url: str, cafile: Path) -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(cafile))  # verified: the IP SAN 127.0.0.1 must match
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        return response.status, response.read().decode()


def test_serve_notifies_systemd_serves_https_and_stops_on_sigterm(home, tmp_path):
    port = _free_port()
    log = tmp_path / "serve.log"
    systemd = FakeSystemd(tmp_path / "notify.sock")
    proc = _start(home, port, systemd, log)
    try:
        started = time.monotonic()
        ready = systemd.wait_for("READY=1", 30, proc)
        cert, key = home / "tls" / "cert.pem", home / "tls" / "key.pem"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE((home / "tls").stat().st_mode) == 0o700
        status, body = _get(f"https://127.0.0.1:{port}/login", cert)
        assert status == 200 and 'name="password"' in body
        assert any(m.startswith("STATUS=") or "\nSTATUS=" in m for m in systemd.messages)

        systemd.wait_for("WATCHDOG=1", 5, proc)
        systemd.wait_for("WATCHDOG=1", 5, proc)
        stop_seconds = _stop(proc, systemd)
        assert stop_seconds < 5
        first_cert = cert.read_bytes()
        print(f"\nserve: ready in {ready - started:.2f} s, stopped in {stop_seconds:.2f} s, "
              f"{systemd.count('WATCHDOG=1')} watchdog pings")

        # second start: the same certificate, ready again
        proc = _start(home, port, systemd, log)
        systemd.wait_for("READY=1", 30, proc)
        assert cert.read_bytes() == first_cert
        assert _get(f"https://127.0.0.1:{port}/login", cert)[0] == 200
        _stop(proc, systemd)
        assert "using TLS certificate" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        systemd.close()


def test_serve_fails_cleanly_without_an_install(tmp_path):
    systemd = FakeSystemd(tmp_path / "notify.sock")
    env = {**os.environ, "NOTIFY_SOCKET": str(systemd.path)}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "appliance.cli", "--home", str(tmp_path / "nothing"), "serve", "--address",
             "127.0.0.1", "--port", str(_free_port())], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert "linebox init" in result.stderr and "Traceback" not in result.stderr
        systemd.wait_for("STATUS=failed: no Linebox install at " + str(tmp_path / "nothing") + " (missing "
                         + str(tmp_path / "nothing" / "appliance.json") + "); run 'linebox init' first", 5)
    finally:
        systemd.close()
