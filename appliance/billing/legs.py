"""Which call records are legs through a trunk, and to which number: read from the record alone.

The dialplan marks a trunk attempt with the record's userfield ``trunk:<name>`` (``[sub-trunk-dial]``,
``[sub-dahdi-dial]`` in extensions.conf) and Asterisk records the ``Dial`` it ran (``PJSIP/<number>@<trunk>``,
``DAHDI/g<N>/<number>``).  A leaf with no imports: the collector reads every record through it, and loads
the pricing (``appliance.billing.calls``: rate tables, the number classifier) only for records that are
trunk legs.
"""

from __future__ import annotations

TRUNK_MARK = "trunk:"


def calling_endpoint(channel: str) -> str:
    """The PJSIP endpoint that placed a leg ("100" for ``PJSIP/100-0000002a``): an extension's endpoint is
    named by its number.  "" for other channels (an analog phone's DAHDI channel names no extension)."""
    if not channel.startswith("PJSIP/"):
        return ""
    return channel[len("PJSIP/"):].rsplit("-", 1)[0]


def trunk_leg(userfield: str, lastapp: str, lastdata: str) -> tuple[str, str]:
    """(trunk, number sent) of a leg the dialplan dialled through a trunk; ("", "") for any other leg."""
    if not userfield.startswith(TRUNK_MARK) or lastapp != "Dial":
        return "", ""
    target = lastdata.split(",", 1)[0]
    if target.startswith("PJSIP/") and "@" in target:
        number = target[len("PJSIP/"):].split("@", 1)[0]
    elif target.startswith("DAHDI/"):
        number = target.rsplit("/", 1)[1]
    else:
        return "", ""
    return userfield[len(TRUNK_MARK):], number
