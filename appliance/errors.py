"""The one error type service functions raise for bad input: every message names where it is."""

from __future__ import annotations

import re
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


# Fields whose values are secrets, by name in any kind or file (SIP and trunk passwords, voicemail PINs,
# gateway credentials, the provisioning password, a backup's passphrase): a rejected one is never
# repeated in a message, which ends up in a browser, a proxy's log, a terminal's scroll-back or a ticket.
SECRET_FIELDS = frozenset({"password", "voicemail_pin", "pin", "secret", "credential", "provisioning_password",
                           "passphrase"})

#: How many characters of a rejected (non-secret) value a message repeats: enough to recognise it, not a
#: pasted file.
SHOWN_MAX = 40


def is_secret_field(loc) -> bool:
    """Whether an error's location (pydantic's ``loc`` tuple or a dotted/spaced path) ends in a secret field."""
    parts = [str(p) for p in loc] if isinstance(loc, tuple | list) else re.split(r"[.\s]+", str(loc))
    names = [p for p in parts if p and not p.isdigit()]
    return bool(names) and names[-1] in SECRET_FIELDS


def shown(value: object) -> str:
    """``repr`` of a rejected value for a message, cut to ``SHOWN_MAX`` characters."""
    text = repr(value)
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX - 4] + "...'"


def _count(n, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def message_of(item: Mapping[str, Any]) -> str:
    """A plain message for one pydantic error entry, in the words the console uses (the field is its ``where``).

    Pydantic's own wording ("Input should be a valid integer, unable to parse string as an integer") is
    written for programmers; every common type gets a message a user can act on, with what was given
    where that helps.  Messages of the schemas' own checks (``ValueError``) are kept as written.
    A secret field's value is never repeated (``SECRET_FIELDS``); any other value at most ``SHOWN_MAX``
    characters of it.
    """
    kind, ctx, given = item["type"], item.get("ctx") or {}, item.get("input")
    secret = is_secret_field(item.get("loc", ()))
    quoted = "this value" if secret else shown(given)
    shown_part = f" (not {shown(given)})" if isinstance(given, str | int | float) and not isinstance(given, bool) \
        and not secret else ""
    if kind == "string_pattern_mismatch":
        if given == "":
            return "is required"
        words = PATTERN_WORDS.get(ctx.get("pattern", ""))
        return f"{quoted} is not allowed here" + (f": use {words}" if words else "")
    plain = {
        "extra_forbidden": "unknown field",
        "missing": "is required",
        "int_parsing": f"must be a whole number{shown_part}",
        "int_type": f"must be a whole number{shown_part}",
        "int_from_float": f"must be a whole number{shown_part}",
        "float_parsing": f"must be a number{shown_part}",
        "float_type": f"must be a number{shown_part}",
        "bool_parsing": f"must be yes or no{shown_part}",
        "bool_type": f"must be yes or no{shown_part}",
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
        return f"must be one of {ctx['expected']}{shown_part}"
    message = item["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if secret and isinstance(given, str) and given and given in message:
        message = message.replace(given, "...")  # a schema's own check that quoted what it refused
    elif isinstance(given, str) and len(given) > SHOWN_MAX and given in message:
        message = message.replace(given, given[:SHOWN_MAX - 3] + "...")
    return message
