"""The CRM page: what Linebox sends to the company's CRM (nothing unless configured), the webhook signing
secret, and the webhook delivery log.

A thin view over ``appliance.callcenter.webhooks``: technicians look, admins see the secret and make a new
one.  The addresses themselves are settings (``crm_lookup_url``, ``crm_open_url``, ``webhook_url``) changed
on the Settings page.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user

from appliance.callcenter import webhooks
from appliance.site import service
from appliance.web.forms import EmptyForm
from appliance.web.pages import blueprint
from appliance.web.roles import ADMIN, VIEWERS, require_role


def _moment(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None) if epoch else None


@blueprint.route("/crm")
@require_role(*VIEWERS)
def crm_page():
    settings = service.load_settings()
    rows = [{"id": r.id, "event": r.event, "call": r.call, "created": _moment(r.created), "status": r.status,
             "attempts": r.attempts, "next": _moment(r.next_attempt) if r.status == "pending" else None,
             "answer": r.last_error or (str(r.last_status) if r.last_status else ""),
             "delivered": _moment(r.delivered)} for r in webhooks.recent(50)]
    return render_template("crm.html", settings=settings, rows=rows, form=EmptyForm(), nav_active="crm",
                           secret=webhooks.secret() if current_user.role == ADMIN else "",
                           retries=webhooks.RETRY_SECONDS, timeout=webhooks.TIMEOUT_SECONDS)


@blueprint.route("/crm/secret", methods=["POST"])
@require_role(ADMIN)
def crm_new_secret():
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("pages.crm_page"))
    webhooks.new_secret(current_user.username)
    flash(gettext("A new webhook secret is in use: give it to your receiver; the old one no longer signs."),
          "info")
    return redirect(url_for("pages.crm_page"))
