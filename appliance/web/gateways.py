"""The admin's gateway page (``/gateways``: gateways, port bindings and state, unknown MACs to adopt,
and the provisioning server's URL to type into a gateway).

A thin layer over ``appliance.gateways`` (which adopts, binds and audits); it lives with the rest of
the console so the domain package holds no page code.  The provisioning endpoint itself
(``/provision/<file name>``) is ``appliance.web.provisioning``'s blueprint, nested here so the
console still serves it over HTTPS; gateways are pointed at the provisioning server
(``linebox-provision.service``, plain HTTP) instead.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from appliance.asterisk.ami import AmiError
from appliance.errors import SiteError
from appliance.gateways import port_state
from appliance.gateways import service as gateways
from appliance.web import provisioning as provision
from appliance.web.forms import EmptyForm
from appliance.web.i18n import problem_text
from appliance.web.roles import VIEWERS, require_role
from hardware import gateways as catalogue

blueprint = Blueprint("gateways", __name__)
blueprint.register_blueprint(provision.blueprint)


# ---------------------------------------------------------------- the admin's page

def _port_states() -> tuple[dict, str]:
    """{(mac, port): PortState} from AMI, or ({}, why not)."""
    install = current_app.extensions["linebox.install"]
    try:
        with install.connect_ami(timeout=5) as ami:
            return {(s.gateway, s.number): s for s in port_state.port_states(ami)}, ""
    except AmiError as error:
        return {}, str(error)  # the system's own words, quoted as they are (lang="en" in the page)


@blueprint.route("/gateways")
@require_role(*VIEWERS)
def page():
    states, state_error = _port_states()
    return render_template(
        "gateways.html", gateways=gateways.list_gateways(), states=states, state_error=state_error,
        unknown=gateways.unknown_devices(), models=catalogue.load_catalogue().models, form=EmptyForm(),
        password_set=bool(gateways.provisioning_password()),
        provisioning={g["mac"]: gateways.provisioning_state(g["mac"]) for g in gateways.list_gateways()},
        networks=gateways.provisioning_networks(), https=gateways.provisioning_https(),
        window_minutes=gateways.ADOPTION_MINUTES,
        provisioning_url=gateways.provisioning_url(provision.server_host(), gateways.provision_port()),
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
            flash(problem_text(problem), "error")
    else:
        flash(gettext("Gateway %(mac)s adopted: bind its ports, then it gets its file at its next boot.",
                      mac=gw["mac"]), "info")
    return redirect(url_for("gateways.page"))


@blueprint.route("/gateways/<mac>/adoption-window", methods=["POST"])
@require_role(*VIEWERS)
def open_window(mac: str):
    """Open the gateway's adoption window: its next fetch without its credential is served, once."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        until = gateways.open_adoption_window(mac, current_user.username)
    except SiteError as error:
        for problem in error.problems:
            flash(problem_text(problem), "error")
    else:
        flash(gettext("Adoption window for %(mac)s open until %(time)s UTC: restart the gateway now; "
                      "its first fetch gets its file and its own credential.", mac=mac, time=f"{until:%H:%M}"), "info")
    return redirect(url_for("gateways.page"))
