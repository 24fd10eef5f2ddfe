"""The Bans page: who is banned, why, since and until when; ban and unban by hand; recent failures.

A thin view over ``appliance.security.bans``.  Technicians see it, admins change it.  The console runs
without ``CAP_NET_ADMIN``: a ban or unban made here is recorded (and audited) at once and put in the
firewall by ``linebox-bans.service`` within a second.
"""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from appliance.errors import SiteError
from appliance.security import bans
from appliance.web.forms import EmptyForm
from appliance.web.i18n import problem_text
from appliance.web.pages import blueprint
from appliance.web.roles import ADMIN, VIEWERS, require_role

# the services whose failures are counted (``AuthFailure.service``), in words; SIP is SIP in every language
SERVICES = {"console": _l("console login"), "console-login": _l("console login"),
            "provisioning": _l("gateway provisioning"), "sip": "SIP"}


def _page(status: int = 200, problems: list[str] | None = None, address: str = ""):
    rows = bans.recent(30)
    return render_template("bans.html", in_force=[r for r in rows if bans.in_force(r)],
                           ended=[r for r in rows if not bans.in_force(r)],
                           counts=bans.failure_counts(timedelta(hours=1))[:10], policy=bans.Policy.load(),
                           form=EmptyForm(), problems=problems or [], address=address, nav_active="bans",
                           services=SERVICES), status


@blueprint.route("/bans")
@require_role(*VIEWERS)
def bans_page():
    return _page()


@blueprint.route("/bans", methods=["POST"])
@require_role(ADMIN)
def bans_ban():
    address = request.form.get("address", "")
    try:
        row = bans.ban(address, "banned by hand", user=current_user.username, enforce=False)
    except SiteError as error:
        return _page(422, [problem_text(p) for p in error.problems], address[:60])
    flash(gettext("%(address)s banned until %(until)s UTC.", address=row.source, until=f"{row.until:%Y-%m-%d %H:%M}"),
          "info")
    return redirect(url_for("pages.bans_page"))


@blueprint.route("/bans/unban", methods=["POST"])
@require_role(ADMIN)
def bans_unban():
    address = request.form.get("address", "")
    try:
        lifted = bans.unban(address, user=current_user.username, enforce=False)
    except SiteError as error:
        return _page(422, [problem_text(p) for p in error.problems])
    flash(gettext("%(address)s unbanned.", address=bans.address(address)) if lifted else
          gettext("%(address)s was not banned.", address=bans.address(address)), "info")
    return redirect(url_for("pages.bans_page"))
