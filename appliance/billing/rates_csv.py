"""A trunk's rate table as a CSV file: export, and an all-or-nothing, audited import.

Columns ``prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description``
(``per_minute`` required; a line needs a ``prefix`` or a ``class``, or neither for the trunk's default).
The file is the trunk's whole table from the date the import names (``valid_from``, default today): the
tables from that date on are replaced, earlier ones kept, so calls already made keep their price.

Every line is checked first and each fault reported by its line (``line 7: per_minute: ...``, the header
being line 1); only when every line is valid is the table stored, in one transaction.  The file's shape
(encoding, with or without a byte-order mark, header, size) is read by ``appliance.csvfile``.  A carrier's
table of tens of thousands of prefixes fits: up to ``MAX_LINES`` lines.
"""

from __future__ import annotations

import datetime

from appliance.billing import rates
from appliance.csvfile import read_csv, write_csv
from appliance.errors import Problem, SiteError
from appliance.model import audit
from appliance.model.database import database

COLUMNS = ("prefix", "class", "per_minute", "increment", "connection_fee", "free_minutes", "currency",
           "description")
REQUIRED = ("per_minute",)
MAX_LINES = 200_000
_FIELD_OF_COLUMN = {"class": "number_class"}


def export_text(trunk: str, day: datetime.date | None = None) -> str:
    """The table in force on ``day`` (default today) as CSV; only the header when there is none."""
    _start, lines = rates.table_in_force(trunk, day or datetime.date.today())
    return write_csv(COLUMNS, ([line.prefix, line.number_class, line.per_minute, line.increment,
                                line.connection_fee, line.free_minutes, line.currency, line.description]
                               for line in lines))


def import_bytes(trunk: str, data: bytes, valid_from: datetime.date, user: str) -> int:
    """Store an uploaded file as the trunk's table from ``valid_from``; the lines stored.

    Raises SiteError with every problem (by line) and stores nothing when any line is wrong."""
    read = read_csv(data, COLUMNS, REQUIRED, max_rows=MAX_LINES)
    if read.problems:
        raise SiteError([Problem("file", problem) for problem in read.problems])
    lines, problems = rates.validate_lines(
        (row.line, {_FIELD_OF_COLUMN.get(k, k): v for k, v in row.values.items() if v != ""})
        for row in read.rows)
    if problems:
        raise SiteError(problems)
    before = rates.table_in_force(trunk, valid_from)[1]
    with database.atomic():
        stored = rates.replace_table(trunk, valid_from, lines)
        audit.record(user, "import", "rates", trunk,
                     {"valid_from": valid_from.isoformat(), "lines": len(before)},
                     {"valid_from": valid_from.isoformat(), "lines": stored})
    return stored
