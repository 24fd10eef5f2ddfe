"""Where an outbound call goes: the route a number dialled from an extension takes, the number it sends,
its class, and the trunks in the order they are tried (least-cost routing's order when the route has it).

The dialplan includes the outbound routes into ``from-internal-other`` in their position order, and Asterisk
takes the first included context that has a matching extension; within a route the most specific pattern
wins (``appliance.provisioning.trace.extension_order``).  The trunks' order is ``appliance.billing.lcr`` over
the rate tables in force on the day asked about: the same rule the dial guard applies at call time.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field

from appliance.billing import lcr
from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.provisioning.trace import extension_matches, extension_order
from appliance.site import queries
from appliance.site.checks import Site
from appliance.site.numbering import NumberPlan, classify


@dataclass(frozen=True)
class OutboundTrace:
    """The answer: ``route`` is "" when no route takes the number (the call is refused as unknown)."""

    dialled: str
    day: datetime.date
    route: str = ""
    pattern: str = ""
    number: str = ""  # as sent to the trunks, after strip and prepend
    number_class: str = ""
    least_cost: bool = False
    trunks: list[lcr.Choice] = field(default_factory=list)  # in the order they are tried

    def lines(self) -> list[str]:
        """The trace as text, one line per fact, then one per trunk in the order tried."""
        out = [str(Message(N_("Outbound call to %(number)s on %(day)s"), number=self.dialled,
                           day=self.day.isoformat()))]
        if not self.route:
            out.append(str(Message(N_("no outbound route takes this number: the call is not placed"))))
            return out
        out.append(str(Message(N_("route %(route)s (pattern %(pattern)s) sends %(number)s, class %(class)s"),
                               route=self.route, pattern=self.pattern, number=self.number,
                               **{"class": self.number_class})))
        out.append(str(Message(N_("trunks tried by price (least-cost routing)")) if self.least_cost
                       else Message(N_("trunks tried in the route's order"))))
        for n, choice in enumerate(self.trunks, 1):
            out.append(f"{n:>2}. {choice.trunk}: " + (choice.price or str(Message(N_("no rate")))))
        return out


def trace_outbound(site: Site, dialled: str, day: datetime.date) -> OutboundTrace:
    """Where ``dialled`` (as an extension dials it) goes on ``day`` on ``site``."""
    number = dialled.strip()
    if not number or len(number) > 40 or any(c not in "0123456789*#+" for c in number):
        raise SiteError([Problem("outbound", Message(N_("%(number)s is not a dialled number (digits, * # and +)"),
                                                     number=repr(number[:40])))])
    for route in sorted(site.of("outbound_route"), key=lambda r: r.position):
        matching = sorted((p for p in route.patterns if extension_matches(p.match, number)),
                          key=lambda p: extension_order(p.match))
        if not matching:
            continue
        pattern = matching[0]
        sent = pattern.prepend + number[pattern.strip:]
        number_class = classify(sent, NumberPlan.for_site(site)).number_class.value
        choices = lcr.choices_for(sent, number_class, list(route.trunks), day)
        return OutboundTrace(number, day, route.name, pattern.match, sent, number_class, route.least_cost,
                             lcr.order(choices) if route.least_cost else choices)
    return OutboundTrace(number, day)


def trace_outbound_stored(dialled: str, on: str = "") -> OutboundTrace:
    """``trace_outbound`` over the site as stored, ``on`` a day (``YYYY-MM-DD``; empty: today in the site's
    zone)."""
    site = queries.snapshot()
    if on.strip():
        try:
            day = datetime.date.fromisoformat(on.strip())
        except ValueError:
            raise SiteError([Problem("at", Message(N_("%(value)s is not a day: give YYYY-MM-DD"),
                                                   value=repr(on[:20])))]) from None
    else:
        day = datetime.datetime.now(zoneinfo.ZoneInfo(site.settings.timezone)).date()
    return trace_outbound(site, dialled, day)
