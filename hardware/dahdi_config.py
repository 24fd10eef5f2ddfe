"""DAHDI configuration writers: the site's analog ports and PRI spans as DAHDI's and chan_dahdi's files.

One public entry point, :func:`render_dahdi`, turns a site into every DAHDI-related file, keyed by its
path relative to ``/etc``:

- ``dahdi/system.conf`` — what ``dahdi_cfg`` reads: ``span=`` lines (timing, LBO, framing, coding,
  CRC4) for card spans, ``dynamic=loc,K:I,24,0`` for local dynamic spans, ``bchan``/``dchan``, the
  analog ports' signalling, echo cancellers and the tone zone;
- ``dahdi/assigned-spans.conf`` — span number and first channel of every card, so channel numbers do
  not move when cards are detected in another order;
- ``dahdi/modules`` — the kernel drivers the configured cards need (from the card catalogue);
- ``modprobe.d/linebox-dahdi.conf`` — ``options dahdi auto_assign_spans=1`` when no card span is pinned
  by assigned-spans.conf (LAB.md: with 0, one ``dahdi_cfg`` cannot bring dynamic spans up);
- ``asterisk/chan_dahdi.conf`` — Asterisk's channels: signalling, groups, contexts, caller ID.

Analog signalling is named after the *far end*: an FXS port (it feeds a phone) is configured with
FXO signalling (``fxoks`` / ``fxo_ks``) and an FXO port (it takes a telephone line) with FXS signalling
(``fxsks`` / ``fxs_ks``).  Getting this backwards is the classic DAHDI mistake; the tests assert it.

This module depends on no part of ``appliance``: it reads whatever ``site`` object it is given through
``site.of(kind)`` and ``site.settings.tone_zone``, so the virtual DAHDI lab can call it directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from hardware.detect import Inventory

TEMPLATES = Path(__file__).parent / "dahdi_templates"
DAHDI_FILES = ("dahdi/system.conf", "dahdi/assigned-spans.conf", "dahdi/modules", "modprobe.d/linebox-dahdi.conf",
               "asterisk/chan_dahdi.conf")
HUNTING = {"ascending": "g", "descending": "G", "round_robin_ascending": "r", "round_robin_descending": "R"}
ECHO_CANCELLER = "mg2"  # built into Debian's dahdi-linux (dahdi_echocan_mg2); cards with hardware EC use theirs
LOC_CHANNELS = 24  # LAB.md: dynamic=loc,K:I,24,0 — B 1-23, D 24, whatever the line type


@dataclass(frozen=True)
class SpanLayout:
    """Where one span's channels are: absolute DAHDI channel numbers."""

    span: Any  # the site's span object
    first: int
    count: int
    bchans: tuple[tuple[int, int], ...]
    dchan: int

    @property
    def last(self) -> int:
        return self.first + self.count - 1


@dataclass(frozen=True)
class AnalogCard:
    """An analog card pinned in assigned-spans.conf: its ports are channels ``first`` .. ``last``."""

    card: str
    first: int
    last: int


def channel_count(span: Any) -> int:
    """Channels a span takes: 24 for a loc span and for T1 (23 B + D), 31 for E1 (30 B + D on 16)."""
    return LOC_CHANNELS if span.source == "loc" or span.line_type == "t1" else 31


def span_layouts(spans: list[Any], ports: list[Any], inventory: Inventory | None = None) -> list[SpanLayout]:
    """Spans in span-number order, numbered on from the highest analog channel.

    That is the order DAHDI gives them with auto-assignment (analog cards register when their driver
    loads, dynamic spans when dahdi_cfg creates them) and the order Linebox pins card spans in.  An
    analog card takes all its ports' channels, configured or not: the inventory says how many it has.
    """
    sizes = card_sizes(inventory)
    ends = [card.first + max(sizes.get(card.card, 0), card.last - card.first + 1) - 1 for card in analog_cards(ports)]
    first = max([p.channel for p in ports] + ends, default=0) + 1
    out = []
    for span in sorted(spans, key=lambda s: s.span):
        count = channel_count(span)
        bchans: tuple[tuple[int, int], ...]
        if count == 31:
            bchans, dchan = ((first, first + 14), (first + 16, first + 30)), first + 15
        else:
            bchans, dchan = ((first, first + 22),), first + 23
        out.append(SpanLayout(span, first, count, bchans, dchan))
        first += count
    return out


def analog_cards(ports: list[Any]) -> list[AnalogCard]:
    """Analog cards named by their ports, each spanning its lowest to highest configured channel."""
    by_card: dict[str, list[Any]] = {}
    for port in ports:
        if port.card:
            by_card.setdefault(port.card, []).append(port)
    cards = []
    for card, members in sorted(by_card.items()):
        first = min(p.channel - p.port + 1 for p in members)
        last = max(p.channel for p in members)
        cards.append(AnalogCard(card, first, last))
    return sorted(cards, key=lambda c: c.first)


