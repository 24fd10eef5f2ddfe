"""Where Asterisk's complaint points: its error lines turned into file, line and the Linebox object at fault.

Each extension and trunk writes a ``; <kind> <key>`` comment above its sections, so the nearest such
comment above a line or section names the object to fix; the apply report shows that beside Asterisk's words.
"""

from __future__ import annotations

import re


def locate(errors: list[str], files: dict[str, str]) -> str:
    """Turn Asterisk's error lines into 'file, line, object' for the report."""
    notes = []
    for message in errors:
        where = ""
        obj = re.search(r"with id '([^']+)' from configuration file '([^']+)'", message)
        line = re.search(r"at line (\d+) of\s*(\S*)", message)
        if obj:
            name, fname = obj.group(1), obj.group(2)
            where = f"{fname}: section [{name}] ({_owner(files.get(fname, ''), name)})"
        elif line and line.group(2):
            fname = line.group(2)
            where = f"{fname} line {line.group(1)} ({_owner_at(files.get(fname, ''), int(line.group(1)))})"
        notes.append(f"{message}" + (f" -> {where}" if where else ""))
    return "; ".join(notes)


def _owner(text: str, section: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f"[{section}]":
            return _owner_at(text, i + 1)
    return "unknown object"


def _owner_at(text: str, lineno: int) -> str:
    """The Linebox object that produced a line: the nearest '; <kind> <key>' comment above it."""
    lines = text.splitlines()[:lineno]
    for line in reversed(lines):
        m = re.match(r"^; (extension|trunk) (\S+)$", line)
        if m:
            return f"{m.group(1)} {m.group(2)}"
    return "site settings"
