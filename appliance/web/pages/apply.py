"""The Apply page: what would change (a dry run's diff), apply now, and roll back to a kept generation.

Only one apply or rollback runs at a time on the box, whoever started it (this console, the API,
the CLI): apply and rollback take the install's one apply lock themselves, and one started
meanwhile waits for the first, or says who holds it.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from appliance.provisioning import apply as apply_mod
from appliance.provisioning.generations import list_generations
from appliance.site import service
from appliance.web import diffview
from appliance.web.forms import EmptyForm
from appliance.web.pages import blueprint
from appliance.web.pages.common import install
from appliance.web.roles import ADMIN, VIEWERS, require_role


def _generations() -> list[dict]:
    target = install().target()
    generations = list_generations(target)
    for generation in generations:
        generation["failed"] = (target.generations_dir / generation["id"] / "FAILED").exists()
    return generations


@blueprint.route("/apply")
@require_role(*VIEWERS)
def apply_page():
    inst = install()
    result = apply_mod.apply(service.snapshot(), inst.facts(), inst.target(), user=current_user.username,
                             dry_run=True)
    return render_template("apply.html", result=result, files=diffview.parse(result.diff),
                           generations=_generations(), managed=inst.manage_asterisk, form=EmptyForm(),
                           nav_active="apply")


@blueprint.route("/apply", methods=["POST"])
@require_role(ADMIN)
def apply_now():
    inst = install()
    result = apply_mod.apply(service.snapshot, inst.facts(), inst.target(), user=current_user.username)
    return render_template("apply_result.html", result=result, action=gettext("Apply"), files=[], nav_active="apply")


@blueprint.route("/apply/rollback/<generation_id>", methods=["POST"])
@require_role(ADMIN)
def rollback(generation_id: str):
    if not generation_id.isdigit():
        flash(gettext("%(id)s is not a generation.", id=repr(generation_id)), "error")
        return redirect(url_for("pages.apply_page"))
    result = apply_mod.rollback(install().target(), generation_id, user=current_user.username)
    return render_template("apply_result.html", result=result,
                           action=gettext("Roll back to generation %(id)s", id=generation_id),
                           files=diffview.parse(result.diff), nav_active="apply")
