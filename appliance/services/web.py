"""``linebox serve``: the web console as a systemd service (``linebox-web.service``, ``Type=notify``).

Start-up: load the install, make sure the TLS certificate exists (self-signed on first start, in
``<home>/tls``), bind, then tell systemd ``READY=1``.  While running, a watchdog thread sends a real
HTTPS request to the server's own ``/-/alive`` every half ``WatchdogSec`` and pings ``WATCHDOG=1``
only when it is answered, so a wedged server is restarted by systemd.  SIGTERM (``systemctl stop``)
sends ``STOPPING=1``, closes the listener and the connections, and exits 0.

With ``http_port`` (and TLS on), a second, plain-HTTP listener on that port redirects every request to
the HTTPS console; it is optional (0: none) and a failure to bind it stops the start like the main port.
"""

from __future__ import annotations

import logging
from pathlib import Path

from appliance.install import Install
from appliance.services import journal, notify, serving, tls
from appliance.services.http_server import make_redirect_server, make_server
from appliance.web.app import create_app

log = logging.getLogger("linebox.web")

DEFAULT_ADDRESS = "0.0.0.0"
DEFAULT_PORT = 443


def run(home: Path, address: str = DEFAULT_ADDRESS, port: int = DEFAULT_PORT, use_tls: bool = True,
        tls_dir: Path | None = None, http_port: int = 0) -> int:
    """Serve the console of the install at ``home`` until SIGTERM/SIGINT; return the exit status."""
    journal.setup("linebox-web")
    stop = serving.stop_event()

    notify.status("loading the install")
    try:
        install = Install.load(home)
        app = create_app(install, https=use_tls)
        files = tls.ensure(tls_dir or install.home / "tls") if use_tls else None
        if files is not None:
            verb = "generated" if files.created else "using"
            log.info("%s TLS certificate %s: %s", verb, files.certificate, tls.describe(files.certificate),
                     extra={"LINEBOX_EVENT": "tls-generated" if files.created else "tls-loaded",
                            "LINEBOX_CERTIFICATE": str(files.certificate)})
        server = make_server(app, address, port,
                             certificate=files.certificate if files else None,
                             private_key=files.private_key if files else None)
        redirect = make_redirect_server(server.port, address, http_port) if use_tls and http_port else None
    except (OSError, ValueError) as error:  # no install, unreadable certificate, port taken, ...
        return serving.start_failed(log, "console", error)

    server.start()
    if redirect is not None:
        redirect.start()
        log.info("plain HTTP on %s redirects to HTTPS", redirect.url, extra={"LINEBOX_EVENT": "redirect-ready"})
    return serving.serve_until_stopped(stop, server, "console", install.home, log,
                                       also=[redirect] if redirect is not None else [])
