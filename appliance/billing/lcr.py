"""Least-cost routing: the order in which an outbound route's trunks are tried for one number.

A route with ``least_cost`` on asks the dial guard (``[sub-dial-guard]``) before dialling; the guard
answers, besides allow or refuse, the route's trunks in the order this module gives, and the dialplan
tries them in that order, each one failing over to the next exactly as the configured order does
(congestion, unavailable, channel limit reached).  The rule (docs/admin-guide.md, "Least-cost routing"):

* each trunk's line for the number is the one that would price the call: the trunk's rate table in force
  today, longest prefix first, then the number's class (the dial guard's classifier), then the default;
* trunks are sorted by that line's per-minute rate, then its connection fee; equal prices keep the
  route's configured order (the sort is stable);
* prices in different currencies are not compared: trunks priced in the currency of the route's first
  priced trunk come first, trunks priced in another currency after them (configured order among them);
* trunks with no line for the number go last, in their configured order.

Bundles (free minutes) are not counted: which trunk is cheapest must not change in the middle of a month
with what other calls used.  When the guard cannot be asked the dialplan keeps the configured order.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from appliance.billing import rates


@dataclass(frozen=True)
class Choice:
    """One trunk of the route, and the rate line that prices the number on it (None: no rate)."""

    trunk: str
    line: rates.RateLine | None

    @property
    def price(self) -> str:
        """The price shown beside the trunk ("0.12 CNY/min + 0.05"), or "" with no rate."""
        if self.line is None:
            return ""
        fee = Decimal(self.line.connection_fee)
        return f"{self.line.per_minute} {self.line.currency}/min" + (f" + {self.line.connection_fee}" if fee else "")


def order(choices: list[Choice]) -> list[Choice]:
    """``choices`` (in the route's configured order) in the order to try them: the rule above."""
    currency = next((c.line.currency for c in choices if c.line is not None), "")

    def key(item: tuple[int, Choice]) -> tuple:
        position, choice = item
        if choice.line is None:
            return (2, Decimal(0), Decimal(0), position)
        rank = 0 if choice.line.currency == currency else 1
        if rank:
            return (1, Decimal(0), Decimal(0), position)
        return (0, Decimal(choice.line.per_minute), Decimal(choice.line.connection_fee), position)

    return [choice for _, choice in sorted(enumerate(choices), key=key)]


def choices_for(number: str, number_class: str, trunks: list[str], day: datetime.date) -> list[Choice]:
    """Each of ``trunks`` with the line of its table in force on ``day`` that prices ``number``."""
    out: list[Choice] = []
    for trunk in trunks:
        start, lines = rates.table_in_force(trunk, day)
        out.append(Choice(trunk, rates.Table(lines).line_for(number, number_class) if start else None))
    return out


def trunk_order(number: str, number_class: str, trunks: list[str], day: datetime.date) -> list[Choice]:
    """The route's ``trunks`` in the order least-cost routing tries them for ``number`` on ``day``."""
    return order(choices_for(number, number_class, trunks, day))
