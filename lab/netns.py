"""Network namespaces for the lab: an attacker, a phone and the pbx each at their own address.

A ban drops packets by source address, so a test of it needs several sources and a firewall of its
own: the pbx's Asterisk, its nftables rule set and each SIP peer live in namespaces the test makes
(``ip netns add``), linked by veth pairs made directly inside them (``ip -n A link add ... netns B``),
so nothing is ever added to the host's own interfaces or rule set.  Addresses are from the
documentation ranges (RFC 5737): no real network is ever a target.

``entered(name)`` moves the *calling thread* into a namespace (``setns``) and back: every socket it
opens there, and every process or thread it starts there, stays in that namespace afterwards.  A
test starts the pbx's Asterisk (and talks to its AMI) from inside the pbx's namespace, and opens each
peer's socket from inside the peer's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with the calling thread in network namespace ``name`` (``/run/netns/NAME``)."""
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(here)
    finally:
        os.close(target)
        os.close(here)


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Lan:
    """Namespaces joined to a hub namespace by point-to-point veth links (a /30 each)."""

    hub: str
    peers: dict[str, tuple[str, str]] = field(default_factory=dict)  # peer name -> (hub address, peer address)
    _made: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, hub: str) -> Lan:
        lan = cls(hub)
        lan._add_namespace(hub)
        return lan

    def ns(self, peer: str) -> str:
        """The namespace name of ``peer`` (names are kept short: interface names have 15 characters)."""
        return f"{self.hub}-{peer}"

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self._made.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def add_peer(self, peer: str, hub_address: str, peer_address: str) -> str:
        """A namespace for ``peer``, linked to the hub: the hub's end has ``hub_address``, the peer's end
        ``peer_address`` (both in one /30), and the peer's default route goes to the hub."""
        name = self.ns(peer)
        self._add_namespace(name)
        index = len(self.peers)
        hub_if, peer_if = f"v{index}hub", f"v{index}peer"
        _ip("-n", self.hub, "link", "add", hub_if, "type", "veth", "peer", "name", peer_if, "netns", name)
        _ip("-n", self.hub, "addr", "add", f"{hub_address}/30", "dev", hub_if)
        _ip("-n", name, "addr", "add", f"{peer_address}/30", "dev", peer_if)
        _ip("-n", self.hub, "link", "set", hub_if, "up")
        _ip("-n", name, "link", "set", peer_if, "up")
        _ip("-n", name, "route", "add", "default", "via", hub_address)
        self.peers[peer] = (hub_address, peer_address)
        return name

    def add_hub_address(self, address: str) -> None:
        """One more address of the hub's own (on its loopback, a /32): reached by every peer through its link,
        as a service address is that is not one link's (the multi-node lab's SIP edge)."""
        _ip("-n", self.hub, "addr", "add", f"{address}/32", "dev", "lo")

    def forward(self) -> None:
        """Let the hub route between its peers (a new namespace does not): a peer can then reach another."""
        subprocess.run(["ip", "netns", "exec", self.hub, "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True,
                       capture_output=True, timeout=20)

    def address(self, peer: str) -> str:
        return self.peers[peer][1]

    def hub_address(self, peer: str) -> str:
        return self.peers[peer][0]

    def delete(self) -> None:
        """Remove every namespace made here (their veth ends and rule sets go with them)."""
        for name in reversed(self._made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)
        self._made.clear()
