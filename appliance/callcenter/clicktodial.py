"""Click-to-dial: the agent's own phone rings first; once it is picked up, the number is dialled from it.

The call is an AMI ``Originate`` of the agent's device (``agents.interface``: their SIP endpoint or FXS
port) into ``from-internal`` at the number, the context a call typed on that phone enters.  So everything a
dialled call meets applies unchanged: the extension's dial permissions, caps and budget (the dial guard asks
with the channel, which is the agent's own), the outbound route's caller ID, trunk failover.  The originated
channel carries the endpoint's own caller ID (no ``CallerID`` header is sent), as a call from the phone does.

It logs in as ``linebox-dial`` (``appliance.asterisk.ami_users``), whose only class is ``originate``:
Asterisk refuses it ``Originate`` of System() and the like (they need the ``system`` class too), and it can
neither read events nor run CLI commands.  The number reaches the AMI header only after validation (digits,
``*``, ``#`` and one leading ``+``): no line break or dialplan syntax can ride along.
"""

from __future__ import annotations

import re

from appliance.asterisk.ami import Ami, AmiError
from appliance.callcenter.agents import interface
from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.model import audit
from appliance.model.models import Extension

_SEPARATORS = re.compile(r"[\s\-./()]")
_DIALLABLE = re.compile(r"^\+?[0-9*#]{1,32}$")
RING_SECONDS = 30  # how long the agent's phone rings before the attempt is given up
CONTEXT = "from-internal"  # where a call typed on an extension's phone starts (pjsip.conf's context)


def dialable(text: str) -> str:
    """The number as a phone would dial it: separators dropped; digits, * and # with an optional leading +."""
    number = _SEPARATORS.sub("", (text or "").strip())
    if not _DIALLABLE.match(number):
        raise SiteError([Problem("number", Message(
            N_("%(number)s is not a number to dial (digits, * and #, an optional leading +; at most 32)"),
            number=(text or "")[:40]))])
    return number


def originate_fields(extension: str, number: str) -> dict[str, str]:
    """The AMI Originate that rings ``extension``'s phone and, once answered, dials ``number`` from it."""
    return {"Channel": interface(extension), "Context": CONTEXT, "Exten": number, "Priority": "1",
            "Timeout": str(RING_SECONDS * 1000), "Async": "true",
            "Variable": f"LB_CLICK_TO_DIAL={number}"}


def check(extension: str, text: str) -> str:
    """The number to dial from ``extension``, or SiteError naming what is wrong; checked before AMI is reached."""
    number = dialable(text)
    if Extension.get_or_none(Extension.number == extension) is None:
        raise SiteError([Problem("extension", Message(N_("no extension %(number)s"), number=extension))])
    return number


def dial(ami: Ami, user: str, extension: str, text: str) -> str:
    """Ring ``extension``'s phone, then dial ``text`` from it; the number dialled.  Audited as ``dial``."""
    number = check(extension, text)
    try:
        ami.action("Originate", **originate_fields(extension, number))
    except AmiError as error:
        raise SiteError([Problem("number", Message(N_("Asterisk refused: %(error)s"), error=str(error)))]) from None
    audit.record(user, "dial", "extension", extension, None, {"number": number})
    return number
