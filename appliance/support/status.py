"""The box's status, gathered once for every place that shows it: the console's status page
(``appliance.web.views``), ``linebox status`` and ``linebox diag`` (``appliance.support.diagnostics``).

It lives with the technician's tools rather than in ``appliance.web`` so that the CLI may import it
without the console.  Each part is collected on its own and a failing part says so instead of
failing the whole: the status page and ``linebox diag`` are what people open when something is
wrong, so they must answer precisely when Asterisk or the disk is in trouble.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from appliance.asterisk.ami import AmiError
from appliance.asterisk.status import AsteriskStatus, read_contacts, read_status
from appliance.billing import guard
from appliance.catalog import N_
from appliance.errors import Message, joined
from appliance.gateways import port_state
from appliance.gateways import service as gateways
from appliance.install import Install
from appliance.site.kinds import KINDS
from hardware import dahdi_state, span_diagnostics

psutil.cpu_percent(interval=None)  # prime the counter: each status page then reads the load since the last one

log = logging.getLogger(__name__)

AMI_TIMEOUT = 3
COUNTED = {"extensions": ("extension",), "trunks": ("trunk",),
           "inbound routes": ("inbound_route",), "outbound routes": ("outbound_route",)}


@dataclass
class HostStatus:
    cpu_percent: float
    load: tuple[float, float, float] | None
    memory_used: int
    memory_total: int
    memory_percent: float
    disk_path: str
    disk_used: int
    disk_total: int
    disk_percent: float
    uptime_seconds: float


@dataclass
class DiskSpace:
    """One file system holding something the box writes all day (database, recordings, Asterisk's logs).

    Full (under ``FULL_PERCENT`` free) means new call records and recordings are being lost: the status
    page and ``linebox diag`` name what lives there, so the technician knows what stopped.
    """

    path: Path
    holds: list[str]
    free: int
    total: int

    @property
    def free_percent(self) -> float:
        return 100 * self.free / self.total if self.total else 0.0

    @property
    def level(self) -> str:
        return "fail" if self.free_percent < FULL_PERCENT else "warn" if self.free_percent < LOW_PERCENT else "ok"

    @property
    def text(self) -> str:
        return Message(N_("%(holds)s: %(free)s free of %(total)s (%(percent)s%%) at %(path)s"),
                       holds=_listed(self.holds), free=human_bytes(self.free), total=human_bytes(self.total),
                       percent=f"{self.free_percent:.0f}", path=str(self.path))

    @property
    def advice(self) -> str:
        if self.level == "fail":  # one 80-column line under diag's finding
            return Message(N_("%(what)s not saved: delete old recordings/backups"),
                           what=_listed([STOPS[h] for h in self.holds]))
        return Message(N_("delete old recordings or backups")) if self.level == "warn" else ""


def _listed(words: list[str]) -> str:
    """"database, recordings": marked words in one message, each translated where it is shown."""
    return joined([Message(word) for word in words], N_("%(before)s, %(after)s"))


FULL_PERCENT, LOW_PERCENT = 5, 10
STOPS = {"database": N_("call records"), "recordings": N_("recordings"), "Asterisk logs": N_("call logs")}


def disk_space(install: Install) -> list[DiskSpace]:
    """Free space of each file system holding the database, the recordings or Asterisk's logs (one entry
    per file system, naming all it holds); a place that does not exist yet is measured on its parent."""
    places = [(N_("database"), install.database.parent), (N_("recordings"), install.recordings_dir),
              (N_("Asterisk logs"), install.asterisk_log_dir)]
    found: dict[int, DiskSpace] = {}
    for what, path in places:
        existing = next((p for p in [path, *path.parents] if p.exists()), Path("/"))
        device = os.stat(existing).st_dev
        if device in found:
            found[device].holds.append(what)
            continue
        usage = psutil.disk_usage(str(existing))
        found[device] = DiskSpace(existing, [what], usage.free, usage.total)
    return list(found.values())


@dataclass
class SpanStatus:
    """One DAHDI span as the dashboard shows it: its alarms (empty: OK) and the first piece of advice."""

    number: int
    name: str
    alarms: list[str]
    advice: str = ""


@dataclass
class GatewayStatus:
    """One adopted FXO/FXS gateway: its ports' states (``port_state.port_states``), or why they are unknown."""

    name: str
    mac: str
    ports: list[port_state.PortState] = field(default_factory=list)

    @property
    def good(self) -> int:
        return sum(1 for p in self.ports if p.state in ("registered", "trunk reachable"))

    @property
    def bound(self) -> int:
        return sum(1 for p in self.ports if p.state != "unbound")


@dataclass
class Status:
    asterisk: AsteriskStatus
    counts: dict[str, int] = field(default_factory=dict)
    host: HostStatus | None = None
    host_error: str = ""
    spans: list[SpanStatus] = field(default_factory=list)
    spans_error: str = ""
    gateways: list[GatewayStatus] = field(default_factory=list)
    gateways_error: str = ""
    disks: list[DiskSpace] = field(default_factory=list)
    # caps and budgets reached (the dial guard, appliance.billing.guard), until their period ends or is raised
    guard_alerts: list[guard.Alert] = field(default_factory=list)


