"""The console's missed-call follow-up list (``/missed``): queue callers nobody answered, until reached.

Thin: ``appliance.callcenter.missed`` derives, claims, releases and closes.  Agents see and work the list
(claim a line, call back, close a wrong number); supervisors and admins too, and may release a line another
user holds (an agent gone home).  Every change is a POST with the form's CSRF token, audited by the service.
*Call back* claims the line and rings the user's own phone first (click-to-dial, as on the agent page:
``callcenter.dial_for``), for the users who may dial from the console (agents, admins).
"""

from __future__ import annotations

import time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from appliance.callcenter import missed
from appliance.errors import SiteError
from appliance.site import localtime
from appliance.web.callcenter import AGENT_ROLES, dial_for
from appliance.web.forms import EmptyForm
from appliance.web.i18n import problems_text
from appliance.web.roles import require_role

blueprint = Blueprint("missed", __name__)
ROLES = ("agent", "supervisor", "admin")
OVERRIDERS = ("supervisor", "admin")
DIALLERS = AGENT_ROLES  # who may ring their own phone to call from the console
CLOSED_SHOWN_SECONDS = 7 * 86400


def reason_words() -> dict[str, str]:
    return {"called_again": gettext("called in again and was answered"), "reached": gettext("reached by a call"),
            "dismissed": gettext("closed by hand")}


@blueprint.get("/missed")
@require_role(*ROLES, write=ROLES)
def page():
    queue = request.args.get("queue", "").strip()[:20] or None
    queues = [queue] if queue else None
    missed.sync()
    now = time.time()
    return render_template("missed.html", nav_active="missed", lines=missed.open_lines(queues),
                           closed=missed.closed_lines(int(now - CLOSED_SHOWN_SECONDS), queues), queue=queue or "",
                           reasons=reason_words(), me=current_user.username,
                           may_override=current_user.role in OVERRIDERS, form=EmptyForm(),
                           may_dial=current_user.role in DIALLERS,
                           zone=localtime.site_zone())


@blueprint.post("/missed/<any(claim, release, dismiss, call):action>")
@require_role(*ROLES, write=ROLES)
def act(action: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    queue, number = request.form.get("queue", "").strip()[:20], request.form.get("number", "").strip()[:40]
    user = current_user.username
    try:
        if action == "claim":
            missed.claim(user, queue, number)
            flash(gettext("You call %(number)s back; the others see it.", number=number), "success")
        elif action == "call":
            if current_user.role not in DIALLERS:
                abort(403)
            missed.claim(user, queue, number)
            dialled = dial_for(user, missed.number_to_dial(number))
            flash(gettext("Your phone rings: pick it up to call %(number)s.", number=dialled), "success")
        elif action == "release":
            missed.release(user, queue, number, override=current_user.role in OVERRIDERS)
            flash(gettext("%(number)s is back in the list.", number=number), "success")
        else:
            missed.dismiss(user, queue, number)
            flash(gettext("%(number)s is closed.", number=number), "success")
    except SiteError as error:
        flash(problems_text(error.problems), "error")
    return redirect(url_for("missed.page", queue=request.args.get("queue") or None))  # None: left out
