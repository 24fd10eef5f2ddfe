"""The multi-node lab: the Kamailio edge and Asterisk nodes, each host in a network namespace of its own.

``cluster_lab(home, site_yaml)`` makes a hub namespace holding the edge (Kamailio, on the site's one address,
``EDGE_ADDRESS``, held on the hub's loopback so that every host reaches it through its own link) and one
namespace per node and per phone, linked to the hub (``lab.netns.Lan``; the hub forwards between them, so a
phone can also try a node directly, which the node must refuse).  The site is imported into a real database
(``config_file.import_text``, as ``linebox config import`` does) and the edge's files and each node's PJSIP side
are rendered from it by ``appliance.provisioning.cluster``.

A node here is a lab Asterisk with its own small configuration around the rendered PJSIP objects: the node's
full configuration (queues, agents, recordings) is not rendered per node yet, so its dialplan only answers
(``NODE_DIALPLAN``); which node answered a call is read from the Contact of its 200 OK, the node's own address.
Everything started is stopped by PID and every namespace removed on the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from appliance import config_file
from appliance.install import Install
from appliance.model.database import close_database
from appliance.provisioning import cluster
from appliance.site import service
from lab import instance as lab
from lab import netns
from lab.carrier import BASE_CONFIG
from lab.sip_client import SipClient

_counter = itertools.count()
EDGE_ADDRESS = "198.51.100.1"  # TEST-NET-2 (RFC 5737): the site's one SIP address
SIP_PORT = 5060  # every host has its own namespace: the standard port everywhere
KAMCMD = "kamcmd"
NODE_DIALPLAN = """
[from-edge]
; a call the edge sent this node: answered for a moment, then hung up by the node
exten => _X.,1,Answer()
 same => n,Wait(1)
 same => n,Hangup()
"""


@dataclass
class Edge:
    process: subprocess.Popen
    folder: Path
    control: str

    def rpc(self, *command: str, timeout: float = 10) -> str:
        """A Kamailio RPC command over the edge's control socket (``kamcmd``)."""
        done = subprocess.run([KAMCMD, "-s", f"unix:{self.control}", *command], capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"kamcmd {' '.join(command)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def destinations(self) -> dict[str, list[str]]:
        """The dispatcher's view of every destination: URI -> the state flags of each set it is in (``AP``
        active and probed, ``IP`` inactive and probed, ...)."""
        states: dict[str, list[str]] = {}
        uri = ""
        for line in self.rpc("dispatcher.list").splitlines():
            key, _, value = line.strip().partition(":")
            if key == "URI":
                uri = value.strip()
            elif key == "FLAGS" and uri:
                states.setdefault(uri, []).append(value.strip())
        return states

    def log_text(self) -> str:
        path = self.folder / "kamailio.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class ClusterLab:
    lan: netns.Lan
    install: Install
    edge: Edge
    nodes: dict[str, lab.AsteriskInstance] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)  # node name -> its address

    def client(self, peer: str, server: tuple[str, int] | None = None, timeout: float = 5.0) -> SipClient:
        """A SIP client at ``peer``'s address, talking to the edge (or to ``server``)."""
        with netns.entered(self.lan.ns(peer)):
            return SipClient(self.lan.address(peer), server or (EDGE_ADDRESS, SIP_PORT), timeout)

    def restart_node(self, name: str) -> None:
        """Start node ``name``'s Asterisk again on its configuration (after the test killed it)."""
        with netns.entered(self.lan.ns(name)):
            lab.start(self.nodes[name])

    def wait_destinations(self, want: dict[str, str], timeout: float = 20) -> float:
        """Wait until each node named in ``want`` has that state in every dispatcher set ("AP": up, "IP": down);
        the seconds it took."""
        start = time.monotonic()
        seen: dict[str, list[str]] = {}
        while time.monotonic() - start < timeout:
            seen = self.edge.destinations()
            if all(all(state == flags for flags in seen.get(f"sip:{self.addresses[node]}:{SIP_PORT}", ["?"]))
                   for node, state in want.items()):
                return time.monotonic() - start
            time.sleep(0.05)
        raise TimeoutError(f"dispatcher not {want} within {timeout} s: {seen}\n{self.edge.log_tail()}")


