"""The console's Hardware page: telephony cards from the last scan, and the spans and analog ports on each.

Read-only for everyone who may see the configuration (admins and technicians); the ports, spans and
DAHDI trunks themselves are edited on their object pages, which this page links to (admins only).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from appliance.site.telephony import overview
from appliance.web.pages.common import install
from appliance.web.roles import VIEWERS, require_role

blueprint = Blueprint("hardware", __name__)


@blueprint.route("/hardware")
@require_role(*VIEWERS)
def page():
    return render_template("hardware.html", view=overview(install().inventory_file), nav_active="hardware")
