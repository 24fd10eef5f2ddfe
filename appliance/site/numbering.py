"""The one number classifier: what kind of call a dialled number is.

Dial permissions (which classes an extension may call), spending caps and call cost all ask the same
question of the number a route sends to its trunk (after the route's strip and prepend): is it an
emergency number, one of the site's own numbers, a local, national, mobile, toll-free, premium or
international number?  One function answers it for all of them, so that a call is never "international"
to the guard and "national" to the bill.

The numbering facts come from Google's libphonenumber (the ``phonenumbers`` package): each country's
mobile, fixed-line, toll-free and premium ranges, its emergency and short numbers, and the length of a
fixed line's area code.  The site adds what no library can know: its country (``country_code``), its own
area code (``area_code``: a fixed-line number in the same area is *local*, dialled with or without the
trunk prefix and area code), its internal numbering plan, and the emergency numbers its country's
regulator adds to the library's list.

The rules, in order (docs/admin-guide.md, "Number classes"):

1. Emergency: the library's emergency numbers for the site's country, 112 everywhere, and the country's
   extra numbers (``EXTRA_EMERGENCY``, China's 122 road-accident line); with no country set, China's
   110, 119, 120 and 122; these are never blocked by a class, cap or schedule.
2. Internal: a number of the site's own plan (extensions, ring groups, queues, voicemail boxes ...).
3. International: dialled with ``+`` or the country's international prefix (``00`` in China, ``011`` in
   North America) and a country code other than the site's own.
4. A short number (service lines such as 10086 or 95588): toll-free, premium or *local* (standard rate)
   by the library's cost; an unknown cost is *unknown*.
5. A full national number: toll-free, premium, mobile; a fixed line is *local* when its area code is the
   site's own, otherwise *national*; shared-cost, personal, VoIP and fixed-or-mobile numbers (North
   America cannot tell the two apart) are *national*.
6. Digits that fit no rule (too short, too long, a range not in service) are *unknown*: a guard treats
   them as the most restricted class it allows, never as a cheap one.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo
from phonenumbers.shortnumberinfo import ShortNumberCost

from appliance.catalog import N_
from appliance.site import queries, stored
from appliance.site.checks import Site
from appliance.site.kinds import KINDS


class NumberClass(enum.StrEnum):
    """A dialled number's class, from the most to the least trusted."""

    EMERGENCY = "emergency"
    INTERNAL = "internal"
    LOCAL = "local"
    NATIONAL = "national"
    MOBILE = "mobile"
    TOLL_FREE = "toll_free"
    PREMIUM = "premium"
    INTERNATIONAL = "international"
    UNKNOWN = "unknown"


# What the console and the call records call each class (translated through the catalog).
CLASS_LABELS: dict[NumberClass, str] = {
    NumberClass.EMERGENCY: N_("emergency"),
    NumberClass.INTERNAL: N_("internal"),
    NumberClass.LOCAL: N_("local"),
    NumberClass.NATIONAL: N_("national (long distance)"),
    NumberClass.MOBILE: N_("mobile"),
    NumberClass.TOLL_FREE: N_("toll-free"),
    NumberClass.PREMIUM: N_("premium rate"),
    NumberClass.INTERNATIONAL: N_("international"),
    NumberClass.UNKNOWN: N_("unknown"),
}

# Emergency numbers a country's regulator lists that libphonenumber's short-number data leaves out (it has
# 110, 119 and 120 for China, not 122, the road-accident line).  112 is added for every country: GSM phones
# treat it as emergency everywhere and several countries route it.
EXTRA_EMERGENCY: dict[str, frozenset[str]] = {"86": frozenset({"122"})}
ALWAYS_EMERGENCY = frozenset({"112"})
NO_COUNTRY_EMERGENCY = frozenset({"110", "119", "120", "122"})

_NATIONAL_TYPES = {
    PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.SHARED_COST, PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.UAN, PhoneNumberType.PAGER, PhoneNumberType.VOICEMAIL,
}
_TYPE_CLASSES = {
    PhoneNumberType.MOBILE: NumberClass.MOBILE,
    PhoneNumberType.TOLL_FREE: NumberClass.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE: NumberClass.PREMIUM,
}
_SHORT_COST_CLASSES = {
    ShortNumberCost.TOLL_FREE: NumberClass.TOLL_FREE,
    ShortNumberCost.STANDARD_RATE: NumberClass.LOCAL,
    ShortNumberCost.PREMIUM_RATE: NumberClass.PREMIUM,
}
_DIALLED = re.compile(r"^\+?[0-9]{1,32}$")


@dataclass(frozen=True)
class NumberPlan:
    """What the site knows about its own numbering that the library cannot."""

    country_code: str = ""  # the site's calling code without "+" ("86"); empty: no country, fewer classes
    area_code: str = ""  # the site's own area code without the trunk prefix ("21" for Shanghai)
    internal: frozenset[str] = frozenset()  # the site's own numbers

    @classmethod
    def for_site(cls, site: Site) -> NumberPlan:
        """The plan of a loaded site: its settings and every number an object of it is reached by."""
        internal = {str(obj.number) for name, kind in KINDS.items() if kind.key == "number"
                    for obj in site.of(name)}
        return cls(site.settings.country_code, site.settings.area_code, frozenset(internal))

    @classmethod
    def stored(cls) -> NumberPlan:
        """The plan from the database (settings rows and the numbering plan), without loading the site."""
        return cls(stored.setting("country_code"), stored.setting("area_code"),
                   frozenset(queries.own_numbers()))

    @property
    def region(self) -> str:
        """libphonenumber's main region for the country code ("CN" for 86, "US" for 1); "ZZ" for none."""
        return phonenumbers.region_code_for_country_code(int(self.country_code)) if self.country_code else "ZZ"

    def emergency_numbers(self) -> frozenset[str]:
        """The numbers added to the library's emergency list for this site's country.  A site with no country
        set yet takes China's (Linebox's home: a box set up without its country must never refuse 110)."""
        if not self.country_code:
            return ALWAYS_EMERGENCY | NO_COUNTRY_EMERGENCY
        return ALWAYS_EMERGENCY | EXTRA_EMERGENCY.get(self.country_code, frozenset())


