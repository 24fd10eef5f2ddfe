"""Console pages other than log in/out: the status page, and the icon browsers ask every site for."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template, send_from_directory
from flask_login import login_required

from appliance.support import status as status_mod

blueprint = Blueprint("views", __name__)


@blueprint.app_template_filter("bytes")
def _bytes(value: float) -> str:
    return status_mod.human_bytes(value)


@blueprint.route("/")
@login_required
def status():
    install = current_app.extensions["linebox.install"]
    sysfs = Path(current_app.config.get("LINEBOX_SYSFS", "/sys"))  # a fake tree in tests
    return render_template("status.html", status=status_mod.collect(install, sysfs))


@blueprint.route("/favicon.ico")
def favicon():
    """The tab icon, from the console's own files: browsers ask ``/favicon.ico`` of every site (the page,
    a chart opened alone, the API), and a 404 there fills the logs and shows a blank tab. No login: a
    browser asks before anyone has logged in."""
    return send_from_directory(current_app.static_folder or "static", "favicon.ico",
                               mimetype="image/vnd.microsoft.icon", max_age=86400)
