"""Phone numbers as the phonebook matches them.

The rule (docs/admin-guide.md, "Phonebook"):

1. Spaces, dashes, dots, slashes and parentheses are dropped: ``+44 (20) 7946-0018`` is ``+442079460018``.
2. A leading ``00`` (the international prefix dialled in most of the world) becomes ``+``:
   ``0044 20 7946 0018`` is ``+442079460018``.
3. What is left must be digits, optionally after one leading ``+``, 2 to 20 digits in all.
4. With the site's country code set (Settings, ``country_code``, e.g. ``44``), a number in that country is
   the same whichever way it is written: international (``+44 20 7946 0018``), national with the trunk
   prefix ``0`` (``020 7946 0018``) or without it (``20 7946 0018``).  ``equivalents`` gives all three,
   and a lookup matches any stored number in that set.  Numbers of other countries only match in their
   international form.  Without a country code, only the normalised forms are compared.

Stored numbers keep the normalised form of rule 1-3 only, so changing the country code never needs the
phonebook to be rewritten: the equivalence is worked out at lookup time.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-./()]")
_VALID = re.compile(r"^\+?[0-9]{2,20}$")
TRUNK_PREFIX = "0"


def normalize(text: str) -> str:
    """The number as the phonebook stores and matches it; ValueError saying what is wrong when it is none."""
    raw = (text or "").strip()
    number = _SEPARATORS.sub("", raw)
    if number.startswith("00"):
        number = "+" + number[2:]
    if not number:
        raise ValueError("a number is needed")
    if not _VALID.match(number):
        raise ValueError(f"{raw!r} is not a phone number (digits, an optional leading + or 00, "
                         "spaces, dashes, dots and parentheses; 2 to 20 digits)")
    return number


def equivalents(number: str, country_code: str = "") -> set[str]:
    """Every stored form that means the same number as ``number`` (already normalised) in ``country_code``."""
    forms = {number}
    if not country_code:
        return forms
    own = "+" + country_code
    if number.startswith(own) and len(number) > len(own) + 1:
        national = number[len(own):]
    elif number.startswith(TRUNK_PREFIX) and len(number) > 2:
        national = number[len(TRUNK_PREFIX):]
    elif not number.startswith("+"):
        national = number
    else:
        return forms  # another country's number: only its international form
    forms |= {own + national, TRUNK_PREFIX + national, national}
    return forms


def dialable_forms(number: str, country_code: str = "") -> list[str]:
    """The ways to dial ``number`` (already normalised) from this site, the most local first: the national
    number, with the trunk prefix, then the international forms (``+`` and ``00``).  A queue callback dials
    the first form an outbound route takes, whatever form the caller's number arrived in."""
    forms = equivalents(number, country_code)
    national = sorted(f for f in forms if not f.startswith(("+", TRUNK_PREFIX)))
    prefixed = sorted(f for f in forms if f.startswith(TRUNK_PREFIX))
    international = sorted(f for f in forms if f.startswith("+"))
    return national + prefixed + international + ["00" + f[1:] for f in international]
