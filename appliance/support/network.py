"""``linebox network show``: what a technician checks first when phones or the console cannot connect.

Interfaces with their state and addresses, the default routes, the DNS servers, and the ports
Asterisk and the console listen on (with what each one is for: SIP, AMI, RTP, HTTPS), all from
psutil, ``/proc/net/route`` and ``/etc/resolv.conf``: no tool that a minimal Debian may lack.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from appliance.gateways.service import DEFAULT_PROVISION_PORT, PROVISION_PORT_ENV


@dataclass
class Interface:
    name: str
    up: bool
    speed: int
    mtu: int
    mac: str = ""
    addresses: list[str] = field(default_factory=list)


@dataclass
class Listener:
    proto: str
    address: str
    port: int
    process: str
    pid: int | None
    role: str = ""


@dataclass
class NetworkState:
    interfaces: list[Interface]
    gateways: list[tuple[str, str]]  # (gateway, interface)
    dns: list[str]
    search: list[str]
    listeners: list[Listener]


def interfaces() -> list[Interface]:
    stats = psutil.net_if_stats()
    out = []
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        st = stats.get(name)
        iface = Interface(name, bool(st and st.isup), st.speed if st else 0, st.mtu if st else 0)
        for a in addrs:
            if a.family == psutil.AF_LINK:
                iface.mac = a.address
            elif a.family in (socket.AF_INET, socket.AF_INET6):
                address = a.address.split("%")[0]
                try:
                    prefix = bin(int(ipaddress.ip_address(a.netmask))).count("1") if a.netmask else None
                except ValueError:
                    prefix = None
                iface.addresses.append(f"{address}/{prefix}" if prefix is not None else address)
        out.append(iface)
    return out


def default_gateways(route_file: Path = Path("/proc/net/route"),
                     route6_file: Path = Path("/proc/net/ipv6_route")) -> list[tuple[str, str]]:
    """IPv4 and IPv6 default routes as (gateway, interface), read from the kernel's tables."""
    found = []
    if route_file.exists():
        for line in route_file.read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) > 7 and parts[1] == "00000000" and parts[7] == "00000000" and int(parts[3], 16) & 2:
                gateway = socket.inet_ntoa(int(parts[2], 16).to_bytes(4, "little"))
                found.append((gateway, parts[0]))
    if route6_file.exists():
        for line in route6_file.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 10 and parts[0] == "0" * 32 and parts[1] == "00" and parts[4] != "0" * 32:
                gateway = str(ipaddress.IPv6Address(bytes.fromhex(parts[4])))
                found.append((gateway, parts[9]))
    return found


def resolvers(resolv_conf: Path = Path("/etc/resolv.conf")) -> tuple[list[str], list[str]]:
    """(name servers, search domains) from resolv.conf."""
    servers, search = [], []
    if resolv_conf.exists():
        for line in resolv_conf.read_text(errors="replace").splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) >= 2 and words[0] == "nameserver":
                servers.append(words[1])
            elif len(words) >= 2 and words[0] in ("search", "domain"):
                search += words[1:]
    return servers, search


# ``linebox <command>`` processes that listen, by the name the listing gives them
LINEBOX_LISTENERS = {"serve": "console", "provision-serve": "provision", "agi": "agi"}
SHOWN_PROCESSES = ("asterisk", *LINEBOX_LISTENERS.values())


def _linebox_service(process: psutil.Process) -> str | None:
    try:
        cmdline = process.cmdline()
    except (psutil.Error, OSError):
        return None
    if not any(part.endswith("linebox") for part in cmdline):
        return None
    return next((LINEBOX_LISTENERS[part] for part in cmdline if part in LINEBOX_LISTENERS), None)


def _process_name(pid: int) -> str:
    try:
        process = psutil.Process(pid)
        return _linebox_service(process) or process.name()
    except psutil.Error:
        return "?"


def _role(roles: dict[tuple[str, int], str], proto: str, port: int) -> str:
    role = roles.get((proto, port), "")
    if not role and proto == "udp" and roles.get(("rtp", 0)):
        low, high = (int(x) for x in roles[("rtp", 0)].split("-"))
        role = "RTP (media)" if low <= port <= high else ""
    return role


