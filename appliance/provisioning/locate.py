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
        skipped = re.match(r"Line (\d+) too long, skipping\. It begins with: (.*?)(?:\.\.\.)?$", message)
        if skipped:  # the parser does not name the file: the one whose line it is
            lineno, start = int(skipped.group(1)), skipped.group(2)
            for fname, text in files.items():
                lines = text.splitlines()
                if len(lines) >= lineno and start and lines[lineno - 1].startswith(start):
                    where = f"{fname} line {lineno} ({where_in(fname, text, lineno)})"
                    break
        elif obj:
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


def where_in(name: str, text: str, lineno: int) -> str:
    """What a line belongs to: in the dialplan its context and extension (``[ext-ringgroups] exten
    600``), elsewhere the Linebox object that wrote it."""
    if name != "extensions.conf":
        return _owner_at(text, lineno)
    section, exten = "", ""
    for line in text.splitlines()[:lineno]:
        if line.startswith("["):
            section, exten = line.split("]")[0] + "]", ""
        elif m := re.match(r"exten\s*=>\s*([^,]+),", line):
            exten = f" exten {m.group(1)}"
    return f"{section}{exten}" or "top of the file"
