"""The provisioning endpoint gateways download their file from: ``GET /provision/<file name>``.

No console login (a gateway cannot log in): only an adopted MAC gets a file, and every request is
logged (``appliance.gateways.provisioning_file``).  With a provisioning password set, the device
must send it as ``/provision/<password>/<file name>`` or as the HTTP basic auth password (any
user name).  The SIP server written into the file is the host the device used to reach the
console (its ``Host`` header, checked against a strict host pattern), with the site's SIP port.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from appliance import gateways

blueprint = Blueprint("gateways", __name__)
log = logging.getLogger(__name__)


def _server_host() -> str:
    host = request.host or ""
    if host.startswith("["):  # [v6]:port
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _answer(file_name: str, password: str | None) -> Response:
    if password is None and request.authorization is not None:
        password = request.authorization.password
    served = gateways.provisioning_file(
        file_name, _server_host(), address=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", ""), password=password,
    )
    if served.status != 200:
        log.info("provisioning request for %s from %s refused (%s): %s", file_name, request.remote_addr,
                 served.status, served.reason)
    response = Response(served.body, status=served.status, content_type=served.content_type)
    response.headers["Cache-Control"] = "no-store"
    if served.status == 403:
        response.headers["WWW-Authenticate"] = 'Basic realm="Linebox provisioning"'
    return response


@blueprint.route("/provision/<file_name>")
def provision(file_name: str) -> Response:
    return _answer(file_name, None)


@blueprint.route("/provision/<password>/<file_name>")
def provision_with_password(password: str, file_name: str) -> Response:
    return _answer(file_name, password)
