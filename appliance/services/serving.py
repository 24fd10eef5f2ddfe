"""What Linebox's HTTP services share: stop on SIGTERM, say READY, feed the watchdog, stop cleanly.

``stop_event`` turns SIGTERM/SIGINT into an event; ``serve_until_stopped`` takes a started
``appliance.services.http_server.ConsoleServer`` and does the rest of a ``Type=notify`` service's life:
``READY=1`` with a status line, a watchdog thread that pings ``WATCHDOG=1`` only while a real request
to the server's ``/-/alive`` is answered, a loop that notices the server dying by itself, then
``STOPPING=1``, closing the listeners and the database, and the exit status (0 after SIGTERM).
Log records carry ``LINEBOX_EVENT`` (ready, stopping, stopped, server-died) and ``LINEBOX_URL``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable
from pathlib import Path

from appliance.model.database import close_database
from appliance.services import notify


def stop_event() -> threading.Event:
    """An event that SIGTERM (``systemctl stop``) and SIGINT set."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def serve_until_stopped(stop: threading.Event, server, name: str, home: Path, log: logging.Logger,
                        also: Iterable = ()) -> int:
    """Run the started ``server`` (named ``name`` in logs: "console") until ``stop``; ``also``: more to close."""
    url = server.url
    log.info("%s listening on %s (install %s)", name, url, home,
             extra={"LINEBOX_EVENT": "ready", "LINEBOX_URL": url})
    notify.notify("READY=1", f"STATUS=serving the {name} on {url}")

    watchdog = None
    interval = notify.watchdog_interval()
    if interval:
        watchdog = notify.Watchdog(lambda: server.serving and server.check(timeout=min(5.0, interval)),
                                   interval).start()
        log.info("watchdog: pinging every %.1f s while the %s answers", interval, name)

    exit_code = 0
    while not stop.wait(1):
        if not server.serving:
            log.error("the %s's server stopped by itself", name, extra={"LINEBOX_EVENT": "server-died"})
            exit_code = 1
            break

    notify.notify("STOPPING=1", "STATUS=stopping")
    log.info("stopping the %s", name, extra={"LINEBOX_EVENT": "stopping"})
    if watchdog is not None:
        watchdog.stop()
    for other in also:
        other.close()
    server.close()
    close_database()
    log.info("%s stopped", name, extra={"LINEBOX_EVENT": "stopped"})
    return exit_code


def start_failed(log: logging.Logger, name: str, error: Exception) -> int:
    """Log and report (``STATUS=failed: ...``) a start that could not bind or load; the exit status 1."""
    log.error("cannot start the %s: %s", name, error, extra={"LINEBOX_EVENT": "start-failed"})
    notify.status(f"failed: {error}")
    return 1