def listeners(roles: dict[tuple[str, int], str], own_ports: Set[int] = frozenset(),
              connections: list | None = None, process_name: Callable[[int], str] = _process_name) -> list[Listener]:
    """Sockets Asterisk and the console listen on.

    Several Asterisks may run on a development machine: the one listening on one of ``own_ports``
    (this install's AMI and SIP ports) is this install's; when none does, every Asterisk is shown.
    A user other than root cannot see which process owns another user's socket (the linebox user
    and Asterisk's ports): those are shown by what this install uses the port for, owner "-".
    """
    found: list[Listener] = []
    names: dict[int, str] = {}
    for conn in psutil.net_connections(kind="inet") if connections is None else connections:
        listening = conn.status == psutil.CONN_LISTEN or (conn.type == socket.SOCK_DGRAM and not conn.raddr)
        if not listening or not conn.laddr:
            continue
        proto = "tcp" if conn.type == socket.SOCK_STREAM else "udp"
        role = _role(roles, proto, conn.laddr.port)
        if conn.pid is None:
            if role:
                found.append(Listener(proto, conn.laddr.ip, conn.laddr.port, "-", None, role))
            continue
        if conn.pid not in names:
            names[conn.pid] = process_name(conn.pid)
        name = names[conn.pid]
        if name not in SHOWN_PROCESSES:
            continue
        if name == "console" and role.startswith("RTP"):
            role = ""
        found.append(Listener(proto, conn.laddr.ip, conn.laddr.port, name, conn.pid, role))
    ours = {x.pid for x in found if x.process == "asterisk" and x.port in own_ports}
    if ours:
        found = [x for x in found if x.process != "asterisk" or x.pid in ours]
    rtp = [x for x in found if x.role.startswith("RTP")]
    kept = [x for x in found if not x.role.startswith("RTP")]
    if rtp:  # one line for the media ports in use, not one per call leg
        first = min(rtp, key=lambda x: x.port)
        kept.append(Listener("udp", first.address, first.port, first.process, first.pid,
                             f"RTP (media), {len(rtp)} port(s) open now"))
    return sorted(kept, key=lambda x: (x.process, not x.role, x.port, x.proto))


def read_state(roles: dict[tuple[str, int], str], own_ports: Set[int] = frozenset()) -> NetworkState:
    servers, search = resolvers()
    return NetworkState(interfaces(), default_gateways(), servers, search, listeners(roles, own_ports))


def install_state(settings) -> NetworkState:
    """The network as ``linebox network show`` and the debug bundle show it: this install's ports named."""
    roles = roles_from_settings(settings, web_port(), provision_port())
    return read_state(roles, {settings.ami_port, settings.sip_port})


def roles_from_settings(settings, web_port: int | None = None,
                        provision_port: int | None = None) -> dict[tuple[str, int], str]:
    """What each of this install's ports is for, from the site settings and the services' ports."""
    roles = {("udp", settings.sip_port): "SIP (phones, trunks)", ("tcp", settings.sip_port): "SIP over TCP",
             ("tcp", settings.ami_port): "AMI (Linebox control)",
             ("tcp", settings.agi_port): "FastAGI (caller names)",
             ("tcp", settings.robot_port): "voice robot (AudioSocket)",
             ("rtp", 0): f"{settings.rtp_start}-{settings.rtp_end}"}
    if provision_port:
        roles[("tcp", provision_port)] = "gateway provisioning (HTTP)"
    if web_port:
        roles[("tcp", web_port)] = "web console (HTTPS)"
    return roles


def render(state: NetworkState, width: int = 80) -> list[str]:
    lines = ["Interfaces:"]
    for iface in state.interfaces:
        speed = f"{iface.speed} Mb/s" if iface.speed else ""
        head = f"  {iface.name:<12}{'UP' if iface.up else 'DOWN':<5}{speed:<11}"
        addresses = iface.addresses or ["no address"]
        lines.append(f"{head}{addresses[0]}")
        lines += [f"{'':<30}{a}" for a in addresses[1:]]
    gateways = ", ".join(f"{gw} via {dev}" for gw, dev in state.gateways) or "none"
    lines.append(f"Default route: {gateways}")
    dns = ", ".join(state.dns) or "none configured"
    lines.append(f"DNS servers:   {dns}" + (f"  (search {' '.join(state.search)})" if state.search else ""))
    lines.append("Listening:")
    if not state.listeners:
        lines.append("  neither Asterisk nor the console is listening (are they running?)")
    if any(x.pid is None for x in state.listeners):
        lines.append("  (owner '-': only root sees which process owns these; run as root to see it)")
    for x in state.listeners:
        where = f"[{x.address}]" if ":" in x.address else x.address
        lines.append(f"  {x.proto:<4}{where + ':' + str(x.port):<24}{x.process:<9}{x.pid or '':<8}{x.role}")
    return [line if len(line) <= width else line[: width - 3] + "..." for line in lines]


def _service_port(variable: str, env_file: Path, default: int) -> int:
    """A service's port: ``$<variable>``, else what its systemd environment file sets, else ``default``."""
    value = os.environ.get(variable, "")
    if not value and env_file.exists():
        for line in env_file.read_text(errors="replace").splitlines():
            key, _, rest = line.partition("=")
            if key.strip() == variable:
                value = rest.strip().strip("'\"")
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else default  # as the services read it


def web_port(env_file: Path = Path("/etc/linebox/web.env")) -> int:
    """The console's port: ``$LINEBOX_WEB_PORT``, else what ``/etc/linebox/web.env`` sets, else 443."""
    return _service_port("LINEBOX_WEB_PORT", env_file, 443)


def provision_port(env_file: Path = Path("/etc/linebox/provision.env")) -> int:
    """The provisioning server's port: ``$LINEBOX_PROVISION_PORT``, else ``provision.env``, else 8080.

    The services get the file through ``EnvironmentFile=`` (``appliance.gateways.service.provision_port``);
    a technician's shell does not, so the CLI reads it.
    """
    return _service_port(PROVISION_PORT_ENV, env_file, DEFAULT_PROVISION_PORT)