def _start_edge(folder: Path, files: dict[str, str], hub: str) -> Edge:
    if shutil.which("kamailio") is None:
        raise RuntimeError("kamailio is not installed: make test installs the [test] packages of "
                           "debian-packages.txt (tools/ensure-debian-packages run test)")
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    control = str(folder / "kamailio_ctl")
    log = open(folder / "kamailio.log", "wb")  # noqa: SIM115 - handed to the child, closed below
    try:
        with netns.entered(hub):
            # -DD: stay in the foreground (its PID is the one to stop); -E: log to stderr (the file above)
            process = subprocess.Popen(
                ["kamailio", "-f", str(folder / "kamailio.cfg"), "-DD", "-E", "-m", "64", "-M", "8",
                 "-Y", str(folder), "-w", str(folder)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()
    edge = Edge(process, folder, control)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Kamailio exited at start:\n{edge.log_tail()}")
        if os.path.exists(control):
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                edge.rpc("core.uptime")
                return edge
        time.sleep(0.1)
    edge.stop()
    raise TimeoutError(f"Kamailio not ready within 20 s:\n{edge.log_tail()}")


def _start_node(name: str, ns: str, rootfs: Path | None, pjsip: str) -> lab.AsteriskInstance:
    instance = lab.prepare(f"node-{name}", rootfs, sip_port=SIP_PORT, ami_port=5038)
    for file, text in BASE_CONFIG.items():
        (instance.etc_dir / file).write_text(
            text.format(ami=instance.ami_port, rtp_start=instance.rtp_start, rtp_end=instance.rtp_end))
    (instance.etc_dir / "pjsip.conf").write_text(
        f"[global]\ntype = global\nuser_agent = linebox-node-{name}\n\n"
        f"[udp]\ntype = transport\nprotocol = udp\nbind = 0.0.0.0:{SIP_PORT}\n\n{pjsip}")
    (instance.etc_dir / "extensions.conf").write_text(NODE_DIALPLAN)
    with netns.entered(ns):
        return lab.start(instance)


@contextlib.contextmanager
def cluster_lab(home: Path, site_yaml: str, links: dict[str, tuple[str, str]],
                rootfs: Path | None = None) -> Iterator[ClusterLab]:
    """The edge and the site's nodes, up and probed; ``links``: per peer (each node by name, and the phones),
    the hub's and the peer's address on its /30 link.  The site's node addresses must be the peers'."""
    lan = netns.Lan.create(f"lbc{os.getpid() % 100000}{next(_counter)}")
    edge: Edge | None = None
    nodes: dict[str, lab.AsteriskInstance] = {}
    install: Install | None = None
    try:
        for peer, (hub_address, peer_address) in links.items():
            lan.add_peer(peer, hub_address, peer_address)
        lan.add_hub_address(EDGE_ADDRESS)
        lan.forward()
        install = Install.create(home, manage_asterisk=False, dahdi_root=home / "etc-dahdi",
                                 modprobe_dir=home / "etc-modprobe.d", dahdi_cfg_command="")
        install.open()
        config_file.import_text(site_yaml, user="lab")
        site = service.snapshot()
        edge = _start_edge(home / "edge", cluster.render_edge(site, edge_dir=str(home / "edge"),
                                                              control_socket=str(home / "edge" / "kamailio_ctl")),
                           lan.hub)
        for node in cluster.nodes(site):
            nodes[node.name] = _start_node(node.name, lan.ns(node.name), rootfs,
                                           cluster.render_node_pjsip(site, node.name))
        rig = ClusterLab(lan, install, edge, nodes, {node.name: node.address for node in cluster.nodes(site)})
        rig.wait_destinations(dict.fromkeys(nodes, "AP"))
        yield rig
    finally:
        try:
            for instance in nodes.values():
                instance.stop()
            if edge is not None:
                edge.stop()
            if install is not None:
                close_database()
        finally:
            lan.delete()
