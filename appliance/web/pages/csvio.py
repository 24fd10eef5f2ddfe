"""Extensions as CSV: export, and an all-or-nothing import.

Columns: ``number,name,voicemail,email,recording`` (``number`` and ``name``
required, the others optional).  A row for an existing number updates
those fields and keeps the rest (SIP password, PIN, ring time, options); a
new number is created with a generated password and PIN.

Import reads and validates every row first and reports each fault as
``row N: field: message``; only when all rows are valid are they written,
each through ``service.save_object`` (so the checks across the site and
the audit log apply as for a form), all inside one transaction that is
rolled back if any row is refused.

Reading the file and the formula guard on its cells are ``appliance.csvfile``'s, shared with
the phonebook's import.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from appliance.csvfile import Row, read_csv, write_csv
from appliance.errors import Problem, SiteError
from appliance.model.database import database
from appliance.site import service
from appliance.web import objectforms
from appliance.web.downloads import csv_download
from appliance.web.forms import EmptyForm
from appliance.web.pages import blueprint
from appliance.web.roles import ADMIN, VIEWERS, require_role

COLUMNS = ("number", "name", "voicemail", "email", "recording", "department", "dial_permission",
           "max_outbound_calls", "daily_minutes", "monthly_minutes", "monthly_budget")
REQUIRED = ("number", "name")
# Columns whose empty cell means the field's default (no department, the site's permission, no limit),
# where a column left out keeps what is stored.
_CLEARABLE = {"department": "", "dial_permission": "", "max_outbound_calls": 0, "daily_minutes": 0,
              "monthly_minutes": 0, "monthly_budget": ""}


def _cell(value: object) -> object:
    """A value as the file shows it (a cap of 0.5 minutes as 0.5, 10 minutes as 10, not 10.0)."""
    return f"{value:g}" if isinstance(value, float) else value


@blueprint.route("/extensions/export.csv")
@require_role(*VIEWERS)
def extensions_export():
    text = write_csv(COLUMNS, ([_cell(getattr(ext, name)) for name in COLUMNS]
                               for ext in service.list_objects("extension")))
    return csv_download(text, "extensions.csv")


def _row_data(row: Row) -> tuple[dict, bool]:
    """The dict to save for one row (merged with the stored extension, if any) and whether it is new."""
    values = row.values
    existing = service.get_object("extension", values.get("number", "").strip())
    data = existing.model_dump() if existing else {}
    data["number"] = values.get("number", "")
    data["name"] = values.get("name", "")
    for name in ("voicemail", "recording"):
        if values.get(name, ""):
            data[name] = values[name]
    if "email" in values:
        data["email"] = values["email"]
    for name, default in _CLEARABLE.items():
        if name in values:
            data[name] = values[name].strip() or default
    return data, existing is None


def _problem_text(row: Row, problem: Problem) -> str:
    where = problem.where.removeprefix("extension.")
    return gettext("row %(line)s: %(problem)s", line=row.line,
                   problem=f"{where}: {objectforms.friendly(problem.message)}")


def import_rows(rows: list[Row], user: str) -> tuple[list[str], dict[str, int]]:
    """Validate every row, then save them all in one transaction; (problems, counts).  No problems: stored."""
    problems: list[str] = []
    prepared: list[tuple[Row, dict, bool]] = []
    seen: dict[str, int] = {}
    for row in rows:
        number = row.values.get("number", "").strip()
        if number in seen:
            problems.append(gettext("row %(line)s: number: %(number)s is already in row %(first)s",
                                    line=row.line, number=number, first=seen[number]))
            continue
        seen[number] = row.line
        data, new = _row_data(row)
        try:
            service.validate("extension", data)
        except SiteError as error:
            problems.extend(_problem_text(row, p) for p in error.problems)
            continue
        prepared.append((row, data, new))
    counts = {"created": 0, "updated": 0}
    if problems:
        return problems, counts
    with database.atomic() as transaction:
        for row, data, new in prepared:
            try:
                service.save_object("extension", data, user, create=new)
            except SiteError as error:
                problems.extend(_problem_text(row, p) for p in error.problems)
            else:
                counts["created" if new else "updated"] += 1
        if problems:
            transaction.rollback()
    return problems, counts


@blueprint.route("/extensions/import", methods=["GET", "POST"])
@require_role(ADMIN)
def extensions_import():
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            problems = [gettext("choose a CSV file to import")]
        else:
            read = read_csv(upload.read(), COLUMNS, REQUIRED)
            problems = read.problems
            if not problems:
                problems, counts = import_rows(read.rows, current_user.username)
                if not problems:
                    flash(gettext("Imported %(rows)s rows: %(created)s extensions created, %(updated)s updated. "
                                  "They take effect when you apply the changes.", rows=len(read.rows),
                                  created=counts["created"], updated=counts["updated"]), "info")
                    return redirect(url_for("pages.objects_list", slug="extensions"))
        status = 422
    return render_template("extensions_import.html", problems=problems, columns=COLUMNS, form=EmptyForm(),
                           nav_active="extensions"), status
