"""The ban lab: the pbx, its firewall and the ban service in a network namespace, SIP peers in others.

``ban_lab(home)`` makes a hub namespace holding the pbx's Asterisk (SIP on every address of the hub),
the firewall the Ansible base role installs (its template rendered with the pbx's ports and loaded into
the hub namespace only) and the ban service (``appliance.services.bans.run``, on a thread), and one
namespace per peer (the attacker, a real phone, the admin's allow-listed LAN, ...), each at its own
address.  The calling thread stays in the hub namespace inside the ``with`` block (the pbx's AMI is on
its loopback); ``client(peer)`` opens a SIP client from a peer's namespace.  Everything is removed on
the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from appliance.install import Install
from appliance.model.database import close_database
from appliance.security import bans
from appliance.services import bans as ban_service
from lab import instance as lab
from lab import netns
from lab.pbx import start_pbx
from lab.sip_client import SipClient

_counter = itertools.count()
TEMPLATES = Path(__file__).resolve().parent.parent / "ansible" / "roles" / "base" / "templates"
# hub address, peer address: a /30 each, from TEST-NET-1 (RFC 5737)
PEERS = {"att": ("192.0.2.1", "192.0.2.2"), "phone": ("192.0.2.5", "192.0.2.6"),
         "admin": ("192.0.2.9", "192.0.2.10"), "scan": ("192.0.2.13", "192.0.2.14"),
         "flood": ("192.0.2.17", "192.0.2.18"), "hand": ("192.0.2.21", "192.0.2.22")}


def firewall_rules(sip_port: int, rtp: str) -> str:
    """The base role's nftables.conf for this pbx (the Ansible filters it uses done by hand)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True)
    env.tests["search"] = lambda value, pattern: re.search(pattern, value) is not None
    return env.get_template("nftables.conf.j2").render(
        ansible_managed="ban lab", linebox_ssh_port=22, linebox_web_port=443, linebox_web_http_port=80,
        linebox_provision_port=8080, linebox_admin_networks=[], linebox_provision_networks=[],
        linebox_sip_networks=[], linebox_sip_port=sip_port, linebox_rtp_ports=rtp)


@dataclass
class BanLab:
    lan: netns.Lan
    install: Install
    instance: lab.AsteriskInstance
    said: list[str] = field(default_factory=list)

    def client(self, peer: str, timeout: float = 1.0) -> SipClient:
        """A SIP client at ``peer``'s address, talking to the pbx's address on that peer's link."""
        with netns.entered(self.lan.ns(peer)):
            return SipClient(self.lan.address(peer), (self.lan.hub_address(peer), self.instance.sip_port), timeout)

    def nft(self, *args: str) -> str:
        """nft in the hub namespace (the calling thread is in it)."""
        return subprocess.run(["nft", *args], capture_output=True, text=True, timeout=20, check=True).stdout

    def banned_in_firewall(self) -> set[str]:
        from appliance.security import firewall
        return set(firewall.elements())

    def wait_ban(self, source: str, after: int = 0, timeout: float = 20, in_firewall: bool = False) -> bans.Ban:
        """The first ban of ``source`` recorded after ban id ``after`` (it may have ended since: a test's bans
        are short); ``in_firewall``: wait until it is in the firewall's set too."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = bans.Ban.select().where(bans.Ban.source == source, bans.Ban.id > after).order_by(bans.Ban.id)
            if found and (not in_firewall or source in self.banned_in_firewall()):
                return found[0]
            time.sleep(0.02)
        raise TimeoutError(f"{source} not banned within {timeout} s (service said: {self.said[-5:]})")

    @staticmethod
    def last_ban_id() -> int:
        return max((row.id for row in bans.recent(1)), default=0)


@contextlib.contextmanager
def ban_lab(home: Path, rootfs: Path | None = None, peers: tuple[str, ...] = tuple(PEERS),
            settings: dict | None = None) -> Iterator[BanLab]:
    from appliance.site import service

    lan = netns.Lan.create(f"lbx{os.getpid() % 100000}{next(_counter)}")
    stop = threading.Event()
    worker: threading.Thread | None = None
    instance = None
    try:
        for peer in peers:
            lan.add_peer(peer, *PEERS[peer])
        with netns.entered(lan.hub):
            install, instance = start_pbx(home, rootfs, bind="0.0.0.0")
            subprocess.run(["nft", "-f", "-"], input=firewall_rules(instance.sip_port,
                                                                     f"{instance.rtp_start}-{instance.rtp_end}"),
                           text=True, check=True, timeout=20, capture_output=True)
            if settings:
                service.save_settings(settings, user="lab")
            rig = BanLab(lan, install, instance)
            worker = threading.Thread(target=ban_service.run, args=(install, rig.said.append, rig.said.append, stop),
                                      name="ban-service", daemon=True)
            worker.start()
            yield rig
    finally:
        try:
            stop.set()
            if worker is not None and worker.is_alive():
                worker.join(timeout=20)
            if instance is not None:
                instance.stop()
            close_database()
        finally:
            lan.delete()
