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

A cell starting with ``=``, ``+``, ``-`` or ``@`` is written with a leading
``'`` so a spreadsheet does not run it as a formula; import removes it again.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.errors import Problem, SiteError
from appliance.model.database import database
from appliance.site import service
from appliance.web import objectforms
from appliance.web.forms import EmptyForm
from appliance.web.pages import blueprint
from appliance.web.roles import ADMIN, VIEWERS, require_role

COLUMNS = ("number", "name", "voicemail", "email", "recording")
REQUIRED = ("number", "name")
FORMULA_START = ("=", "+", "-", "@")
MAX_ROWS = 20000


def _cell_out(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _cell_in(text: str) -> str:
    text = text.strip()
    return text[1:] if text.startswith("'") and text[1:2] in FORMULA_START and text[1:2] != "" else text


@blueprint.route("/extensions/export.csv")
@require_role(*VIEWERS)
def extensions_export():
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for ext in service.list_objects("extension"):
        writer.writerow([_cell_out(getattr(ext, name)) for name in COLUMNS])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="extensions.csv"'})


@dataclass
class Row:
    line: int  # the row's number as a spreadsheet shows it (header is row 1)
    values: dict[str, str]


@dataclass
class ReadResult:
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_csv(data: bytes, columns: tuple[str, ...] = COLUMNS, required: tuple[str, ...] = REQUIRED) -> ReadResult:
    """The rows of an uploaded file with ``columns`` (``required`` among them), or what is wrong with its
    shape (encoding, header, size).  The phonebook's import reads its file with it too."""
    result = ReadResult()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.problems.append("the file is not UTF-8 text (save it as 'CSV UTF-8')")
        return result
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as error:
        result.problems.append(f"row 1: {error}")
        return result
    if not header:
        result.problems.append("the file is empty")
        return result
    unknown = [h for h in header if h not in columns]
    missing = [c for c in required if c not in header]
    if unknown:
        result.problems.append(f"row 1: unknown column(s) {', '.join(unknown)} (columns: {', '.join(columns)})")
    if missing:
        result.problems.append(f"row 1: missing column(s) {', '.join(missing)}")
    if len(set(header)) != len(header):
        result.problems.append("row 1: a column is named twice")
    if result.problems:
        return result
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                result.problems.append(f"row {number}: {len(cells)} cells but {len(header)} columns")
                continue
            result.rows.append(Row(number, {h: _cell_in(c) for h, c in zip(header, cells, strict=False)}))
            if len(result.rows) > MAX_ROWS:
                result.problems.append(f"more than {MAX_ROWS} rows: split the file")
                break
    except csv.Error as error:
        result.problems.append(f"row {reader.line_num}: {error}")
    if not result.rows and not result.problems:
        result.problems.append("the file has a header but no rows")
    return result


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
    return data, existing is None


def _problem_text(row: Row, problem: Problem) -> str:
    where = problem.where.removeprefix("extension.")
    return f"row {row.line}: {where}: {objectforms.friendly(problem.message)}"


def import_rows(rows: list[Row], user: str) -> tuple[list[str], dict[str, int]]:
    """Validate every row, then save them all in one transaction; (problems, counts).  No problems: stored."""
    problems: list[str] = []
    prepared: list[tuple[Row, dict, bool]] = []
    seen: dict[str, int] = {}
    for row in rows:
        number = row.values.get("number", "").strip()
        if number in seen:
            problems.append(f"row {row.line}: number: {number} is already in row {seen[number]}")
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
            problems = ["choose a CSV file to import"]
        else:
            read = read_csv(upload.read())
            problems = read.problems
            if not problems:
                problems, counts = import_rows(read.rows, current_user.username)
                if not problems:
                    flash(f"Imported {len(read.rows)} rows: {counts['created']} extensions created, "
                          f"{counts['updated']} updated. They take effect when you apply the changes.", "info")
                    return redirect(url_for("pages.objects_list", slug="extensions"))
        status = 422
    return render_template("extensions_import.html", problems=problems, columns=COLUMNS, form=EmptyForm(),
                           nav_active="extensions"), status
