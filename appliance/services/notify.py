"""sd_notify for Linebox's ``Type=notify`` services, and the watchdog thread that feeds systemd.

python-systemd (Debian's ``python3-systemd``, PyPI's ``systemd-python``) is used when it can be
imported; otherwise a few lines write the same datagram to ``$NOTIFY_SOCKET`` themselves, so the
services behave the same on a development machine and in the tests.  Outside systemd (no
``NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

try:
    from systemd import daemon as _daemon
except ImportError:  # pragma: no cover - depends on what is installed
    _daemon = None

log = logging.getLogger(__name__)


def _fallback_notify(state: str) -> bool:
    """sd_notify(3) by hand: one datagram to $NOTIFY_SOCKET (a leading '@' is an abstract socket)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.sendto(state.encode(), address)
    return True


def notify(*fields: str) -> bool:
    """Send ``KEY=value`` fields (``READY=1``, ``STATUS=...``) to systemd; False when not under systemd."""
    state = "\n".join(fields)
    try:
        if _daemon is not None:
            return bool(_daemon.notify(state))
        return _fallback_notify(state)
    except OSError as error:  # systemd gone (shutdown) or a stale socket: never take the service down for it
        log.debug("sd_notify failed: %s", error)
        return False


def status(text: str) -> bool:
    """A one-line status that ``systemctl status`` shows."""
    return notify(f"STATUS={text}")


def watchdog_interval() -> float | None:
    """Seconds between pings (half of $WATCHDOG_USEC), or None when this process has no watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2 / 1_000_000 if value > 0 else None


class Watchdog:
    """Pings ``WATCHDOG=1`` every ``interval`` seconds while ``healthy()`` says so.

    When ``healthy()`` is false (or raises) the ping is skipped and logged: systemd then kills and
    restarts the service once ``WatchdogSec`` passes without one.
    """

    def __init__(self, healthy: Callable[[], bool], interval: float):
        self.healthy = healthy
        self.interval = interval
        self.pings = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.interval + 10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                ok = self.healthy()
            except Exception:
                log.exception("watchdog check failed")
                ok = False
            if ok:
                notify("WATCHDOG=1")
                self.pings += 1
            elif not self._stop.is_set():
                log.warning("watchdog: service not answering; systemd restarts it if this goes on",
                            extra={"LINEBOX_EVENT": "watchdog-missed"})
