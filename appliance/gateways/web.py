"""The provisioning endpoint gateways download their file from (``GET /provision/<file name>``), and
the admin's gateway page (``/gateways``: gateways, port bindings and state, unknown MACs to adopt).

No console login (a gateway cannot log in): only an adopted MAC gets a file, and every request is
logged (``appliance.gateways.provisioning_file``).  With a provisioning password set, the device
must send it as ``/provision/<password>/<file name>`` or as the HTTP basic auth password (any
user name).  The SIP server written into the file is the host the device used to reach the
console (its ``Host`` header, checked against a strict host pattern), with the site's SIP port.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from appliance import gateways
from appliance.asterisk.ami import AmiError
from appliance.site.errors import SiteError
from appliance.web.forms import EmptyForm
from appliance.web.roles import VIEWERS, require_role
from hardware import gateways as catalogue

blueprint = Blueprint("gateways", __name__, template_folder="templates")
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


# ---------------------------------------------------------------- the admin's page

def _port_states() -> tuple[dict, str]:
    """{(mac, port): PortState} from AMI, or ({}, why not)."""
    install = current_app.extensions["linebox.install"]
    try:
        with install.connect_ami(timeout=5) as ami:
            return {(s.gateway, s.number): s for s in gateways.port_states(ami)}, ""
    except AmiError as error:
        return {}, f"port state unknown: {error}"


@blueprint.route("/gateways")
@require_role(*VIEWERS)
def page():
    states, state_error = _port_states()
    return render_template(
        "gateways.html", gateways=gateways.list_gateways(), states=states, state_error=state_error,
        unknown=gateways.unknown_devices(), models=catalogue.load_catalogue().models, form=EmptyForm(),
        password_set=bool(gateways.provisioning_password()),
    )


@blueprint.route("/gateways/adopt", methods=["POST"])
@require_role(*VIEWERS)
def adopt():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        gw = gateways.adopt_unknown(request.form.get("mac", ""), request.form.get("model", ""),
                                    current_user.username, name=request.form.get("name", ""))
    except SiteError as error:
        for problem in error.problems:
            flash(str(problem), "error")
    else:
        flash(f"Gateway {gw['mac']} adopted: bind its ports, then it gets its file at its next boot.", "info")
    return redirect(url_for("gateways.page"))
