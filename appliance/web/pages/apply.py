"""The Apply page: what would change (a dry run's diff), apply now, and roll back to a kept generation.

Only one apply or rollback runs at a time in this console: a second one
started meanwhile is told to wait rather than racing the first over the
``live`` link.
"""

from __future__ import annotations

import threading

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from appliance.provisioning import apply as apply_mod
from appliance.provisioning.generations import list_generations
from appliance.site import service
from appliance.web import diffview
from appliance.web.forms import EmptyForm
from appliance.web.pages import blueprint
from appliance.web.pages.common import install
from appliance.web.roles import ADMIN, VIEWERS, require_role

_running = threading.Lock()


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


def _busy():
    flash("Another apply or rollback is running: wait for it to finish, then try again.", "error")
    return redirect(url_for("pages.apply_page"))


@blueprint.route("/apply", methods=["POST"])
@require_role(ADMIN)
def apply_now():
    if not _running.acquire(blocking=False):
        return _busy()
    try:
        inst = install()
        result = apply_mod.apply(service.snapshot(), inst.facts(), inst.target(), user=current_user.username)
    finally:
        _running.release()
    return render_template("apply_result.html", result=result, action="Apply", files=[], nav_active="apply")


@blueprint.route("/apply/rollback/<generation_id>", methods=["POST"])
@require_role(ADMIN)
def rollback(generation_id: str):
    if not generation_id.isdigit():
        flash(f"{generation_id!r} is not a generation.", "error")
        return redirect(url_for("pages.apply_page"))
    if not _running.acquire(blocking=False):
        return _busy()
    try:
        result = apply_mod.rollback(install().target(), generation_id)
    finally:
        _running.release()
    return render_template("apply_result.html", result=result, action=f"Roll back to generation {generation_id}",
                           files=diffview.parse(result.diff), nav_active="apply")
