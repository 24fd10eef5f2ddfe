"""What a booted guest tried to reach: the destinations in a packet capture of its network.

The promise "nothing leaves the box" is checked on the wire, not by reading configuration: qemu writes
every frame of the guest's network to a pcap file (``Guest(capture=...)``), and :func:`outbound` lists
what the guest itself started — TCP connections it opened (SYN without ACK), UDP datagrams it sent,
other IP packets — and the names it asked DNS for.  Answers to connections the host opened towards the
guest (the console, provisioning, SSH forwarded by qemu) are not the guest reaching out, so TCP segments
that are not a fresh SYN are left out; the DNS names tell *why* a lookup was made even when qemu's user
network could not answer it (no internet here), so a lookup is reported as an attempt to leave.

Parsing uses dpkt (a small, well-kept pcap and protocol parser) rather than hand-read headers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

# qemu's user network: the host is 10.0.2.2, its DNS proxy 10.0.2.3 (fec0::3 over IPv6); the guest's card has
# the MAC address the Guest gives it, so frames are told apart by who sent them on the wire
GUEST_MAC = "52:54:00:12:34:56"
DNS_SERVERS = frozenset({"10.0.2.3", "fec0::3"})


@dataclass(frozen=True, order=True)
class Flow:
    """One kind of packet the guest started: protocol, destination address and port (0 when none)."""

    protocol: str
    destination: str
    port: int

    def __str__(self) -> str:
        return f"{self.protocol} {self.destination}:{self.port}" if self.port else f"{self.protocol} {self.destination}"


@dataclass
class Traffic:
    """The guest's outbound flows (with packet counts) and the DNS names it asked for."""

    flows: dict[Flow, int] = field(default_factory=dict)
    dns_names: set[str] = field(default_factory=set)

    def unexpected(self, allowed_names: set[str]) -> list[str]:
        """Everything that is neither local housekeeping nor a lookup of an allowed name, one line each.

        Local housekeeping: DHCP, DNS queries to the network's DNS server, and link-local multicast
        (IPv6 neighbour discovery, LLMNR/mDNS) that a router never forwards.
        """
        problems = []
        for flow, count in sorted(self.flows.items()):
            if _housekeeping(flow):
                continue
            problems.append(f"{flow} ({count} packets)")
        problems += [f"DNS lookup of {name}" for name in sorted(self.dns_names - allowed_names)]
        return problems


def _housekeeping(flow: Flow) -> bool:
    if flow.protocol == "udp" and flow.port == 67:  # DHCP
        return True
    if flow.port == 53 and flow.destination in DNS_SERVERS:  # the lookups themselves are judged by their names
        return True
    address = ipaddress.ip_address(flow.destination)
    if address.version == 6:
        return address.is_link_local or (address.is_multicast and str(address).startswith("ff02:"))
    return address.is_multicast and address in ipaddress.ip_network("224.0.0.0/24") or str(address) == "255.255.255.255"


def outbound(capture: Path, guest_mac: str = GUEST_MAC) -> Traffic:
    """Read ``capture`` (pcap) and collect what the card with ``guest_mac`` started."""
    traffic = Traffic()
    sender = bytes.fromhex(guest_mac.replace(":", ""))
    with capture.open("rb") as handle:
        for _, frame in dpkt.pcap.Reader(handle):
            ethernet = dpkt.ethernet.Ethernet(frame)
            packet = ethernet.data
            if ethernet.src != sender or not isinstance(packet, (dpkt.ip.IP, dpkt.ip6.IP6)):
                continue  # the host's answers; ARP and the like never leave the segment
            flow = _flow(packet, _address(packet.dst), traffic)
            if flow is not None:
                traffic.flows[flow] = traffic.flows.get(flow, 0) + 1
    return traffic


def _address(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def _flow(packet, destination: str, traffic: Traffic) -> Flow | None:
    payload = packet.data
    if isinstance(payload, dpkt.tcp.TCP):
        fresh = payload.flags & dpkt.tcp.TH_SYN and not payload.flags & dpkt.tcp.TH_ACK
        return Flow("tcp", destination, payload.dport) if fresh else None
    if isinstance(payload, dpkt.udp.UDP):
        if payload.dport == 53:
            traffic.dns_names |= _query_names(payload.data)
        return Flow("udp", destination, payload.dport)
    protocol = {1: "icmp", 58: "icmp6"}.get(getattr(packet, "p", getattr(packet, "nxt", -1)), "ip")
    return Flow(protocol, destination, 0)


def _query_names(data: bytes) -> set[str]:
    try:
        message = dpkt.dns.DNS(data)
    except (dpkt.UnpackError, IndexError):
        return {"<unreadable DNS query>"}
    return {question.name.lower().rstrip(".") for question in message.qd}
