"""A multi-node site's SIP edge and nodes: Kamailio's files, and what each Asterisk node needs to trust the edge.

The site describes its cluster with ``cluster_node`` objects (an address, a standby node, the queues that live
there) and ``settings.cluster_edge``, the one address phones and trunks use (``checks.cluster_problems`` holds
it together).  Kamailio at the edge is the registrar (phones register there, with their extension's password)
and sends every call from a phone to a node chosen by the number dialled: a queue's node, the node of the
queues an extension answers as an agent, or else the first node.  Each node is a dispatcher set of its own,
the node first and its standby after it; the dispatcher probes every node with OPTIONS, and a call whose node
does not answer in time goes to the standby at once (the failure route), so neither a caller nor the probe
interval decides how long a dead node costs.  A call from a node to an extension is looked up in the edge's
location table, so a queue on any node rings its agents wherever their phones are.  A carrier (a trunk known by
its IPv4 address) calls without a password, and its call to a DID goes to the node of the DID's queue.

Rendering is a pure function of the site, like ``render``: same site, same bytes.  Numbers, addresses and
secrets are held to strict patterns by the schemas; everything written into a string is escaped again here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from appliance.provisioning import escape
from appliance.site import schemas
from appliance.site.checks import Site

TEMPLATES = Path(__file__).parent / "templates" / "cluster"
# Kamailio's defaults beside the Debian package's: where the edge keeps its dispatcher list and control socket
EDGE_DIR = "/etc/kamailio"
CONTROL_SOCKET = "/run/kamailio/kamailio_ctl"
# How fast a dead node is noticed: OPTIONS every PROBE_SECONDS, one unanswered probe marks it down, and a call
# whose node sends nothing within REPLY_MS (not even 100 Trying) is sent to the standby.
PROBE_SECONDS = 1
REPLY_MS = 1000
EDGE_ENDPOINT = "linebox-edge"  # the node's PJSIP endpoint, AOR and identify for the edge
NODE_CONTEXT = "from-edge"


@dataclass(frozen=True)
class DispatcherSet:
    """The dispatcher set of one node: its id (1, 2, ... in the order of the node names) and its members."""

    id: int
    node: schemas.ClusterNode
    standby: schemas.ClusterNode | None


def is_cluster(site: Site) -> bool:
    """Multi-node mode: the site has an edge address and nodes (a one-box site has neither)."""
    return bool(site.settings.cluster_edge and site.of("cluster_node"))


def nodes(site: Site) -> list[schemas.ClusterNode]:
    return sorted(site.of("cluster_node"), key=lambda node: node.name)


def dispatcher_sets(site: Site) -> list[DispatcherSet]:
    by_name = {node.name: node for node in site.of("cluster_node")}
    return [DispatcherSet(i, node, by_name.get(node.standby)) for i, node in enumerate(nodes(site), start=1)]


def placement(site: Site) -> dict[str, str]:
    """The node each number's calls go to: every placed queue's, and each agent's (the node of its queues).

    A number not here (an extension that answers no queue, a ring group, voicemail) goes to the first node.
    ``checks.cluster_problems`` guarantees an agent's queues share a node, so an agent has one node."""
    queue_node = {number: node.name for node in site.of("cluster_node") for number in node.queues}
    placed = dict(queue_node)
    for queue in sorted(site.of("queue"), key=lambda q: q.number):
        node = queue_node.get(queue.number)
        if node is None:
            continue
        for member in queue.members:
            placed.setdefault(member.extension, node)
    # a carrier's call to a number (DID) whose inbound route goes to a queue or an extension: that one's node
    for route in sorted(site.of("inbound_route"), key=lambda r: r.name):
        kind, _, target = route.destination.partition(":")
        if kind in ("queue", "extension") and target in placed and EXACT_DID.match(route.did):
            placed.setdefault(route.did, placed[target])
    return dict(sorted(placed.items()))


EXACT_DID = re.compile(r"^\+?[0-9]{1,20}$")  # a DID pattern (_X.) or one with * or # is not placed


def trunk_sources(site: Site) -> list[str]:
    """The IPv4 addresses the edge takes calls from without a password, as a carrier's: each SIP trunk's
    ``match`` entries that are plain IPv4 addresses, or its host when it has no ``match`` and is one.  A trunk
    known only by a network, a source port or a host name is not accepted at the edge yet."""
    sources: set[str] = set()
    for trunk in site.of("trunk"):
        for entry in trunk.match or [trunk.host]:
            try:
                sources.add(str(ipaddress.IPv4Address(entry)))
            except ValueError:
                continue
    return sorted(sources)


def render_edge(site: Site, *, edge_dir: str = EDGE_DIR, control_socket: str = CONTROL_SOCKET) -> dict[str, str]:
    """Kamailio's ``kamailio.cfg`` and ``dispatcher.list`` for the edge of ``site`` (file name -> text)."""
    if not is_cluster(site):
        raise ValueError("the site is one box: it has no cluster edge to render")
    sets = dispatcher_sets(site)
    set_of = {s.node.name: s.id for s in sets}
    port = site.settings.sip_port
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["string"] = escape.kamailio_string
    values = {
        "edge": site.settings.cluster_edge, "port": port, "sets": sets, "first_set": sets[0].id,
        "placement": {number: set_of[node] for number, node in placement(site).items()},
        "trunks": trunk_sources(site),
        "secrets": {e.number: e.password for e in sorted(site.of("extension"), key=lambda e: e.number)},
        "dispatcher_list": f"{edge_dir.rstrip('/')}/dispatcher.list", "control_socket": control_socket,
        "probe_seconds": PROBE_SECONDS, "reply_ms": REPLY_MS,
    }
    return {name: env.get_template(f"{name}.j2").render(values) for name in ("kamailio.cfg", "dispatcher.list")}


def render_node_pjsip(site: Site, node_name: str) -> str:
    """The PJSIP objects a node needs behind the edge: the edge as its one trusted peer (identified by the edge's
    address, no other source may send it SIP), and each extension reached through the edge's registrar."""
    if not is_cluster(site):
        raise ValueError("the site is one box: it has no cluster nodes")
    if node_name not in {node.name for node in site.of("cluster_node")}:
        raise ValueError(f"no cluster node {node_name!r}")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["conf"] = escape.conf_text
    return env.get_template("pjsip_node.conf.j2").render(
        node=node_name, edge=site.settings.cluster_edge, port=site.settings.sip_port, endpoint=EDGE_ENDPOINT,
        context=NODE_CONTEXT, extensions=sorted(site.of("extension"), key=lambda e: e.number))


def render_all(site: Site, *, edge_dir: str = EDGE_DIR, control_socket: str = CONTROL_SOCKET) -> dict[str, str]:
    """Every file of the cluster, by path relative to an output folder: ``edge/kamailio.cfg``,
    ``edge/dispatcher.list`` and ``nodes/<name>/pjsip_edge.conf`` for each node (what ``linebox cluster render``
    writes, for an installer to place until apply delivers them to each host)."""
    out = {f"edge/{name}": text for name, text in
           render_edge(site, edge_dir=edge_dir, control_socket=control_socket).items()}
    for node in nodes(site):
        out[f"nodes/{node.name}/pjsip_edge.conf"] = render_node_pjsip(site, node.name)
    return out


def write_all(site: Site, folder: Path) -> list[Path]:
    """``render_all`` written under ``folder``, each file whole (a temporary file renamed into place), with no
    access for others: kamailio.cfg holds the extensions' SIP passwords."""
    written = []
    for relative, text in render_all(site).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text)
        temporary.chmod(0o640)
        temporary.replace(path)
        written.append(path)
    return written
