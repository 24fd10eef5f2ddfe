"""CSV files an admin exports and imports (extensions, the phonebook): reading, and the formula guard.

A shared leaf (it imports only the message leaves, ``catalog`` and ``errors``: its problems reach the
console in the reader's language), so the console's extension import (``appliance.web.pages.csvio``)
and the phonebook's (``appliance.phonebook.csv_file``) read and write files the same way:

* ``read_csv`` checks a file's shape (UTF-8, a header of known columns with the required ones, no
  more than ``MAX_ROWS`` rows) and returns its rows, each with its number as a spreadsheet shows it
  (the header is row 1), so every later fault can be reported as ``row N: field: message``;
* ``cell_out`` writes a cell starting with ``=``, ``+``, ``-`` or ``@`` with a leading ``'`` so a
  spreadsheet does not run it as a formula; ``read_csv`` removes that guard again (``cell_in``);
* ``write_csv`` is the text of a file (CRLF line ends, as spreadsheets write them);
* ``file_bytes`` is the file as downloaded: UTF-8, with a byte-order mark when asked.  A Chinese
  Excel opens a CSV without a BOM in the system's code page (GBK) and shows its Chinese as mojibake;
  with the BOM it reads UTF-8.  ``read_csv`` takes files with or without one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance.catalog import N_
from appliance.errors import Message

FORMULA_START = ("=", "+", "-", "@")
MAX_ROWS = 20000


def cell_out(value: object) -> str:
    """A value as a cell: booleans as yes/no, text that a spreadsheet would run as a formula guarded by ``'``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def cell_in(text: str) -> str:
    """A cell as read: stripped, and without the ``'`` that ``cell_out`` put before a formula-like value."""
    text = text.strip()
    return text[1:] if text.startswith("'") and text[1:2] in FORMULA_START and text[1:2] != "" else text


def write_csv(columns: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """The file's text: the header, then each row's cells through ``cell_out``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell_out(value) for value in row])
    return out.getvalue()


BOM = "\ufeff"


def file_bytes(text: str, bom: bool) -> bytes:
    """A CSV file's text as the bytes of the file: UTF-8, after a byte-order mark when ``bom`` (the default
    for Chinese readers, so that Excel does not read it as GBK)."""
    return ((BOM if bom and not text.startswith(BOM) else "") + text).encode("utf-8")


@dataclass
class Row:
    line: int  # the row's number as a spreadsheet shows it (header is row 1)
    values: dict[str, str]


@dataclass
class ReadResult:
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def row_problem(line: int, message: str) -> Message:
    """"row 4: ...": a problem of one row as a spreadsheet numbers it (the header is row 1)."""
    return Message(N_("row %(line)s: %(problem)s"), line=line, problem=message)



def read_csv(data: bytes, columns: tuple[str, ...], required: tuple[str, ...], max_rows: int = MAX_ROWS
             ) -> ReadResult:
    """The rows of an uploaded file with ``columns`` (``required`` among them), or what is wrong with its
    shape (encoding, header, size: at most ``max_rows`` rows)."""
    result = ReadResult()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.problems.append(Message(N_("the file is not UTF-8 text (save it as 'CSV UTF-8')")))
        return result
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as error:
        result.problems.append(row_problem(1, str(error)))
        return result
    if not header:
        result.problems.append(Message(N_("the file is empty")))
        return result
    unknown = [h for h in header if h not in columns]
    missing = [c for c in required if c not in header]
    if unknown:
        result.problems.append(row_problem(1, Message(N_("unknown column(s) %(unknown)s (columns: %(columns)s)"),
                                                 unknown=", ".join(unknown), columns=", ".join(columns))))
    if missing:
        result.problems.append(row_problem(1, Message(N_("missing column(s) %(missing)s"), missing=", ".join(missing))))
    if len(set(header)) != len(header):
        result.problems.append(row_problem(1, Message(N_("a column is named twice"))))
    if result.problems:
        return result
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                result.problems.append(row_problem(number, Message(N_("%(cells)s cells but %(columns)s columns"),
                                                               cells=len(cells), columns=len(header))))
                continue
            result.rows.append(Row(number, {h: cell_in(c) for h, c in zip(header, cells, strict=False)}))
            if len(result.rows) > max_rows:
                result.problems.append(Message(N_("more than %(rows)s rows: split the file"), rows=max_rows))
                break
    except csv.Error as error:
        result.problems.append(row_problem(reader.line_num, str(error)))
    if not result.rows and not result.problems:
        result.problems.append(Message(N_("the file has a header but no rows")))
    return result


__all__ = ["FORMULA_START", "MAX_ROWS", "ReadResult", "Row", "cell_in", "cell_out", "read_csv", "write_csv"]
