"""What a valid contact is: one pydantic schema, as every site object has (``appliance.site.schemas``).

The service functions (``appliance.phonebook.contacts``) validate with it, and the REST API's OpenAPI
document is generated from it (``appliance.web.api.openapi``), so the two cannot drift apart.  It
lives in the phonebook, not with the site's schemas, because a number's rule is the phonebook's
(``appliance.phonebook.numbers``).  The call-time lookup (``appliance.phonebook.lookup``) never
imports it: FastAGI stays without pydantic.

Each problem names its field (``numbers``), and ``numbers`` reports every bad or repeated number,
not just the first.  Numbers may be given as a list or as text, one a line or separated by ``;`` or
``,`` (a form's text area, a CSV cell); an ``id`` is accepted and ignored, so a fetched contact can
be sent back as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from appliance.catalog import N_
from appliance.phonebook.numbers import normalize

MAX_NAME = 80
MAX_NOTE = 1000
MAX_NUMBERS = 10
FIELDS = ("name", "company", "numbers", "note")


def split_numbers(value: Any) -> Any:
    """Numbers given as a list, or as text with one number per line or separated by ``;`` or ``,``.

    Blank entries are dropped; anything else that is not a list or text is left for the schema to refuse.
    """
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                for v in value if not (isinstance(v, str) and not v.strip())]
    if isinstance(value, str):
        for sep in (";", ","):
            value = value.replace(sep, "\n")
        return [line for line in value.splitlines() if line.strip()]
    return value


def _none_is_empty(value: Any) -> Any:
    return "" if value is None else value


def _one_line(limit: int, required: bool = False) -> Callable[[str], str]:
    def check(value: str) -> str:
        if required and not value:
            raise ValueError(N_("is required"))
        if len(value) > limit or any(not ch.isprintable() for ch in value):
            raise ValueError(f"must be one line of printable text, at most {limit} characters")
        return value
    return check


def _note(value: str) -> str:
    if len(value) > MAX_NOTE or any(not ch.isprintable() and ch not in "\r\n\t" for ch in value):
        raise ValueError(f"at most {MAX_NOTE} characters of text")
    return value


def _numbers(value: list[str]) -> list[str]:
    """Between one and ``MAX_NUMBERS`` phone numbers, no two the same: every fault reported."""
    messages: list[str] = []
    if not value:
        messages.append("give at least one phone number")
    elif len(value) > MAX_NUMBERS:
        messages.append(f"at most {MAX_NUMBERS} numbers")
    seen: dict[str, str] = {}
    for number in value:
        try:
            key = normalize(number)
        except ValueError as error:
            messages.append(str(error))
            continue
        if key in seen:
            messages.append(f"{number!r} is the same number as {seen[key]!r}")
        seen[key] = number
    if messages:  # pydantic-core turns a ValidationError raised here into one error per message, all at ``numbers``
        errors = [InitErrorDetails(type=PydanticCustomError("phone_number", "{message}", {"message": m}),
                                   loc=(), input=value) for m in messages]
        raise ValidationError.from_exception_data("numbers", errors)
    return value


ONE_LINE = "One line of printable text."
Name = Annotated[str, BeforeValidator(_none_is_empty), AfterValidator(_one_line(MAX_NAME, required=True)),
                 Field(description=ONE_LINE, examples=["Anna Berg"],
                       json_schema_extra={"minLength": 1, "maxLength": MAX_NAME})]
Company = Annotated[str, BeforeValidator(_none_is_empty), AfterValidator(_one_line(MAX_NAME)),
                    Field(description=ONE_LINE, json_schema_extra={"maxLength": MAX_NAME})]
Note = Annotated[str, BeforeValidator(_none_is_empty), AfterValidator(_note),
                 Field(description="Free text, several lines allowed; shown in the agent's screen pop.",
                       json_schema_extra={"maxLength": MAX_NOTE})]
Numbers = Annotated[
    list[Annotated[str, Field(examples=["+44 20 7946 0018"])]],
    BeforeValidator(split_numbers), AfterValidator(_numbers),
    Field(description="Phone numbers as written: digits, an optional leading + or 00, spaces, dashes, dots "
                      "and parentheses; 2 to 20 digits; no two the same number.",
          json_schema_extra={"minItems": 1, "maxItems": MAX_NUMBERS}),
]
IgnoredId = Annotated[Any, WithJsonSchema({"type": "integer", "readOnly": True,
                                           "description": "Ignored when sent (see above)."})]


class Contact(BaseModel):
    """A whole contact: a PUT replaces it, and an omitted company or note becomes empty. An `id` in the body is
    ignored (the service assigns ids), so a fetched contact can be sent back as it is."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: IgnoredId = Field(default=None, exclude=True)
    name: Name
    company: Company = ""
    numbers: Numbers
    note: Note = ""


__all__ = ["FIELDS", "MAX_NAME", "MAX_NOTE", "MAX_NUMBERS", "Contact", "split_numbers"]
