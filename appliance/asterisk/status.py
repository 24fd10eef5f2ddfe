"""What the running Asterisk says about itself: version, uptime, endpoints, registrations, phones' contacts.

Read through AMI CLI commands and parsed here once, for the CLI
(``linebox status``) and the web console alike.  The phones' contacts are
read as AMI events instead: the CLI's table cuts long contact addresses.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from dataclasses import dataclass, field

from appliance.asterisk.ami import AmiError, AmiTimeout

_ids = itertools.count(1)


@dataclass
class Endpoint:
    name: str
    state: str
    contacts: list[str] = field(default_factory=list)


@dataclass
class Registration:
    name: str
    server: str
    status: str


@dataclass
class AsteriskStatus:
    reachable: bool
    error: str = ""
    version: str = ""
    uptime: str = ""
    endpoints: list[Endpoint] = field(default_factory=list)  # the trunks' (file-backed) endpoints
    registrations: list[Registration] = field(default_factory=list)
    active_calls: int = 0
    # the phones registered, one per contact (read apart, with the AMI user allowed PJSIPShowContacts)
    contacts: list[Contact] = field(default_factory=list)
    contacts_error: str = ""  # why the contacts could not be read ("" when they were)


def parse_endpoints(text: str) -> list[Endpoint]:
    endpoints: list[Endpoint] = []
    for line in text.splitlines():
        m = re.match(r"^\s*Endpoint:\s+([^/\s<]+)\S*\s+(.+?)\s+\d+ of", line)
        if m:
            endpoints.append(Endpoint(m.group(1), m.group(2).strip()))
            continue
        c = re.match(r"^\s*Contact:\s+(\S+)\s+\S+\s+(\S+)", line)
        if c and endpoints and not c.group(1).startswith("<"):
            endpoints[-1].contacts.append(f"{c.group(1)} {c.group(2)}")
    return endpoints


def parse_registrations(text: str) -> list[Registration]:
    out = []
    for line in text.splitlines():
        m = re.match(r"^\s*(\S+)/(\S+)\s+\S+\s+(Registered|Unregistered|Rejected|Stopped|Unknown)", line)
        if m:
            out.append(Registration(m.group(1), m.group(2), m.group(3)))
    return out


def _short_version(text: str) -> str:
    """'Asterisk 22.10.1+dfsg+~cs6.17...-1 built by ...' -> '22.10.1'."""
    m = re.match(r"Asterisk ([0-9][0-9.]*)", text)
    return m.group(1) if m else text.split(" built")[0]


# Trunks' endpoints are named by identifiers (a letter first), extensions' by their numbers.  Extensions are
# rows Asterisk reads at run time (appliance.provisioning.projection): listing every endpoint reads each
# one's AOR and auth row by row (31 s at 10,000 extensions).  Realtime turns this pattern into
# ``id LIKE '[a-z]%'``, which no number matches, so only the file's endpoints are read; the phones come
# from their contacts (``read_contacts``, ``appliance.support.status.asterisk_status``).
TRUNK_ENDPOINTS = "^[a-z]"


def read_status(connect) -> AsteriskStatus:
    """Ask Asterisk; an unreachable Asterisk is a status, not an exception."""
    try:
        with connect() as ami:  # type: Ami
            version = ami.command("core show version").strip()
            uptime = ami.command("core show uptime").splitlines()
            channels = ami.command("core show channels count")
            calls = re.search(r"(\d+) active call", channels)
            return AsteriskStatus(
                reachable=True,
                version=_short_version(version),
                uptime=uptime[0].split(":", 1)[1].strip() if uptime and ":" in uptime[0] else "",
                endpoints=parse_endpoints(ami.command(f"pjsip show endpoints like {TRUNK_ENDPOINTS}")),
                registrations=parse_registrations(ami.command("pjsip show registrations")),
                active_calls=int(calls.group(1)) if calls else 0,
            )
    except AmiError as error:
        return AsteriskStatus(reachable=False, error=str(error))


@dataclass(frozen=True)
class Contact:
    """One registered contact of an AOR (a phone that registered), as Asterisk's qualify last saw it."""

    aor: str
    uri: str
    status: str  # Reachable, Unreachable, NonQualified, Unknown (not qualified yet)
    roundtrip_usec: int = 0

    @property
    def address(self) -> str:
        """Where the phone is: "192.0.2.7:5062" from "sip:100@192.0.2.7:5062;transport=udp"."""
        m = re.match(r"^sips?:(?:[^@;]*@)?([^;?>]+)", self.uri)
        return m.group(1) if m else self.uri


def read_contacts(ami, timeout: float = 10) -> list[Contact]:
    """Every registered contact, from one AMI action (``PJSIPShowContacts``).

    The contacts come back as ``ContactList`` events after the action's response and end with
    ``ContactListComplete``; they are caught by ActionID, the handlers registered before the action
    is sent.  Raises ``AmiError`` (``AmiTimeout`` when the list does not end in time).
    """
    action_id = f"linebox-contacts-{os.getpid()}-{next(_ids)}"
    contacts: list[Contact] = []
    done = threading.Event()

    def on_contact(event, _manager) -> None:
        headers = event.headers
        if headers.get("ActionID") == action_id:
            aor = headers.get("Aor") or headers.get("ObjectName", "").split(";@")[0]
            rtt = headers.get("RoundtripUsec", "")
            contacts.append(Contact(aor, headers.get("Uri", ""), headers.get("Status", ""),
                                    int(rtt) if rtt.isdigit() else 0))

    def on_complete(event, _manager) -> None:
        if event.headers.get("ActionID") == action_id:
            done.set()

    ami.on_event("ContactList", on_contact)
    ami.on_event("ContactListComplete", on_complete)
    try:
        ami.action("PJSIPShowContacts", ActionID=action_id)
    except AmiError as error:
        if "No Contacts found" in str(error):  # Asterisk answers an empty list with an error
            return []
        raise
    if not done.wait(timeout):
        raise AmiTimeout(f"Asterisk did not list its contacts within {timeout:.0f} s")
    return contacts
