"""What the running Asterisk says about itself: version, uptime, endpoints, registrations.

Read through AMI CLI commands and parsed here once, for the CLI
(``linebox status``) and the web console alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from appliance.asterisk.ami import AmiError


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
    endpoints: list[Endpoint] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    active_calls: int = 0


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
                endpoints=parse_endpoints(ami.command("pjsip show endpoints")),
                registrations=parse_registrations(ami.command("pjsip show registrations")),
                active_calls=int(calls.group(1)) if calls else 0,
            )
    except AmiError as error:
        return AsteriskStatus(reachable=False, error=str(error))
