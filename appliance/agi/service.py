"""``linebox agi``: the FastAGI server as a systemd service (``linebox-agi.service``, ``Type=notify``).

Start-up: open the install's database, bind (127.0.0.1 and the site's ``agi_port`` unless told
otherwise), then tell systemd ``READY=1``.  While running, a watchdog thread plays Asterisk against the
server every half ``WatchdogSec`` (``server.health_check``) and pings ``WATCHDOG=1`` only when it is
answered, so a wedged server is restarted.  SIGTERM sends ``STOPPING=1``, stops accepting, and exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from appliance.agi import caller_name
from appliance.agi.server import DEFAULT_ADDRESS, FastAgiServer, health_check
from appliance.services import journal, notify

log = logging.getLogger("linebox.agi")

SCRIPTS = {caller_name.NAME: caller_name.run}


def make_server(address: str = DEFAULT_ADDRESS, port: int | None = None) -> FastAgiServer:
    """The server on ``port`` (None: the site's ``agi_port``), with Linebox's scripts; the database must be open."""
    if port is None:
        from appliance.site import service
        port = service.load_settings().agi_port
    return FastAgiServer(address, port, SCRIPTS)


def run(home: Path, address: str = DEFAULT_ADDRESS, port: int | None = None) -> int:
    """Serve FastAGI for the install at ``home`` until SIGTERM/SIGINT; return the exit status."""
    journal.setup("linebox-agi")
    from appliance.install import Install
    from appliance.model.database import close_database

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    notify.status("loading the install")
    try:
        install = Install.load(home)
        install.open()
        server = make_server(address, port)
    except (OSError, ValueError, RuntimeError) as error:  # no install, newer database, port taken, ...
        log.error("cannot start the FastAGI server: %s", error, extra={"LINEBOX_EVENT": "start-failed"})
        notify.status(f"failed: {error}")
        return 1
    server.start()
    where = f"agi://{server.address}:{server.port}/"
    log.info("FastAGI listening on %s (scripts: %s)", where, ", ".join(sorted(SCRIPTS)),
             extra={"LINEBOX_EVENT": "ready", "LINEBOX_URL": where})
    notify.notify("READY=1", f"STATUS=serving FastAGI on {where}")

    watchdog = None
    interval = notify.watchdog_interval()
    if interval:
        watchdog = notify.Watchdog(lambda: server.serving and health_check(server.address, server.port,
                                                                             timeout=min(5.0, interval)),
                                   interval).start()
        log.info("watchdog: pinging every %.1f s while the server answers", interval)

    exit_code = 0
    while not stop.wait(1):
        if not server.serving:
            log.error("the FastAGI server stopped by itself", extra={"LINEBOX_EVENT": "server-died"})
            exit_code = 1
            break
    notify.notify("STOPPING=1", "STATUS=stopping")
    log.info("stopping the FastAGI server (%d requests served)", server.served, extra={"LINEBOX_EVENT": "stopping"})
    if watchdog is not None:
        watchdog.stop()
    server.close()
    close_database()
    log.info("FastAGI server stopped", extra={"LINEBOX_EVENT": "stopped"})
    return exit_code
