"""The one error type service functions raise for bad input: every message names where it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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


# What a text with a given pattern may hold, in a user's words: filled by the schemas that define the
# patterns (``describe_pattern``), so "'Telco' is not allowed here" can say what is.
PATTERN_WORDS: dict[str, str] = {}


def describe_pattern(pattern: str, words: str) -> str:
    """Say what ``pattern`` allows (``words``, e.g. "2 to 8 digits"); returns ``pattern`` for use inline."""
    PATTERN_WORDS[pattern] = words
    return pattern


def _count(n, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def message_of(item: Mapping[str, Any]) -> str:
    """A plain message for one pydantic error entry, in the words the console uses (the field is its ``where``).

    Pydantic's own wording ("Input should be a valid integer, unable to parse string as an integer") is
    written for programmers; every common type gets a message a user can act on, with what was given
    where that helps.  Messages of the schemas' own checks (``ValueError``) are kept as written.
    """
    kind, ctx, given = item["type"], item.get("ctx") or {}, item.get("input")
    shown = f" (not {given!r})" if isinstance(given, str | int | float) and not isinstance(given, bool) else ""
    if kind == "string_pattern_mismatch":
        if given == "":
            return "is required"
        words = PATTERN_WORDS.get(ctx.get("pattern", ""))
        return f"{given!r} is not allowed here" + (f": use {words}" if words else "")
    plain = {
        "extra_forbidden": "unknown field",
        "missing": "is required",
        "int_parsing": f"must be a whole number{shown}",
        "int_type": f"must be a whole number{shown}",
        "int_from_float": f"must be a whole number{shown}",
        "float_parsing": f"must be a number{shown}",
        "float_type": f"must be a number{shown}",
        "bool_parsing": f"must be yes or no{shown}",
        "bool_type": f"must be yes or no{shown}",
        "string_type": "must be text",
        "list_type": "must be a list",
        "dict_type": "must be a mapping of fields",
        "model_type": "must be a mapping of fields",
        "model_attributes_type": "must be a mapping of fields",
    }
    if kind in plain:
        return plain[kind]
    limits = {
        "greater_than_equal": ("must be at least", "ge"), "less_than_equal": ("must be at most", "le"),
        "greater_than": ("must be more than", "gt"), "less_than": ("must be less than", "lt"),
    }
    if kind in limits and limits[kind][1] in ctx:
        return f"{limits[kind][0]} {ctx[limits[kind][1]]}"
    if kind == "string_too_short":
        return "is required" if ctx.get("min_length") == 1 else \
            f"must be at least {_count(ctx.get('min_length'), 'character', 'characters')} long"
    if kind == "string_too_long":
        return f"must be at most {_count(ctx.get('max_length'), 'character', 'characters')} long"
    if kind == "too_short":
        return f"needs at least {_count(ctx.get('min_length'), 'entry', 'entries')}"
    if kind == "too_long":
        return f"can have at most {_count(ctx.get('max_length'), 'entry', 'entries')}"
    if kind in ("literal_error", "enum") and "expected" in ctx:
        return f"must be one of {ctx['expected']}{shown}"
    message = item["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message
