"""``linebox agi``: the FastAGI server as a systemd service (``linebox-agi.service``, ``Type=notify``).

Start-up: open the install's database, bind (127.0.0.1 and the site's ``agi_port`` unless told
otherwise), then tell systemd ``READY=1``.  While running, a watchdog thread plays Asterisk against the
server every half ``WatchdogSec`` (``server.health_check``) and pings ``WATCHDOG=1`` only when it is
answered, so a wedged server is restarted.  SIGTERM sends ``STOPPING=1``, stops accepting, and exits 0.
"""

from __future__ import annotations

import logging
from pathlib import Path

from appliance.agi import callback, caller_name, dial_guard, disposition, robot
from appliance.agi.server import DEFAULT_ADDRESS, FastAgiServer, Script
from appliance.install import Install
from appliance.services import journal, notify, serving
from appliance.site import stored

log = logging.getLogger("linebox.agi")

SCRIPTS: dict[str, Script] = {caller_name.NAME: caller_name.run, disposition.NAME: disposition.run,
                               dial_guard.NAME: dial_guard.run, dial_guard.END_NAME: dial_guard.run_end,
                               callback.NAME: callback.run, robot.NAME: robot.run}


def make_server(address: str = DEFAULT_ADDRESS, port: int | None = None) -> FastAgiServer:
    """The server on ``port`` (None: the site's ``agi_port``), with Linebox's scripts; the database must be open."""
    if port is None:
        port = stored.number("agi_port")
    return FastAgiServer(address, port, SCRIPTS)


def run(home: Path, address: str = DEFAULT_ADDRESS, port: int | None = None) -> int:
    """Serve FastAGI for the install at ``home`` until SIGTERM/SIGINT; return the exit status."""
    journal.setup("linebox-agi")
    stop = serving.stop_event()
    notify.status("loading the install")
    try:
        install = Install.load(home)
        install.open()
        server = make_server(address, port)
    except (OSError, ValueError, RuntimeError) as error:  # no install, newer database, port taken, ...
        return serving.start_failed(log, "FastAGI server", error)
    server.start()
    log.info("FastAGI scripts: %s", ", ".join(sorted(SCRIPTS)))
    exit_code = serving.serve_until_stopped(stop, server, "FastAGI server", home, log)
    log.info("FastAGI served %d requests", server.served)
    return exit_code
