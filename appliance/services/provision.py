"""``linebox provision-serve``: the gateway provisioning server (``linebox-provision.service``, ``Type=notify``).

Plain HTTP (port 8080 on every address by default), serving only ``/provision/<file>`` and
``/provision/<password>/<file>`` (``appliance.web.provisioning``) plus the liveness path
``/-/alive``: most FXO/FXS gateways provision over plain HTTP and cannot check the console's
self-signed certificate.  Requests from unknown MACs are logged for adoption as in the console.

Start-up: load the install, bind, then tell systemd ``READY=1``.  While running, the watchdog sends
a real request to the server's own ``/-/alive`` every half ``WatchdogSec`` and pings ``WATCHDOG=1``
only when it is answered.  SIGTERM sends ``STOPPING=1``, closes the listener and the connections,
and exits 0 (``appliance.services.serving``, as the console does).  No TFTP.
"""

from __future__ import annotations

import logging
from pathlib import Path

from appliance.install import Install
from appliance.services import journal, notify, serving
from appliance.services.http_server import make_server
from appliance.web.provisioning import create_app

log = logging.getLogger("linebox.provision")

NAME = "provisioning server"
DEFAULT_ADDRESS = "0.0.0.0"
DEFAULT_PORT = 8080


def run(home: Path, address: str = DEFAULT_ADDRESS, port: int = DEFAULT_PORT) -> int:
    """Serve gateways' provisioning files for the install at ``home`` until SIGTERM/SIGINT; the exit status."""
    journal.setup("linebox-provision")
    stop = serving.stop_event()
    notify.status("loading the install")
    try:
        install = Install.load(home)
        server = make_server(create_app(install), address, port)
    except (OSError, ValueError) as error:  # no install, port taken, ...
        return serving.start_failed(log, NAME, error)
    server.start()
    return serving.serve_until_stopped(stop, server, NAME, install.home, log)