def emergency_short_numbers(plan: NumberPlan) -> list[str]:
    """Every emergency number of 2 to 4 digits for the site's country, sorted: what the dialplan lets out
    on its own when the dial guard cannot be asked (``[sub-dial-guard]``), so emergency calls never depend
    on a service being up."""
    found = set(plan.emergency_numbers())
    if plan.region != "ZZ":
        found |= {str(n) for n in range(10, 10000)
                  if shortnumberinfo.is_emergency_number(str(n), plan.region) and classify(str(n), plan).number_class
                  == NumberClass.EMERGENCY}
    return sorted(found, key=lambda n: (len(n), n))


@dataclass(frozen=True)
class Classified:
    """A dialled number's class, with the reason a person reads in a refusal or a call record."""

    number: str
    number_class: NumberClass
    reason: str
    country_code: str = ""  # the called country's code, when the number has one


def classify(dialled: str, plan: NumberPlan) -> Classified:
    """The class of ``dialled`` (digits with an optional leading ``+``) for a site with ``plan``.

    A number that is not digits is *unknown*: routes only send digits, and a guard must never read an odd
    string as a cheap call.
    """
    number = dialled.strip()
    if not _DIALLED.match(number):
        return Classified(number, NumberClass.UNKNOWN, "not a dialled number (digits and an optional +)")
    region = plan.region
    if number in plan.emergency_numbers() or (
            region != "ZZ" and shortnumberinfo.is_emergency_number(number, region)):
        return Classified(number, NumberClass.EMERGENCY, "an emergency number: never blocked",
                          plan.country_code)
    if number in plan.internal:
        return Classified(number, NumberClass.INTERNAL, "one of the site's own numbers", plan.country_code)
    if region == "ZZ":
        if number.startswith("+"):
            return _full_number(number, plan, "ZZ")
        return Classified(number, NumberClass.UNKNOWN, "no country code is set for the site (Settings)")
    return _full_number(number, plan, region)


def _full_number(number: str, plan: NumberPlan, region: str) -> Classified:
    """Rules 3 to 6: the number as the library parses it in the site's region."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return Classified(number, NumberClass.UNKNOWN, "not a number of any country")
    called = str(parsed.country_code)
    if called != plan.country_code:
        return Classified(number, NumberClass.INTERNATIONAL, f"a number in country +{called}", called)
    if not number.startswith("+") and shortnumberinfo.is_valid_short_number_for_region(parsed, region):
        cost = shortnumberinfo.expected_cost_for_region(parsed, region)
        number_class = _SHORT_COST_CLASSES.get(cost, NumberClass.UNKNOWN)
        return Classified(number, number_class, f"a short service number ({CLASS_LABELS[number_class]})",
                          called)
    if not phonenumbers.is_valid_number(parsed) and plan.area_code:
        # A fixed line of the site's own area, dialled without trunk prefix and area code.
        local = _in_area(number, plan, region)
        if local is not None:
            return local
    if not phonenumbers.is_valid_number(parsed):
        return Classified(number, NumberClass.UNKNOWN, "not a number in service in this country", called)
    number_type = phonenumbers.number_type(parsed)
    if number_type in _TYPE_CLASSES:
        number_class = _TYPE_CLASSES[number_type]
        return Classified(number, number_class, f"a {CLASS_LABELS[number_class]} number", called)
    if number_type == PhoneNumberType.FIXED_LINE:
        if plan.area_code and _area_code(parsed) == plan.area_code:
            return Classified(number, NumberClass.LOCAL, f"a fixed line in the site's area ({plan.area_code})",
                              called)
        return Classified(number, NumberClass.NATIONAL, "a fixed line in another area", called)
    if number_type in _NATIONAL_TYPES:
        return Classified(number, NumberClass.NATIONAL, "a national number", called)
    return Classified(number, NumberClass.UNKNOWN, "a number of no known kind", called)


def _in_area(number: str, plan: NumberPlan, region: str) -> Classified | None:
    """``number`` as a fixed line of the site's own area, or None when it is not one."""
    try:
        trunk_prefix = phonenumbers.ndd_prefix_for_region(region, True) or ""
        parsed = phonenumbers.parse(trunk_prefix + plan.area_code + number, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
            PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return Classified(number, NumberClass.LOCAL, f"a fixed line in the site's area ({plan.area_code})",
                          plan.country_code)
    return None


def _area_code(parsed: phonenumbers.PhoneNumber) -> str:
    """The area code of a fixed-line number (without trunk prefix), "" when the country has none."""
    length = phonenumbers.length_of_geographical_area_code(parsed)
    return phonenumbers.national_significant_number(parsed)[:length] if length else ""
