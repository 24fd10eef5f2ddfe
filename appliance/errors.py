"""The one error type service functions raise for bad input: every message names where it is."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from appliance.catalog import N_


class Message(str):
    """A message in English that also keeps its catalog form: ``template % params``.

    It is the English text wherever a ``str`` goes (logs, the CLI, comparisons); the console shows it in
    the reader's language by translating ``template`` and filling in ``params`` (``appliance.web.i18n``).
    A param that is itself a ``Message`` is translated too."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Message:
        text = super().__new__(cls, template % params if params else template)
        text.template, text.params = template, params
        return text


def joined(parts: list[str], template: str) -> str:
    """``parts`` in one message, two at a time through ``template`` (a marked ``"%(before)s; %(after)s"``):
    each part keeps its own catalog form, where ``"; ".join`` would leave a plain English text."""
    if not parts:
        return ""
    chain = parts[0] if isinstance(parts[0], Message) else Message(parts[0])
    for part in parts[1:]:
        chain = Message(template, before=chain, after=part)
    return chain


def missing(kind: str, key: object) -> Message:
    """"extension 201 does not exist", in words the console translates (``kind`` a word marked ``N_``)."""
    return Message(N_("%(kind)s %(key)s does not exist"), kind=Message(kind), key=key)


@dataclass(frozen=True)
class Problem:
    """One thing wrong, located: ``where`` is a field path or an object (``extension 100 number``)."""

    where: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        prefix = f"line {self.line}: " if self.line else ""
        return f"{prefix}{self.where}: {self.message}"


def problem_message(problem: Problem) -> Message:
    """``str(problem)`` ("line 3: extension 201 number: is required") as a message that keeps the catalog
    forms of its parts, for an error that quotes a problem (a backup whose site does not pass the checks)."""
    text = problem.message if isinstance(problem.message, Message) else Message(problem.message)
    message = Message(N_("%(field)s: %(message)s"), field=problem.where, message=text)
    return Message(N_("line %(line)s: %(problem)s"), line=problem.line, problem=message) if problem.line else message


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
    showable = isinstance(given, str | int | float) and not isinstance(given, bool) and not secret
    if kind == "string_pattern_mismatch":
        if given == "":
            return Message(N_("is required"))
        words = PATTERN_WORDS.get(ctx.get("pattern", ""))
        quoted = Message(N_("this value")) if secret else shown(given)
        if words:
            return Message(N_("%(value)s is not allowed here: use %(words)s"), value=quoted, words=Message(words))
        return Message(N_("%(value)s is not allowed here"), value=quoted)
    plain = {
        "extra_forbidden": N_("unknown field"),
        "missing": N_("is required"),
        "string_type": N_("must be text"),
        "list_type": N_("must be a list"),
        "dict_type": N_("must be a mapping of fields"),
        "model_type": N_("must be a mapping of fields"),
        "model_attributes_type": N_("must be a mapping of fields"),
    }
    if kind in plain:
        return Message(plain[kind])
    # (the English, the English with the refused value)
    typed = {
        "int_parsing": (N_("must be a whole number"), N_("must be a whole number (not %(value)s)")),
        "int_type": (N_("must be a whole number"), N_("must be a whole number (not %(value)s)")),
        "int_from_float": (N_("must be a whole number"), N_("must be a whole number (not %(value)s)")),
        "float_parsing": (N_("must be a number"), N_("must be a number (not %(value)s)")),
        "float_type": (N_("must be a number"), N_("must be a number (not %(value)s)")),
        "bool_parsing": (N_("must be yes or no"), N_("must be yes or no (not %(value)s)")),
        "bool_type": (N_("must be yes or no"), N_("must be yes or no (not %(value)s)")),
    }
    if kind in typed:
        return Message(typed[kind][1], value=shown(given)) if showable else Message(typed[kind][0])
    limits = {
        "greater_than_equal": (N_("must be at least %(limit)s"), "ge"),
        "less_than_equal": (N_("must be at most %(limit)s"), "le"),
        "greater_than": (N_("must be more than %(limit)s"), "gt"),
        "less_than": (N_("must be less than %(limit)s"), "lt"),
    }
    if kind in limits and limits[kind][1] in ctx:
        return Message(limits[kind][0], limit=ctx[limits[kind][1]])
    counted = {  # (limit, one, many)
        "string_too_short": ("min_length", N_("must be at least %(count)s character long"),
                             N_("must be at least %(count)s characters long")),
        "string_too_long": ("max_length", N_("must be at most %(count)s character long"),
                            N_("must be at most %(count)s characters long")),
        "too_short": ("min_length", N_("needs at least %(count)s entry"), N_("needs at least %(count)s entries")),
        "too_long": ("max_length", N_("can have at most %(count)s entry"), N_("can have at most %(count)s entries")),
    }
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return Message(N_("is required"))
    if kind in counted:
        limit, one, many = counted[kind]
        count = ctx.get(limit)
        return Message(one if count == 1 else many, count=count)
    if kind in ("literal_error", "enum") and "expected" in ctx:
        if showable:
            return Message(N_("must be one of %(choices)s (not %(value)s)"), choices=ctx["expected"],
                           value=shown(given))
        return Message(N_("must be one of %(choices)s"), choices=ctx["expected"])
    error = ctx.get("error")
    if isinstance(error, ValueError) and error.args and isinstance(error.args[0], Message) and not secret:
        return error.args[0]  # a schema's own check, worded for the catalog
    message = item["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if secret and isinstance(given, str) and given and given in message:
        message = message.replace(given, "...")  # a schema's own check that quoted what it refused
    elif isinstance(given, str) and len(given) > SHOWN_MAX and given in message:
        message = message.replace(given, given[:SHOWN_MAX - 3] + "...")
    return message
