"""The one error type service functions raise for bad input: every message names where it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


@dataclass(frozen=True)
class Problem:
    """One thing wrong, located: ``where`` is a field path or an object (``extension 100 number``)."""

    where: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        prefix = f"line {self.line}: " if self.line else ""
        return f"{prefix}{self.where}: {self.message}"


class SiteError(Exception):
    """Bad input; nothing was written.  ``problems`` lists every fault found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def from_pydantic(error, prefix: str = "") -> list[Problem]:
    """Turn a pydantic ValidationError into located problems (``trunks.0.port: ...``)."""
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        where = f"{prefix}.{path}" if prefix and path else (prefix or path)
        problems.append(Problem(where, message_of(item)))
    return problems


def message_of(item: ErrorDetails) -> str:
    """A readable message for one pydantic error entry."""
    if item["type"] == "string_pattern_mismatch":
        return f"{item['input']!r} is not allowed here"
    if item["type"] == "extra_forbidden":
        return "unknown field"
    message = item["msg"]
    return message[len("Value error, "):] if message.startswith("Value error, ") else message