def asterisk_status(install: Install, timeout: float = AMI_TIMEOUT) -> AsteriskStatus:
    """What Asterisk says about itself (``appliance.asterisk.status``), for the page, ``linebox status`` and diag.

    Never raises: an unreachable Asterisk is a status, and so is an AMI library failing in a way
    ``read_status`` does not expect, because these are what people open when things are wrong.
    """
    try:
        status = read_status(lambda: install.connect_ami(timeout=timeout))
    except Exception as error:
        log.exception("unexpected error asking Asterisk for its status")
        return AsteriskStatus(reachable=False, error=f"{type(error).__name__}: {error}")
    if status.reachable:
        try:
            with install.connect_ami(timeout=timeout, user="linebox-status") as ami:  # PJSIPShowContacts: system
                status.contacts = read_contacts(ami, timeout)
        except Exception as error:  # the rest of the status stands; the phones are unknown
            if not isinstance(error, AmiError):
                log.exception("reading the phones' contacts")
            status.contacts_error = str(error) or type(error).__name__
    return status


@dataclass(frozen=True)
class PhoneRegistration:
    """Whether an extension's phone is registered, as the extension list shows it.

    ``state`` is registered (a contact answered qualify, or was not asked yet), unreachable (registered
    but not answering qualify), not registered (Asterisk has no contact for it), or unknown (Asterisk
    could not be asked: ``reason`` says why).
    """

    state: str
    addresses: tuple[str, ...] = ()
    reason: str = ""


def phone_registrations(install: Install, numbers: list[str], timeout: float = AMI_TIMEOUT
                        ) -> dict[str, PhoneRegistration]:
    """The registration of each extension in ``numbers``, from one AMI action for them all.

    Never raises: with Asterisk stopped or slow every one is "unknown", since a list of extensions
    must open whatever Asterisk is doing.
    """
    if not numbers:
        return {}
    try:
        with install.connect_ami(timeout=timeout, user="linebox-status") as ami:  # PJSIPShowContacts: system
            contacts = read_contacts(ami, timeout)
    except Exception as error:  # AMI refused, timed out, or failed unexpectedly: the list still opens
        if not isinstance(error, AmiError):
            log.exception("reading the phones' contacts")
        unknown = PhoneRegistration(N_("unknown"), reason=Message(N_("Asterisk could not be asked: %(error)s"),
                                                                  error=str(error)))
        return {number: unknown for number in numbers}
    by_aor: dict[str, list] = {}
    for contact in contacts:
        by_aor.setdefault(contact.aor, []).append(contact)
    out = {}
    for number in numbers:
        found = by_aor.get(number, [])
        addresses = tuple(c.address for c in found)
        if not found:
            out[number] = PhoneRegistration(N_("not registered"))
        elif any(c.status != "Unreachable" for c in found):
            out[number] = PhoneRegistration(N_("registered"),
                                            tuple(c.address for c in found if c.status != "Unreachable"))
        else:
            out[number] = PhoneRegistration(N_("unreachable"), addresses)
    return out


def object_counts() -> dict[str, int]:
    return {label: sum(KINDS[kind].model.select().count() for kind in kinds) for label, kinds in COUNTED.items()}


def host_status(disk_path: str) -> HostStatus:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(disk_path)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return HostStatus(
        cpu_percent=psutil.cpu_percent(interval=None), load=load,  # since the previous call: no 100 ms wait
        memory_used=memory.total - memory.available, memory_total=memory.total, memory_percent=memory.percent,
        disk_path=disk_path, disk_used=disk.used, disk_total=disk.total, disk_percent=disk.percent,
        uptime_seconds=time.time() - psutil.boot_time(),
    )


def span_status(sysfs: Path = Path("/sys")) -> list[SpanStatus]:
    """Every DAHDI span with its alarms and advice (``hardware.span_diagnostics``); empty: no span at all."""
    out = []
    for report in span_diagnostics.diagnose(dahdi_state.read_sysfs(sysfs)):
        out.append(SpanStatus(report.span, report.name or report.description, sorted(report.alarms),
                              report.advice[0] if report.advice else ""))
    return out


def gateway_status(install: Install, asterisk: AsteriskStatus, timeout: float = AMI_TIMEOUT
                   ) -> tuple[list[GatewayStatus], str]:
    """Adopted gateways and their ports' states; AMI is asked only when there is a gateway to ask about."""
    adopted = gateways.list_gateways()
    if not adopted:
        return [], ""
    out = [GatewayStatus(g["name"] or g["mac"], g["mac"]) for g in adopted]
    if not asterisk.reachable:
        return out, Message(N_("port states unknown: Asterisk is not reachable"))
    try:
        with install.connect_ami(timeout=timeout) as ami:
            states = port_state.port_states(ami)
    except Exception as error:  # the dashboard must render whatever AMI does
        log.exception("reading gateway port states")
        return out, Message(N_("port states unknown: %(error)s"), error=str(error))
    for gateway in out:
        gateway.ports = [s for s in states if s.gateway == gateway.mac]
    return out, ""


def collect(install: Install, sysfs: Path = Path("/sys")) -> Status:
    status = Status(asterisk=asterisk_status(install), counts=object_counts())
    try:
        status.host = host_status(str(install.home))
    except (OSError, psutil.Error) as error:
        status.host_error = str(error)
    try:
        status.spans = span_status(sysfs)
    except OSError as error:
        status.spans_error = str(error)
    status.gateways, status.gateways_error = gateway_status(install, status.asterisk)
    status.guard_alerts = guard.current_alerts()
    try:
        status.disks = disk_space(install)
    except OSError as error:
        status.host_error = status.host_error or str(error)
    return status


def human_bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def human_duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h {minutes} min"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
