"""Read what DAHDI knows about its devices and spans: from sysfs, and from the text its tools print.

Why several sources: sysfs (``/sys/bus/dahdi_devices``, ``/sys/bus/dahdi_spans``) is always
there once the drivers load and needs no tool, but it has no error counters; those come from
``/proc/dahdi/N`` (when the kernel has it) or ``dahdi_maint -s N``.  ``dahdi_scan`` and
``dahdi_span_assignments list`` are what a technician runs by hand, so Linebox reads their
output too (e.g. pasted into a support request).  Formats follow dahdi-linux
``drivers/dahdi/dahdi-sysfs.c`` / ``dahdi-base.c`` and dahdi-tools ``dahdi_scan.c``,
``dahdi_maint.c`` and ``dahdi_span_assignments``.

Every reader takes its input as a parameter (a root folder or a text) so tests can feed a fake
tree or a recorded output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# DAHDI_ALARM_* bits from dahdi-linux include/dahdi/user.h.
ALARM_BITS: dict[str, int] = {
    "RECOVER": 1 << 0,
    "LOOP": 1 << 1,
    "YELLOW": 1 << 2,
    "RED": 1 << 3,
    "BLUE": 1 << 4,
    "NOTOPEN": 1 << 5,
    "LOS": 1 << 8,
    "LOF": 1 << 9,
    "LMFA": 1 << 10,
}

# Every spelling the kernel and tools use, and the telecom names, mapped to one canonical name.
# "UNCONFIGURED" (dahdi_scan: a span with no configured channels) is kept as a pseudo-alarm.
ALARM_ALIASES: dict[str, str] = {
    **{name: name for name in ALARM_BITS},
    "RAI": "YELLOW", "YEL": "YELLOW",
    "AIS": "BLUE", "BLU": "BLUE",
    "LFA": "LOF",
    "LB": "LOOP", "LOOPBACK": "LOOP",
    "REC": "RECOVER", "RECOVERING": "RECOVER",
    "NOP": "NOTOPEN",
    "UUU": "UNKNOWN", "UNKNOWN": "UNKNOWN",
    "UNCONFIGURED": "UNCONFIGURED",
}


def alarms_from_mask(mask: int) -> frozenset[str]:
    """Names of the DAHDI alarm bits set in ``mask`` (sysfs prints it as ``0x...``)."""
    names = {name for name, bit in ALARM_BITS.items() if mask & bit}
    if mask & ~sum(ALARM_BITS.values()):
        names.add("UNKNOWN")
    return frozenset(names)


def parse_alarms(text: str) -> frozenset[str]:
    """Alarms from any DAHDI spelling: ``0x8``, ``RED``, ``BLU/YEL``, ``RED YELLOW``, ``OK``, ``LMFA/OK``.

    Raises ValueError on a word it does not know, so a new spelling is noticed, not ignored.
    """
    text = text.strip()
    if re.fullmatch(r"0x[0-9a-fA-F]+|\d+", text):
        return alarms_from_mask(int(text, 0))
    names = set()
    for word in re.split(r"[/\s,]+", text.upper()):
        if word in ("", "OK", "NONE"):
            continue
        if word not in ALARM_ALIASES:
            raise ValueError(f"unknown DAHDI alarm {word!r} in {text!r}")
        names.add(ALARM_ALIASES[word])
    return frozenset(names)


# ---------------------------------------------------------------- sysfs

@dataclass(frozen=True)
class DahdiDevice:
    """One ``/sys/bus/dahdi_devices/devices/*`` entry: a card (or dynamic span group) as DAHDI sees it."""

    name: str
    path: str
    manufacturer: str
    type: str
    span_count: int | None
    hardware_id: str
    location: str
    local_spantypes: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    """One ``/sys/bus/dahdi_spans/devices/span-N`` entry."""

    number: int
    name: str
    desc: str
    alarms: frozenset[str]
    alarm_mask: int | None
    lbo: int | None
    syncsrc: int | None
    is_digital: bool | None
    is_sync_master: bool | None
    basechan: int | None
    channels: int | None
    spantype: str
    lineconfig: str
    linecompat: str
    local_spanno: int | None
    device: str | None


@dataclass(frozen=True)
class DahdiState:
    devices: tuple[DahdiDevice, ...]
    spans: tuple[Span, ...]


def _read(path: Path) -> str | None:
    """An attribute's text without the trailing newline; None if absent or unreadable (e.g. ENODEV)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").rstrip("\n")
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text.strip(), 0) if text is not None else None
    except ValueError:
        return None


def _bool(text: str | None) -> bool | None:
    value = _int(text)
    return None if value is None else bool(value)


def read_sysfs(root: str | Path = "/sys") -> DahdiState:
    """DAHDI devices and spans under ``root`` (``/sys`` on a real system, a fake tree in tests)."""
    root = Path(root)
    devices: list[DahdiDevice] = []
    by_path: dict[Path, str] = {}
    devices_dir = root / "bus" / "dahdi_devices" / "devices"
    for entry in sorted(devices_dir.iterdir()) if devices_dir.is_dir() else []:
        real = entry.resolve()
        spantypes: dict[int, str] = {}
        for line in (_read(entry / "spantype") or "").splitlines():
            local, _, kind = line.partition(":")
            if _int(local) is not None:
                spantypes[int(local)] = kind.strip()
        devices.append(DahdiDevice(
            name=entry.name, path=str(real), manufacturer=_read(entry / "manufacturer") or "",
            type=_read(entry / "type") or "", span_count=_int(_read(entry / "span_count")),
            hardware_id=_read(entry / "hardware_id") or "", location=_read(entry / "location") or "",
            local_spantypes=spantypes))
        by_path[real] = entry.name
    spans: list[Span] = []
    spans_dir = root / "bus" / "dahdi_spans" / "devices"
    for entry in spans_dir.glob("span-*") if spans_dir.is_dir() else []:
        number = _int(entry.name.partition("-")[2])
        if number is None:
            continue
        mask = _int(_read(entry / "alarms"))
        spans.append(Span(
            number=number, name=_read(entry / "name") or "", desc=_read(entry / "desc") or "",
            alarms=alarms_from_mask(mask) if mask is not None else frozenset(), alarm_mask=mask,
            lbo=_int(_read(entry / "lbo")), syncsrc=_int(_read(entry / "syncsrc")),
            is_digital=_bool(_read(entry / "is_digital")), is_sync_master=_bool(_read(entry / "is_sync_master")),
            basechan=_int(_read(entry / "basechan")), channels=_int(_read(entry / "channels")),
            spantype=_read(entry / "spantype") or "", lineconfig=_read(entry / "lineconfig") or "",
            linecompat=_read(entry / "linecompat") or "", local_spanno=_int(_read(entry / "local_spanno")),
            device=by_path.get(entry.resolve().parent)))
    return DahdiState(tuple(devices), tuple(sorted(spans, key=lambda s: s.number)))


# ---------------------------------------------------------------- dahdi_scan

@dataclass(frozen=True)
class ScanPort:
    channel: int
    kind: str  # FXS, FXO, none, unknown
    failed: bool


@dataclass(frozen=True)
class ScanSpan:
    """One ``[N]`` block of ``dahdi_scan`` output."""

    number: int
    alarms: frozenset[str]
    values: dict[str, str]
    ports: tuple[ScanPort, ...] = ()

    @property
    def is_digital(self) -> bool:
        return self.values.get("type", "").startswith("digital-")

    @property
    def spantype(self) -> str:
        """``E1``/``T1``/``J1``/``BRI_TE``... for digital spans, ``analog`` otherwise."""
        kind = self.values.get("type", "")
        return kind.removeprefix("digital-") if self.is_digital else kind

    @property
    def crc4(self) -> bool:
        return self.values.get("framing", "").endswith("/CRC4")

    def get_int(self, key: str) -> int | None:
        return _int(self.values.get(key))


def parse_dahdi_scan(text: str) -> list[ScanSpan]:
    """Parse ``dahdi_scan``: ``[N]`` headers, ``key=value`` lines, repeated ``port=CHAN,KIND[ FAILED]``."""
    spans: list[ScanSpan] = []
    number: int | None = None
    values: dict[str, str] = {}
    ports: list[ScanPort] = []

    def flush() -> None:
        if number is not None:
            spans.append(ScanSpan(number, parse_alarms(values.get("alarms", "")), dict(values), tuple(ports)))

    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        header = re.fullmatch(r"\[(\d+)\]", line)
        if header:
            flush()
            number, values, ports = int(header.group(1)), {}, []
            continue
        if number is None or "=" not in line:
            raise ValueError(f"dahdi_scan: unexpected line {line!r}")
        key, _, value = line.partition("=")
        if key == "port":
            chan, _, rest = value.partition(",")
            words = rest.split()
            ports.append(ScanPort(int(chan), words[0] if words else "unknown", "FAILED" in words[1:]))
        else:
            values[key] = value
    flush()
    return spans


# ---------------------------------------------------------------- dahdi_span_assignments list

@dataclass(frozen=True)
class SpanAssignment:
    """One line of ``dahdi_span_assignments list``: ``local:span:basechan [hwid] @location devpath``."""

    local_spanno: int
    spanno: int | None
    basechan: int | None
    hardware_id: str
    location: str
    devpath: str

    @property
    def assigned(self) -> bool:
        return self.spanno is not None


_ASSIGNMENT = re.compile(r"^(\d+):(\d+|-):(\d+|-)\s+\[([^\]]*)\]\s+@(\S*)\s+(\S+)\s*$")


def parse_span_assignments(text: str) -> list[SpanAssignment]:
    """Parse ``dahdi_span_assignments list``; unassigned spans show ``-`` for span and base channel."""
    result = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _ASSIGNMENT.match(line)
        if not match:
            raise ValueError(f"dahdi_span_assignments: unexpected line {line!r}")
        local, span, base, hwid, location, devpath = match.groups()
        result.append(SpanAssignment(int(local), None if span == "-" else int(span),
                                     None if base == "-" else int(base), hwid, location, devpath))
    return result


# ---------------------------------------------------------------- error counters

@dataclass(frozen=True)
class SpanCounters:
    """Line error counters of one span (names as in the kernel's ``struct dahdi_count``)."""

    bpv: int = 0  # bipolar / code violations (CV)
    crc4: int = 0
    ebit: int = 0
    fas: int = 0  # framing errors
    timing_slips: int = 0
    irq_misses: int = 0
    errored_seconds: int = 0

    def growth(self, later: SpanCounters) -> dict[str, int]:
        """Counters that went up between this reading and ``later`` (a reset counter is not growth)."""
        out = {}
        for name in self.__dataclass_fields__:
            delta = getattr(later, name) - getattr(self, name)
            if delta > 0:
                out[name] = delta
        return out


@dataclass(frozen=True)
class ProcSpan:
    """``/proc/dahdi/N``: the header line and its counters (channel lines are not kept)."""

    number: int
    name: str
    desc: str
    is_master: bool
    lineconfig: str
    alarms: frozenset[str]
    clock_source: bool
    counters: SpanCounters


_PROC_COUNTERS = {
    "BPV count": "bpv", "CRC4 error count": "crc4", "E-bit error count": "ebit", "FAS error count": "fas",
    "IRQ misses": "irq_misses", "Timing slips": "timing_slips",
}


def parse_proc_span(text: str) -> ProcSpan:
    """Parse ``/proc/dahdi/N``: ``Span 1: NAME "DESC" (MASTER) HDB3/CCS/CRC4 RED ClockSource`` + counters."""
    lines = text.splitlines()
    header = re.match(r'^Span (\d+): (?:(\S+) )?"([^"]*)"(.*)$', lines[0] if lines else "")
    if not header:
        raise ValueError(f"/proc/dahdi: unexpected first line {lines[:1]!r}")
    number, name, desc, rest = header.groups()
    words = rest.split()
    is_master = "(MASTER)" in words
    clock_source = "ClockSource" in words
    words = [w for w in words if w not in ("(MASTER)", "ClockSource")]
    lineconfig = next((w for w in words if w.upper() not in ALARM_ALIASES), "")
    alarms = parse_alarms(" ".join(w for w in words if w != lineconfig))
    counts: dict[str, int] = {}
    for line in lines[1:]:
        label, sep, value = line.strip().partition(":")
        if sep and label in _PROC_COUNTERS and _int(value) is not None:
            counts[_PROC_COUNTERS[label]] = int(value)
    return ProcSpan(int(number), name or "", desc, is_master, lineconfig, alarms, clock_source,
                    SpanCounters(**counts))


_MAINT_COUNTERS = {
    "Framing Errors": "fas", "CRC Errors": "crc4", "Code Violations": "bpv", "E-bit Count": "ebit",
    "General Errored Seconds": "errored_seconds",
}


def parse_dahdi_maint(text: str) -> dict[int, SpanCounters]:
    """Parse the counter blocks ``dahdi_maint -s N`` prints (``Span N:`` then ``>Label : value:`` lines)."""
    result: dict[int, dict[str, int]] = {}
    current: int | None = None
    for line in text.splitlines():
        span = re.match(r"^Span (\d+):\s*$", line.strip())
        if span:
            current = int(span.group(1))
            result[current] = {}
            continue
        counter = re.match(r"^>\s*(.+?)\s*:\s*(-?\d+):?\s*$", line.strip())
        if counter and current is not None and counter.group(1) in _MAINT_COUNTERS:
            result[current][_MAINT_COUNTERS[counter.group(1)]] = int(counter.group(2))
    return {n: SpanCounters(**c) for n, c in result.items()}
