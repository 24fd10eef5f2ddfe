"""Console pages other than log in/out: for now the status page."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template
from flask_login import login_required

from appliance.support import status as status_mod

blueprint = Blueprint("views", __name__)


@blueprint.app_template_filter("bytes")
def _bytes(value: float) -> str:
    return status_mod.human_bytes(value)


@blueprint.app_template_filter("duration")
def _duration(value: float) -> str:
    return status_mod.human_duration(value)


@blueprint.route("/")
@login_required
def status():
    install = current_app.extensions["linebox.install"]
    sysfs = Path(current_app.config.get("LINEBOX_SYSFS", "/sys"))  # a fake tree in tests
    return render_template("status.html", status=status_mod.collect(install, sysfs))
