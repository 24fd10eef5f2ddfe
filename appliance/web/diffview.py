"""Make apply's unified diff readable: split by file, each line classed (added, removed, hunk, context).

The diff arrives with secrets already replaced by ``********`` (apply redacts
it).  A very large diff (thousands of new extensions) is cut per file so
the page stays small; the counts still cover every line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LINES_PER_FILE = 1500


@dataclass
class FileDiff:
    name: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (css class, text)
    added: int = 0
    removed: int = 0
    hidden: int = 0
    new_file: bool = False


def _name(header: str) -> str:
    path = header[4:].split("\t")[0].strip()
    return path.split("/", 1)[1] if "/" in path else path


def parse(diff: str, max_lines: int = MAX_LINES_PER_FILE) -> list[FileDiff]:
    files: list[FileDiff] = []
    current: FileDiff | None = None
    lines = diff.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            current = FileDiff(_name(lines[i + 1]))
            files.append(current)
            i += 2
            continue
        if current is None:
            i += 1
            continue
        if line.startswith("@@"):
            css = "hunk"
            if line.startswith("@@ -0,0 "):
                current.new_file = True
        elif line.startswith("+"):
            css = "add"
            current.added += 1
        elif line.startswith("-"):
            css = "del"
            current.removed += 1
        else:
            css = "ctx"
        if len(current.lines) < max_lines:
            current.lines.append((css, line))
        else:
            current.hidden += 1
        i += 1
    return files