def card_sizes(inventory: Inventory | None) -> dict[str, int]:
    """Analog ports (FXS + FXO) of each card in the inventory, by inventory key."""
    sizes: dict[str, int] = {}
    for device in inventory.devices if inventory else ():
        ports = (device.card or {}).get("ports") or []
        count = sum(group.get("count", 0) for group in ports if group.get("kind") in ("fxs", "fxo"))
        if count:
            sizes[device.key] = count
    return sizes


def ranges_text(ranges: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> str:
    """``1-15,17-31`` (a single channel as ``5``)."""
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def compress(channels: list[int]) -> list[tuple[int, int]]:
    """Sorted channel numbers as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for chan in sorted(channels):
        if runs and runs[-1][1] == chan - 1:
            runs[-1] = (runs[-1][0], chan)
        else:
            runs.append((chan, chan))
    return runs


def dial_string(trunk: Any) -> str:
    """What Asterisk dials for a DAHDI trunk: ``DAHDI/g1`` (g/G/r/R = hunting order) + ``/number``."""
    return f"DAHDI/{HUNTING[trunk.hunting]}{trunk.group}"


def uses_dahdi(site: Any) -> bool:
    """Whether the site has any analog port or span (if not, chan_dahdi stays unloaded)."""
    return bool(site.of("analog_port") or site.of("span"))


def _callerid_name(text: str) -> str:
    """A name safe inside ``callerid="..." <N>`` of chan_dahdi.conf: no quote, bracket, ';' or backslash."""
    return re.sub(r'["<>;\\\x00-\x1f]', "", text).strip() or "Phone"


def _device_id(card: str, inventory: Inventory | None) -> str:
    """What assigned-spans.conf identifies a card by: an inventory key becomes ``@<sysfs device path>``."""
    device = inventory.by_key().get(card) if inventory else None
    if device is None:
        return card
    devpath = device.sys_path.removeprefix("/sys/devices/")
    return f"@{devpath}/{card}"


def _drivers(site: Any, inventory: Inventory | None) -> tuple[list[str], list[str]]:
    """Kernel modules for /etc/dahdi/modules, and cards whose driver is unknown (not in the last scan)."""
    cards = {p.card for p in site.of("analog_port") if p.card} | {s.card for s in site.of("span") if s.card}
    known = inventory.by_key() if inventory else {}
    drivers, unknown = [], []
    for card in sorted(cards):
        device = known.get(card)
        if device is not None and device.expected_driver:
            if device.expected_driver not in drivers:
                drivers.append(device.expected_driver)
        else:
            unknown.append(card)
    if any(s.source == "loc" for s in site.of("span")):
        drivers += ["dahdi_dynamic", "dahdi_dynamic_loc"]
    return drivers, unknown


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters.update(ranges=ranges_text, callerid_name=_callerid_name)
    return env


_ENV = _environment()


def render_dahdi(site: Any, inventory: Inventory | None = None) -> dict[str, str]:
    """Every DAHDI-related file for ``site``, as ``{path relative to /etc: text}``.

    ``site``: anything with ``of(kind)`` returning the site's objects of kinds ``"analog_port"``,
    ``"span"``, ``"dahdi_trunk"`` and ``"extension"`` (``appliance.site.checks.Site`` is one), and
    ``settings.tone_zone``.  The objects are assumed valid (``appliance.site.checks.check_site``).
    ``inventory``: the last hardware scan (``hardware.detect.scan()``), used to find each card's driver
    and its sysfs path for assigned-spans.conf; without it cards are named as the site names them.

    Returns the keys of :data:`DAHDI_FILES`: ``dahdi/system.conf``, ``dahdi/assigned-spans.conf``,
    ``dahdi/modules``, ``modprobe.d/linebox-dahdi.conf`` and ``asterisk/chan_dahdi.conf``.  Pure: the
    same site gives the same bytes.  A site with no ports or spans gives files that configure nothing.
    """
    ports = sorted(site.of("analog_port"), key=lambda p: p.channel)
    spans = sorted(site.of("span"), key=lambda s: s.span)
    trunks = {t.name: t for t in site.of("dahdi_trunk")}
    extensions = {e.number: e for e in site.of("extension")}
    layouts = span_layouts(spans, ports, inventory)
    card_layouts = [lay for lay in layouts if lay.span.source == "card"]
    cards = analog_cards(ports)
    pinned = bool(card_layouts)
    drivers, unknown = _drivers(site, inventory)
    context = {
        "ports": ports, "layouts": layouts, "trunks": trunks, "extensions": extensions,
        "zone": site.settings.tone_zone, "echo": ECHO_CANCELLER, "pinned": pinned,
        "card_layouts": card_layouts, "analog_cards": cards, "next_span": max((s.span for s in spans), default=0) + 1,
        "device_id": lambda card: _device_id(card, inventory), "drivers": drivers, "unknown_cards": unknown,
        "dahdi_in_use": bool(ports or spans),
    }
    return {path: _ENV.get_template(Path(path).name + ".j2").render(**context) for path in DAHDI_FILES}
