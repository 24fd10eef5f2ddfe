"""Escaping of free text for the places it is written into Asterisk's files.

Validation already keeps identifiers and numbers to safe patterns; these
filters are the second half of the injection rule, for text a user may
type freely (names).  Each one is total: whatever the input, the output
cannot end a line, start a comment, open a section or reach the dialplan
parser as anything but data.
"""

from __future__ import annotations

import base64


def one_line(value: str) -> str:
    """Drop every control character (newlines included), keep the rest."""
    return "".join(ch if ch.isprintable() else " " for ch in str(value)).strip()


def conf_text(value: str) -> str:
    """A value in an Asterisk ``key=value`` line: one line, ``;`` escaped so it starts no comment."""
    return one_line(value).replace("\\", "/").replace(";", "\\;")


def callerid_name(value: str) -> str:
    """The name part of ``callerid="Name" <number>``: no quotes or angle brackets to break the form."""
    return conf_text(value).replace('"', "'").replace("<", "(").replace(">", ")")


def callerid_row_name(value: str) -> str:
    """The name part of a caller ID in a database row (no file parser reads it, so ``;`` stays as typed):
    one line, no quotes, angle brackets or backslashes to break the ``"Name" <number>`` form."""
    return one_line(value).replace("\\", "/").replace('"', "'").replace("<", "(").replace(">", ")")


def voicemail_text(value: str) -> str:
    """A field of a voicemail.conf mailbox line, whose fields are separated by commas."""
    return conf_text(value).replace(",", " ").replace("|", " ")


def dialplan_base64(value: str) -> str:
    """Free text for the dialplan, as base64: the dialplan only ever sees [A-Za-z0-9+/=]."""
    return base64.b64encode(one_line(value).encode()).decode()


def kamailio_string(value: str) -> str:
    """Text inside a double-quoted string of kamailio.cfg: one line, no quote or backslash to end the string
    or start an escape (Kamailio's parser reads ``\\"`` inside a string)."""
    return one_line(value).replace("\\", "/").replace('"', "'")
