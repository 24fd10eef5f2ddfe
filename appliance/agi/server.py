"""A threaded FastAGI server: one thread per call, each connection handed to a script by its name.

``FastAgiServer(address, port, scripts)`` listens (127.0.0.1:4573 by default: Asterisk on the same box
is the only client, so nothing listens on the network).  A script is a function ``(AgiConnection) ->
str`` returning a one-word outcome for the log; an unknown script name, a protocol error or a script
that raises ends that call's AGI with the connection closed, and Asterisk's ``AGI()`` returns with the
dialplan going on.  Every connection has a time limit on each read (``timeout``), so a peer that stops
talking costs one thread for a bounded time.

``health_check`` plays Asterisk against the server itself (environment, then answers ``NOOP``): the
service's watchdog pings systemd only while it passes.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable

from appliance.agi.protocol import AgiConnection, AgiError
from appliance.tcp_server import BackgroundTcpServer

log = logging.getLogger("linebox.agi")

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 4573
READ_TIMEOUT = 5.0
HEALTH_SCRIPT = "linebox-health"

Script = Callable[[AgiConnection], str]


def _health(agi: AgiConnection) -> str:
    reply = agi.command("NOOP linebox-health")
    return "ok" if reply.ok else "bad-reply"


class _Handler(socketserver.BaseRequestHandler):
    server: FastAgiServer

    def handle(self) -> None:
        started = time.monotonic()
        agi = AgiConnection(self.request, self.server.timeout_seconds)
        outcome, script = "error", ""
        try:
            agi.read_environment()
            script = agi.script
            handler = self.server.scripts.get(script)
            if handler is None:
                outcome = "unknown-script"
                log.warning("AGI script %r asked for but not known (known: %s)", script,
                            ", ".join(sorted(self.server.scripts)),
                            extra={"LINEBOX_EVENT": "agi-unknown-script", "LINEBOX_AGI_SCRIPT": script})
                return
            outcome = handler(agi)
        except AgiError as error:
            outcome = "protocol-error"
            log.warning("AGI %s: %s", script or "connection", error,
                        extra={"LINEBOX_EVENT": "agi-protocol-error", "LINEBOX_AGI_SCRIPT": script})
        except Exception:
            log.exception("AGI script %s failed", script, extra={"LINEBOX_EVENT": "agi-script-failed",
                                                                 "LINEBOX_AGI_SCRIPT": script})
        finally:
            agi.close()
            self.server.record(outcome, time.monotonic() - started)


class FastAgiServer(BackgroundTcpServer):
    """Listens and serves in a background thread (``start``); ``close`` stops it and waits for it."""

    request_queue_size = 64
    thread_name = "fastagi"

    def __init__(self, address: str, port: int, scripts: dict[str, Script], timeout: float = READ_TIMEOUT):
        super().__init__(address, port, _Handler)
        self.scripts = {HEALTH_SCRIPT: _health, **scripts}
        self.timeout_seconds = timeout
        self.served = 0
        self._lock = threading.Lock()

    def record(self, outcome: str, seconds: float) -> None:
        with self._lock:
            self.served += 1

    @property
    def url(self) -> str:
        return f"agi://{self.address}:{self.port}/"

    def check(self, timeout: float = 5.0) -> bool:
        """Answered as Asterisk would be (what the service's watchdog asks before each ping)."""
        return health_check(self.address, self.port, timeout=timeout)


def health_check(address: str, port: int, timeout: float = 5.0) -> bool:
    """Talk to the server as Asterisk would: True when it runs the health script and closes."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.sendall(f"agi_network: yes\nagi_network_script: {HEALTH_SCRIPT}\n"
                         "agi_request: agi://linebox/health\n\n".encode())
            reader = sock.makefile("rb")
            command = reader.readline(1024)
            if not command.startswith(b"NOOP"):
                return False
            sock.sendall(b"200 result=0\n")
            return reader.readline(1024) == b""  # the server hangs up when the script is done
    except OSError:
        return False
