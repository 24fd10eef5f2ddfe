"""Trunks' rate tables and the price of one call: money in decimal arithmetic, never floats.

A trunk's rate table is a list of lines, each for a number prefix (``86139``) or a number class
(``mobile``, from the one classifier ``appliance.site.numbering``), or neither (the trunk's default):
a per-minute rate, a billing increment (``60/60``, ``6/6``, ``1/1``, ``30/6``: the first unit of seconds
charged whole, then units of the second size), a connection fee, free minutes per calendar month (a
bundle) and a currency.  A table is in force from its ``valid_from`` date until the trunk's next table:
importing a table from a date replaces the trunk's tables from that date on and keeps the earlier ones,
so a call is always priced by the table in force on the day it was made, and a change of rates never
re-prices the past (re-pricing is an explicit command).

A line of class ``inbound`` prices the calls the trunk *receives*, where its carrier charges for them (from
the caller's answered seconds, with the same increment, fee and rounding; its free minutes are not used).
It never prices an outbound call.

Which line prices a number: the longest prefix that starts the number (as sent to the trunk, after the
route's rewriting); when no prefix matches, the line for the number's class; then the default line.  A
number no line prices has no cost (shown as "no rate", never as 0).

The price (docs/admin-guide.md, "Call cost"):

* charged seconds: 0 for an unanswered call; otherwise the first unit, plus the seconds beyond it rounded
  *up* to whole next units (``60/60``: 61 s is charged as 120 s; ``30/6``: 31 s as 36 s);
* free seconds left in the month's bundle are taken from the charged seconds first;
* cost = connection fee + per-minute rate x (charged seconds - free seconds) / 60, computed exactly, then
  rounded once, half up, to the currency's minor unit (2 decimals for CNY, 0 for JPY; from the CLDR data
  Babel ships).  Rounding each call once, not each minute, is what carriers' invoices do.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from babel.numbers import get_currency_precision, list_currencies
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError, from_pydantic
from appliance.model.database import database
from appliance.model.models import DahdiTrunk, Rate, Trunk
from appliance.site.numbering import NumberClass

MAX_RATE = Decimal("10000")
_CURRENCIES = frozenset(list_currencies())
# "inbound": the line a trunk's carrier charges received calls by (no prefix: it prices every call in)
INBOUND = "inbound"
_RATED_CLASSES = (*(c.value for c in NumberClass if c not in (NumberClass.INTERNAL, NumberClass.EMERGENCY)), INBOUND)


def _money(text: str, places: int) -> str:
    """``text`` as a non-negative decimal with at most ``places`` decimals, normalised ("0.15" not ".150")."""
    try:
        value = Decimal(str(text).strip().replace(",", "."))
    except ArithmeticError:
        raise ValueError(f"'{str(text)[:20]}' is not an amount (digits and a decimal point: 0.15)") from None
    if not value.is_finite() or value < 0:
        raise ValueError("must be an amount of 0 or more")
    if value >= MAX_RATE:
        raise ValueError(f"must be below {MAX_RATE}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(f"at most {places} decimals")
    return format(value.normalize(), "f")


class RateLine(BaseModel):
    """One line of a rate table, validated; amounts kept as decimal text."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)

    prefix: Annotated[str, StringConstraints(pattern=r"^[0-9]{0,20}$")] = ""
    number_class: str = ""
    per_minute: str
    increment: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,4}/[0-9]{1,4}$")] = "60/60"
    connection_fee: str = "0"
    free_minutes: int = Field(default=0, ge=0, le=1_000_000)
    currency: str = "CNY"
    description: Annotated[str, StringConstraints(max_length=80)] = ""

    @field_validator("number_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        if value and value not in _RATED_CLASSES:
            raise ValueError(f"'{value[:20]}' is not a number class (one of: {', '.join(_RATED_CLASSES)})")
        return value

    @field_validator("per_minute")
    @classmethod
    def _per_minute(cls, value: str) -> str:
        return _money(value, 6)

    @field_validator("connection_fee")
    @classmethod
    def _fee(cls, value: str) -> str:
        return _money(value, 6)

    @field_validator("increment")
    @classmethod
    def _increment(cls, value: str) -> str:
        first, following = (int(part) for part in value.split("/"))
        if first < 1 or following < 1:
            raise ValueError("both units must be 1 second or more (60/60, 6/6, 1/1, 30/6)")
        return f"{first}/{following}"

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.upper()
        if code not in _CURRENCIES:
            raise ValueError(f"'{value[:10]}' is not an ISO 4217 currency code (CNY, USD, EUR, ...)")
        return code

    @property
    def key(self) -> str:
        """Which line of a table this is, across its versions ("prefix:8613", "class:mobile", "default"): the
        line a month's bundle belongs to."""
        if self.prefix:
            return f"prefix:{self.prefix}"
        return f"class:{self.number_class}" if self.number_class else "default"

    @property
    def units(self) -> tuple[int, int]:
        first, following = self.increment.split("/")
        return int(first), int(following)


@dataclass(frozen=True)
class Charge:
    """What one call costs and how: the seconds charged, those the bundle paid, and the amount."""

    charged_seconds: int
    free_seconds: int
    cost: Decimal
    currency: str


def charged_seconds(billed: int, first: int, following: int) -> int:
    """The seconds an answered call of ``billed`` seconds is charged for under increment ``first/following``."""
    if billed <= 0:
        return 0
    if billed <= first:
        return first
    beyond = billed - first
    return first + -(-beyond // following) * following


def price(billed: int, line: RateLine, free_seconds_left: int = 0) -> Charge:
    """The charge for a call of ``billed`` answered seconds, with ``free_seconds_left`` in the month's bundle."""
    first, following = line.units
    charged = charged_seconds(billed, first, following)
    if charged == 0:
        return Charge(0, 0, Decimal(0).quantize(_minor(line.currency)), line.currency)
    free = min(charged, max(free_seconds_left, 0))
    exact = Decimal(line.connection_fee) + Decimal(line.per_minute) * (charged - free) / 60
    return Charge(charged, free, exact.quantize(_minor(line.currency), rounding=ROUND_HALF_UP), line.currency)


def _minor(currency: str) -> Decimal:
    """The currency's smallest unit as a quantum: Decimal("0.01") for CNY, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


# ---- the stored tables -------------------------------------------------------------------------------

def _line_of(row: Rate) -> RateLine:
    return RateLine(prefix=row.prefix, number_class=row.number_class, per_minute=row.per_minute,
                    increment=f"{row.first_seconds}/{row.next_seconds}", connection_fee=row.connection_fee,
                    free_minutes=row.free_minutes, currency=row.currency, description=row.description)


def validate_lines(rows: Iterable[tuple[int, dict]]) -> tuple[list[RateLine], list[Problem]]:
    """Each ``(line number, values)`` validated: (the lines, every problem located by its line).

    One table holds one currency, and no prefix or class twice (which line would price the call?)."""
    lines: list[RateLine] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for number, values in rows:
        try:
            line = RateLine(**values)
        except ValidationError as error:
            problems.extend(Problem(p.where, p.message, number) for p in from_pydantic(error))
            continue
        key = (line.prefix, line.number_class)
        if key in seen:
            what = (Message(N_("prefix %(prefix)s"), prefix=line.prefix) if line.prefix else
                    Message(N_("class %(class)s"), **{"class": line.number_class}) if line.number_class else
                    Message(N_("the default line (no prefix, no class)")))
            problems.append(Problem("prefix", Message(N_("%(what)s is already in line %(line)s"), what=what,
                                                      line=seen[key]), number))
            continue
        if line.prefix and line.number_class:
            problems.append(Problem("number_class", N_("give a prefix or a class, not both"), number))
            continue
        seen[key] = number
        if lines and line.currency != lines[0].currency:
            problems.append(Problem("currency", Message(N_("%(currency)s: one table holds one currency "
                                                           "(%(above)s above)"), currency=line.currency,
                                                        above=lines[0].currency), number))
            continue
        lines.append(line)
    return lines, problems


def replace_table(trunk: str, valid_from: datetime.date, lines: list[RateLine]) -> int:
    """Make ``lines`` the trunk's rate table from ``valid_from`` on (earlier tables kept); the rows stored.

    All or nothing: one transaction.  The caller has validated the lines and audits the change."""
    if not (Trunk.select().where(Trunk.name == trunk).exists()
            or DahdiTrunk.select().where(DahdiTrunk.name == trunk).exists()):
        raise SiteError([Problem("trunk", Message(N_("there is no trunk named '%(name)s'"), name=trunk[:40]))])
    with database.atomic():
        Rate.delete().where((Rate.trunk == trunk) & (Rate.valid_from >= valid_from)).execute()
        rows = [{"trunk": trunk, "valid_from": valid_from, "prefix": line.prefix,
                 "number_class": line.number_class, "per_minute": line.per_minute,
                 "first_seconds": line.units[0], "next_seconds": line.units[1],
                 "connection_fee": line.connection_fee, "free_minutes": line.free_minutes,
                 "currency": line.currency, "description": line.description} for line in lines]
        for start in range(0, len(rows), 500):
            Rate.insert_many(rows[start:start + 500]).execute()
    return len(rows)


def table_dates(trunk: str) -> list[datetime.date]:
    """The dates the trunk's tables start on, oldest first."""
    return [row.valid_from for row in Rate.select(Rate.valid_from).where(Rate.trunk == trunk)
            .distinct().order_by(Rate.valid_from)]


def table_in_force(trunk: str, day: datetime.date) -> tuple[datetime.date | None, list[RateLine]]:
    """(its start date, the lines) of the trunk's table in force on ``day``; (None, []) when none is."""
    start = (Rate.select(Rate.valid_from).where((Rate.trunk == trunk) & (Rate.valid_from <= day))
             .order_by(Rate.valid_from.desc()).limit(1).scalar())
    if start is None:
        return None, []
    rows = Rate.select().where((Rate.trunk == trunk) & (Rate.valid_from == start)).order_by(Rate.prefix,
                                                                                            Rate.number_class)
    return start, [_line_of(row) for row in rows]


class Table:
    """A table's lines indexed for pricing many calls: the longest prefix, then the class, then the default."""

    def __init__(self, lines: Iterable[RateLine]):
        self.by_prefix: dict[str, RateLine] = {}
        self.by_class: dict[str, RateLine] = {}
        self.default: RateLine | None = None
        for line in lines:
            if line.prefix:
                self.by_prefix[line.prefix] = line
            elif line.number_class:
                self.by_class[line.number_class] = line
            else:
                self.default = line
        self.longest = max((len(p) for p in self.by_prefix), default=0)

    @property
    def inbound(self) -> RateLine | None:
        """The line the carrier charges received calls by (class ``inbound``), or None: inbound is free."""
        return self.by_class.get(INBOUND)

    def line_for(self, number: str, number_class: str) -> RateLine | None:
        """The line that prices ``number`` (digits as sent to the trunk) of ``number_class``, or None."""
        digits = number.lstrip("+")
        for length in range(min(self.longest, len(digits)), 0, -1):
            line = self.by_prefix.get(digits[:length])
            if line is not None:
                return line
        return self.by_class.get(number_class, self.default)
