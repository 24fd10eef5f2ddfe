"""The console's rate-table page of a trunk (``/rates/<name>``): see, download, edit and upload it.

The table is edited as the CSV text an admin also keeps in a spreadsheet: the page shows the table in
force today in a text box; saving it (or uploading a file) makes it the trunk's table from the chosen date
(``appliance.billing.rates_csv``: validated line by line, all or nothing, audited).  Admins only: a
carrier's prices are the company's business, and technicians see them read-only.
"""

from __future__ import annotations

import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from appliance.billing import rates, rates_csv
from appliance.errors import SiteError
from appliance.site import queries
from appliance.site.numbering import CLASS_LABELS
from appliance.web.forms import EmptyForm
from appliance.web.i18n import problem_text
from appliance.web.roles import VIEWERS, require_role

blueprint = Blueprint("rates", __name__)
MAX_TEXT = 4 * 1024 * 1024


def _trunk_or_404(name: str) -> str:
    if name not in queries.keys("trunk") and name not in queries.keys("dahdi_trunk"):
        abort(404)
    return name


def _date_arg(text: str | None, default: datetime.date) -> datetime.date | None:
    if not text:
        return default
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


@blueprint.route("/rates/<name>", methods=["GET", "POST"])
@require_role(*VIEWERS)
def page(name: str):
    trunk = _trunk_or_404(name)
    today = datetime.date.today()
    form = EmptyForm()
    problems: list[str] = []
    text = rates_csv.export_text(trunk, today)
    valid_from = request.form.get("valid_from", "") or today.isoformat()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        upload = request.files.get("file")
        data = upload.read(MAX_TEXT + 1) if upload is not None and upload.filename else \
            request.form.get("table", "")[:MAX_TEXT + 1].encode()
        text = data.decode("utf-8", "replace")
        day = _date_arg(valid_from, today)
        if day is None:
            problems = [gettext("Applies from: '%(value)s' is not a date (YYYY-MM-DD)", value=valid_from[:20])]
        elif len(data) > MAX_TEXT:
            problems = [gettext("The table is larger than 4 MB: split it or import it with linebox rates import")]
        else:
            try:
                stored = rates_csv.import_bytes(trunk, data, day, current_user.username)
            except SiteError as error:
                problems = [problem_text(p) for p in error.problems]
            else:
                flash(gettext("Trunk %(trunk)s: %(count)s rate lines apply from %(day)s.", trunk=trunk,
                              count=stored, day=day.isoformat()), "info")
                return redirect(url_for("rates.page", name=trunk))
        status = 422
    start, lines = rates.table_in_force(trunk, today)
    return render_template("rates.html", trunk=trunk, start=start, lines=lines, dates=rates.table_dates(trunk),
                           text=text, valid_from=valid_from, problems=problems, form=form, columns=rates_csv.COLUMNS,
                           class_labels=CLASS_LABELS,
                           nav_active="trunks"), status


@blueprint.get("/rates/<name>/export.csv")
@require_role(*VIEWERS)
def export_csv(name: str):
    trunk = _trunk_or_404(name)
    day = _date_arg(request.args.get("on"), datetime.date.today())
    if day is None:
        abort(400)
    return Response(rates_csv.export_text(trunk, day), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="rates-{trunk}-{day.isoformat()}.csv"'})
