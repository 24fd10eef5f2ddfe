"""Where gateways download their file: ``GET /provision/<file name>`` (and ``/provision/<credential>/<file name>``).

One blueprint, served twice:

* by the provisioning server (``create_app`` here, run by ``linebox provision-serve`` /
  ``linebox-provision.service``) on plain HTTP, port 8080 by default: what gateways are pointed
  at, since most of them provision over plain HTTP and cannot check a self-signed certificate;
* inside the web console (``appliance.web.gateways`` nests it), over HTTPS, for devices that
  were pointed at the console before.

No login (a gateway cannot log in): only an adopted MAC gets a file, only with its own credential
(``/provision/<credential>/<file name>`` or as the HTTP basic auth password, any user name) or once
inside its adoption window, only from the provisioning networks, and an address that keeps getting
refused is locked out (429 with ``Retry-After``): ``appliance.gateways.service.provisioning_file``
decides and logs every request, so unknown MACs can be adopted.  The SIP server written into the
file is the host the device used to reach us (its ``Host`` header, checked against a strict host
pattern), with the site's SIP port; the file also points the device at the provisioning server's
plain-HTTP URL on that host (or, for models that can and with HTTPS provisioning on, at the
console's HTTPS port), with its credential, so it keeps provisioning from there.  Answers are
never cached (``Cache-Control: no-store``).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, request

from appliance.gateways import service
from appliance.model.database import database
from appliance.security import bans

blueprint = Blueprint("provision", __name__)
log = logging.getLogger(__name__)

# app.config key: true in the provisioning server's own app, whose files name the port the request came in on
OWN_PORT_KEY = "LINEBOX_PROVISION_OWN_PORT"


def server_host() -> str:
    """The host the client used to reach us (the ``Host`` header without its port)."""
    host = request.host or ""
    if host.startswith("["):  # [v6]:port
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _provision_port() -> int:
    """The provisioning server's port, written into files: this server's own, or the configured one."""
    if current_app.config.get(OWN_PORT_KEY):
        try:
            return int(request.environ.get("SERVER_PORT") or 80)
        except ValueError:
            return 80
    return service.provision_port()


def _answer(file_name: str, password: str | None) -> Response:
    if password is None and request.authorization is not None:
        password = request.authorization.password
    served = service.provisioning_file(
        file_name, server_host(), address=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", ""), password=password, provision_port=_provision_port(),
    )
    if served.status != 200:
        log.info("provisioning request for %s from %s refused (%s): %s", file_name, request.remote_addr,
                 served.status, served.reason,
                 extra={"LINEBOX_EVENT": "provision-refused", "LINEBOX_MAC": served.mac,
                        "LINEBOX_STATUS": str(served.status)})
    else:
        log.info("served %s to %s", file_name, request.remote_addr,
                 extra={"LINEBOX_EVENT": "provision-served", "LINEBOX_MAC": served.mac})
    response = Response(served.body, status=served.status, content_type=served.content_type)
    response.headers["Cache-Control"] = "no-store"
    if served.status == 403:
        response.headers["WWW-Authenticate"] = 'Basic realm="Linebox provisioning"'
    if served.status == 429:
        response.headers["Retry-After"] = str(served.retry_after)
    return response


@blueprint.route("/provision/<file_name>")
def file(file_name: str) -> Response:
    return _answer(file_name, None)


@blueprint.route("/provision/<password>/<file_name>")
def file_with_password(password: str, file_name: str) -> Response:
    return _answer(file_name, password)


def create_app(install) -> Flask:
    """The provisioning server's app for ``install`` (an ``appliance.install.Install``): the routes above only."""
    if database.obj is None or database.obj.database != install.database_target:  # tests open it first
        install.open()
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024, **{OWN_PORT_KEY: True})
    app.extensions["linebox.install"] = install
    app.register_blueprint(blueprint)
    bans.count_refused_requests()  # MAC guessing from one address ends in a ban, like SIP guessing

    @app.before_request
    def _connect() -> None:
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _disconnect(_exc) -> None:  # one peewee connection per server thread: give it back after each request
        if not database.is_closed():
            database.close()

    @app.after_request
    def _headers(response: Response) -> Response:  # also the 404/405 answers the view never sees
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app


__all__ = ["OWN_PORT_KEY", "blueprint", "create_app", "server_host"]
