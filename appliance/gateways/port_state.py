"""The state of every gateway port, read from Asterisk over AMI: registered, reachable, or unbound.

Apart from ``appliance.gateways.service`` (which writes gateways) because it reads the running
system, not the database alone: the console's gateway and status pages and ``linebox hardware``
show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from appliance.catalog import N_
from appliance.gateways.service import ports_of
from appliance.model.models import Gateway


@dataclass
class PortState:
    gateway: str
    number: int
    kind: str
    bound_to: str
    state: str  # registered / not registered / unbound / trunk reachable / trunk unreachable / unknown
    contacts: list[str] = field(default_factory=list)


_CONTACT_RE = re.compile(r"^\s*Contact:\s+([^/\s<]+)/(\S+)\s+\S+\s+(\S+)")
_ENDPOINT_RE = re.compile(r"^\s*Endpoint:\s+([^/\s<]+)\S*\s+(.+?)\s+\d+ of")


def parse_contacts(text: str) -> dict[str, list[tuple[str, str]]]:
    """``pjsip show contacts`` -> {aor: [(uri, status)]}."""
    out: dict[str, list[tuple[str, str]]] = {}
    for line in text.splitlines():
        m = _CONTACT_RE.match(line)
        if m and not m.group(1).startswith("<"):
            out.setdefault(m.group(1), []).append((m.group(2), m.group(3)))
    return out


def parse_endpoint_states(text: str) -> dict[str, str]:
    """``pjsip show endpoints`` -> {endpoint: state} (Not in use, Unavailable, In use, ...)."""
    return {m.group(1): m.group(2).strip() for line in text.splitlines() if (m := _ENDPOINT_RE.match(line))}


# the states a port is shown in (the console in the reader's language)
STATES = (N_("registered"), N_("not registered"), N_("trunk reachable"), N_("trunk unreachable"), N_("unknown"),
          N_("unbound"))


def port_states(ami) -> list[PortState]:
    """Every gateway port's state, read over ``ami`` (an ``appliance.asterisk.ami.Ami``, logged in)."""
    contacts = parse_contacts(ami.command("pjsip show contacts"))
    endpoints = parse_endpoint_states(ami.command("pjsip show endpoints"))
    out = []
    for gateway in Gateway.select().order_by(Gateway.mac):
        for port in ports_of(gateway):
            if port.kind == "fxs" and port.extension:
                found = contacts.get(port.extension, [])
                state = "registered" if found else "not registered"
                out.append(PortState(gateway.mac, port.number, "fxs", f"extension {port.extension}", state,
                                     [f"{uri} {status}" for uri, status in found]))
            elif port.kind == "fxo" and port.trunk:
                found = contacts.get(port.trunk, [])
                ok = any(status in ("Avail", "Reachable") for _, status in found)
                endpoint = endpoints.get(port.trunk, "")
                state = ("trunk reachable" if ok else
                         "trunk unreachable" if found or endpoint == "Unavailable" else "unknown")
                out.append(PortState(gateway.mac, port.number, "fxo", f"trunk {port.trunk}", state,
                                     [f"{uri} {status}" for uri, status in found]))
            else:
                out.append(PortState(gateway.mac, port.number, port.kind, "", "unbound"))
    return out


__all__ = ["PortState", "parse_contacts", "parse_endpoint_states", "port_states"]
