"""Transfers and parking started from the agent's page: what the phone's ``##`` and ``*2`` do, over AMI.

The agent names where the call goes (an extension, a queue, an outside number, or the parking lot); the
destination is checked here against the site and then handed to Asterisk as an extension of
``from-internal``, the context the agent's own phone dials in, so an outside number passes through the
outbound routes and their dial guard exactly as if the agent had dialled it, and a queue or extension
rings as it would from the phone.  Nothing the agent typed reaches AMI unless it is an existing
extension's or queue's number or a plain string of digits.

* blind: ``BlindTransfer`` of the agent's channel: the caller goes on to the destination, the agent's
  phone is free at once;
* attended: ``Atxfer`` of the agent's channel: the caller waits on hold while the agent talks to the
  destination (a supervisor, say); the agent then hangs up to hand the call over, presses ``*3`` for a
  three-way call, or ``*5`` to go back to the caller (features.conf);
* park: a blind transfer to the parking lot's extension; the slot the call waits in is read back from
  Asterisk and shown to the agent, and any phone dials it to pick the call up.

Asterisk keeps the call's ``linkedid`` across these legs, so the call records and the reports see one
customer contact.  The AMI user (``linebox-transfer``) holds the ``call`` class for the transfer actions
and ``reporting`` to find the agent's channel, and nothing else: no ``originate``, ``system`` or
``command``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from appliance.asterisk.ami import Ami, AmiError
from appliance.asterisk.channels import core_show_channels, listed
from appliance.callcenter.agents import interface
from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.model import audit
from appliance.model.models import Extension, Queue

CONTEXT = "from-internal"  # where the agent's phone dials: routes, dial guard, queues, parking
PARKING_EXTEN = "70"  # res_parking.conf's parkext; its slots are 71-78
HOW = ("blind", "attended", "park")
KINDS = ("extension", "queue", "number")
NUMBER_RE = re.compile(r"^\+?[0-9]{2,20}$")  # an outside number as the agent's phone would dial it


@dataclass(frozen=True)
class Transfer:
    how: str
    kind: str
    destination: str  # the extension Asterisk is given in CONTEXT
    slot: str = ""  # park: the slot the call waits in


def destination(kind: str, value: str) -> str:
    """The checked destination: an existing extension or queue, or an outside number of digits."""
    value = value.strip()
    if kind == "extension":
        if Extension.get_or_none(Extension.number == value) is None:
            raise SiteError([Problem("destination", Message(N_("no extension %(number)s"), number=value[:40]))])
    elif kind == "queue":
        if Queue.get_or_none(Queue.number == value) is None:
            raise SiteError([Problem("destination", Message(N_("no queue %(number)s"), number=value[:40]))])
    elif kind == "number":
        value = value.replace(" ", "").replace("-", "")
        if not NUMBER_RE.match(value):
            raise SiteError([Problem("destination", N_("an outside number is 2 to 20 digits, with an optional + "
                                                       "first"))])
    else:
        raise SiteError([Problem("kind", N_("choose an extension, a queue or an outside number"))])
    return value


def agent_channel(ami: Ami, extension: str) -> tuple[str, str]:
    """(the agent's channel, its bridge) in the call the agent is on now (CoreShowChannels)."""
    prefix = interface(extension) + "-"
    for channel in core_show_channels(ami):
        if channel.get("Channel", "").startswith(prefix) and channel.get("BridgeId"):
            return channel["Channel"], channel["BridgeId"]
    raise SiteError([Problem("call", Message(N_("extension %(number)s is not on a call"), number=extension))])


def _parked_slot(ami: Ami, linkedid: str, timeout: float = 5) -> str:
    """The parking slot of the call whose ``linkedid`` is given, once Asterisk lists it (ParkedCalls)."""
    deadline = time.monotonic() + timeout
    while True:
        for event in listed(ami, "ParkedCalls", "ParkedCall"):
            if event.get("ParkeeLinkedid") == linkedid:
                return event.get("ParkingSpace", "")
        if time.monotonic() > deadline:
            return ""
        time.sleep(0.1)


def transfer(connect: Callable[[], Ami], user: str, extension: str, how: str, kind: str = "",
             to: str = "") -> Transfer:
    """Transfer (or park) the call agent ``extension`` is on; audited under the console user ``user``.

    The destination is checked before Asterisk is reached (``connect`` opens the AMI session): a refused
    one costs no AMI round trip and never reaches it."""
    if how not in HOW:
        raise SiteError([Problem("how", N_("choose a blind or attended transfer, or park"))])
    exten = PARKING_EXTEN if how == "park" else destination(kind, to)
    with connect() as ami:
        channel, _bridge = agent_channel(ami, extension)
        linkedid = ""
        try:
            if how == "park":
                linkedid = ami.action("Getvar", Channel=channel,
                                      Variable="CHANNEL(linkedid)").get_header("Value") or ""
            action = "Atxfer" if how == "attended" else "BlindTransfer"
            ami.action(action, Channel=channel, Context=CONTEXT, Exten=exten)
        except AmiError as error:
            raise SiteError([Problem("destination", Message(N_("Asterisk refused the transfer: %(error)s"),
                                                            error=str(error)))]) from None
        slot = _parked_slot(ami, linkedid) if how == "park" else ""
    done = Transfer(how, "parking" if how == "park" else kind, exten, slot)
    audit.record(user, how if how == "park" else f"transfer-{how}", "call", extension, None,
                 {"to": exten, "kind": done.kind, **({"slot": slot} if how == "park" else {})})
    return done
