"""The phonebook as CSV: export, and an all-or-nothing import.

Columns ``name,company,numbers,note`` (``name`` and ``numbers`` required).  ``numbers`` holds one or more
numbers separated by ``;`` (or by line breaks inside the quoted cell).  A row whose name and company are
those of a stored contact replaces that contact's numbers and note; any other row adds a contact, so
importing the same file twice changes nothing.

Every row is checked first and each fault reported as ``row N: field: message`` (N is the row as a
spreadsheet shows it, the header being row 1, which is the file's line N for any file without line
breaks inside cells); only when every row is valid are they written, in one transaction.  The file's
shape (encoding, header, size) is read, and its cells guarded against spreadsheet formulas, by
``appliance.csvfile``, as for the console's extensions file.  The console's Phonebook page
(``appliance.web.contacts``) only passes the upload here and the text back.
"""

from __future__ import annotations

from appliance.catalog import N_
from appliance.csvfile import Row, read_csv, row_problem, write_csv
from appliance.errors import Message, SiteError
from appliance.model.database import database
from appliance.phonebook import contacts

COLUMNS = ("name", "company", "numbers", "note")
REQUIRED = ("name", "numbers")
NUMBER_SEPARATOR = "; "


def export_text() -> str:
    return write_csv(COLUMNS, ([c["name"], c["company"], NUMBER_SEPARATOR.join(c["numbers"]), c["note"]]
                               for c in contacts.all_contacts()))


def _data(row: Row) -> dict:
    values = row.values
    return {"name": values.get("name", ""), "company": values.get("company", ""),
            "numbers": values.get("numbers", ""), "note": values.get("note", "")}  # the schema splits the numbers


def import_rows(rows: list[Row], user: str) -> tuple[list[str], dict[str, int]]:
    """Validate every row, then store them all in one transaction; (problems, counts).  Problems: nothing stored."""
    problems: list[str] = []
    prepared: list[tuple[Row, dict]] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        data = _data(row)
        try:
            valid = contacts.validate(data)
        except SiteError as error:
            problems.extend(row_problem(row.line, Message(N_("%(field)s: %(message)s"),
                                                          field=p.where.removeprefix("contact."), message=p.message))
                            for p in error.problems)
            continue
        key = (valid.name, valid.company)
        if key in seen:
            who = f"{valid.name} ({valid.company})" if valid.company else valid.name
            problems.append(row_problem(row.line, Message(N_("name: %(name)s is already in row %(first)s"),
                                                          name=who, first=seen[key])))
            continue
        seen[key] = row.line
        prepared.append((row, valid.model_dump()))
    counts = {"created": 0, "updated": 0}
    if problems:
        return problems, counts
    existing = {(c["name"], c["company"]): c["id"] for c in contacts.all_contacts()}
    with database.atomic():
        for _row, data in prepared:
            contact_id = existing.get((data["name"], data["company"]))
            if contact_id is None:
                contacts.create_contact(data, user)
                counts["created"] += 1
            else:
                contacts.update_contact(contact_id, data, user)
                counts["updated"] += 1
    return problems, counts


def import_bytes(data: bytes, user: str) -> tuple[list[str], dict[str, int]]:
    """An uploaded file, read and imported: (problems, counts)."""
    read = read_csv(data, COLUMNS, REQUIRED)
    if read.problems:
        return read.problems, {"created": 0, "updated": 0}
    return import_rows(read.rows, user)
