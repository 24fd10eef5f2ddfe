"""The card catalogue: which bus IDs are which telephony cards, and which kernel module drives them.

The facts live in ``hardware/data/cards.yaml`` so that adding a card is a data change a
technician can review, not a code change.  This module loads that file, checks it strictly
(a typo in the catalogue must fail the test suite, not silently hide a card in the field), and
answers one question: "what is the device with these IDs?".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

BUSES = ("pci", "usb")
PORT_KINDS = ("fxs", "fxo", "e1t1", "bri")
EC_TYPES = ("none", "optional", "built-in", "model-dependent")
ASTRIBANK_STATES = ("no-firmware", "usb-firmware", "ready", "twinstar-monitor", "eeprom-burner")

_FAMILY_ONLY = {"family", "cards"}
_CARD_FIELDS = {
    "bus", "vendor", "device", "subvendor", "subdevice", "model", "vendor_name", "driver", "upstream",
    "verified", "source", "ports", "modules", "echo_canceller", "firmware", "state", "unverified",
    "also_sold_as", "notes", "driver_note",
}
_REQUIRED = ("bus", "vendor", "device", "model", "vendor_name", "driver", "upstream", "verified", "source",
             "ports", "echo_canceller")


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message names the family, card and field."""


@dataclass(frozen=True)
class PortGroup:
    """Ports of one kind.  ``count`` is a number, a tuple of possible numbers, or None (depends on fit)."""

    kind: str
    count: int | tuple[int, ...] | None


@dataclass(frozen=True)
class Modules:
    """Slots of a modular analog card: the port count depends on what is plugged in."""

    slots: int
    ports_per_slot: int
    kinds: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class EchoCanceller:
    type: str
    module: str = ""


@dataclass(frozen=True)
class CardModel:
    """One catalogue entry: a bus ID (optionally narrowed by PCI subsystem IDs) and what it means."""

    family: str
    bus: str
    vendor: str
    device: str
    subvendor: str | None
    subdevice: str | None
    vendor_name: str
    model: str
    driver: str
    upstream: bool
    verified: bool
    source: str
    ports: tuple[PortGroup, ...]
    echo_canceller: EchoCanceller
    modules: Modules | None = None
    firmware: tuple[str, ...] = ()
    state: str | None = None
    unverified: tuple[str, ...] = ()
    also_sold_as: tuple[str, ...] = ()
    notes: str = ""
    driver_note: str = ""

    @property
    def id_string(self) -> str:
        """``vendor:device[/subvendor[:subdevice]]``, the notation dahdi_hardware's tables use."""
        text = f"{self.vendor}:{self.device}"
        if self.subvendor:
            text += f"/{self.subvendor}"
            if self.subdevice:
                text += f":{self.subdevice}"
        return text

    @property
    def specificity(self) -> int:
        return (self.subvendor is not None) + (self.subdevice is not None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (lists, not tuples), so a saved and reloaded inventory compares equal."""
        data = _jsonable(asdict(self))
        data["id"] = self.id_string
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Catalogue:
    """All known cards plus the vendors whose unknown devices are still worth reporting."""

    cards: tuple[CardModel, ...]
    telephony_vendors: dict[tuple[str, str], str] = field(default_factory=dict)

    def match(self, bus: str, vendor: str, device: str, subvendor: str | None = None,
              subdevice: str | None = None) -> CardModel | None:
        """The most specific entry matching these IDs, as the kernel's ID tables would pick."""
        vendor, device = normalize_id(vendor), normalize_id(device)
        subvendor = normalize_id(subvendor) if subvendor else None
        subdevice = normalize_id(subdevice) if subdevice else None
        best: CardModel | None = None
        for card in self.cards:
            if (card.bus, card.vendor, card.device) != (bus, vendor, device):
                continue
            if card.subvendor is not None and card.subvendor != subvendor:
                continue
            if card.subdevice is not None and card.subdevice != subdevice:
                continue
            if best is None or card.specificity > best.specificity:
                best = card
        return best

    def telephony_vendor(self, bus: str, vendor: str) -> str | None:
        """Name of a vendor known to make telephony hardware, or None."""
        return self.telephony_vendors.get((bus, normalize_id(vendor)))


def normalize_id(value: str) -> str:
    """``0xD161`` / ``D161`` / ``d161`` → ``d161`` (sysfs, udev properties and YAML all differ)."""
    text = str(value).strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    return text.zfill(4)


def _hex_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) != 4 or any(c not in "0123456789abcdef" for c in value):
        raise CatalogueError(f"{where}: expected 4 lowercase hex digits as a quoted string, got {value!r}")
    return value


def _ports(value: Any, where: str) -> tuple[PortGroup, ...]:
    if not isinstance(value, list):
        raise CatalogueError(f"{where}: ports must be a list of {{kind, count}}")
    groups = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"kind", "count"}:
            raise CatalogueError(f"{where}: each port group needs exactly 'kind' and 'count', got {item!r}")
        if item["kind"] not in PORT_KINDS:
            raise CatalogueError(f"{where}: port kind {item['kind']!r} is not one of {', '.join(PORT_KINDS)}")
        count = item["count"]
        if isinstance(count, list):
            if not count or not all(isinstance(n, int) and n > 0 for n in count):
                raise CatalogueError(f"{where}: port count list must hold positive numbers, got {count!r}")
            count = tuple(count)
        elif count is not None and not (isinstance(count, int) and count > 0):
            raise CatalogueError(f"{where}: port count must be a positive number, a list, or null, got {count!r}")
        groups.append(PortGroup(item["kind"], count))
    return tuple(groups)


def _modules(value: Any, where: str) -> Modules | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not {"slots", "ports_per_slot", "kinds"} <= set(value) \
            or not set(value) <= {"slots", "ports_per_slot", "kinds", "note"}:
        raise CatalogueError(f"{where}: modules needs slots, ports_per_slot, kinds (and optional note)")
    bad = [k for k in value["kinds"] if k not in PORT_KINDS]
    if bad:
        raise CatalogueError(f"{where}: module kinds {bad!r} are not port kinds")
    return Modules(int(value["slots"]), int(value["ports_per_slot"]), tuple(value["kinds"]), value.get("note", ""))


def _echo(value: Any, where: str) -> EchoCanceller:
    if not isinstance(value, dict) or "type" not in value or not set(value) <= {"type", "module"}:
        raise CatalogueError(f"{where}: echo_canceller needs 'type' (and optional 'module')")
    if value["type"] not in EC_TYPES:
        raise CatalogueError(f"{where}: echo_canceller type {value['type']!r} is not one of {', '.join(EC_TYPES)}")
    return EchoCanceller(value["type"], value.get("module", ""))


def _card(family: str, raw: dict[str, Any], where: str) -> CardModel:
    unknown = set(raw) - _CARD_FIELDS
    if unknown:
        raise CatalogueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    missing = [name for name in _REQUIRED if name not in raw]
    if missing:
        raise CatalogueError(f"{where}: missing field(s) {', '.join(missing)}")
    if raw["bus"] not in BUSES:
        raise CatalogueError(f"{where}: bus must be one of {', '.join(BUSES)}, got {raw['bus']!r}")
    for flag in ("upstream", "verified"):
        if not isinstance(raw[flag], bool):
            raise CatalogueError(f"{where}: {flag} must be true or false")
    state = raw.get("state")
    if state is not None and state not in ASTRIBANK_STATES:
        raise CatalogueError(f"{where}: state {state!r} is not one of {', '.join(ASTRIBANK_STATES)}")
    subvendor = raw.get("subvendor")
    subdevice = raw.get("subdevice")
    if subdevice is not None and subvendor is None:
        raise CatalogueError(f"{where}: subdevice given without subvendor")
    return CardModel(
        family=family,
        bus=raw["bus"],
        vendor=_hex_id(raw["vendor"], f"{where} vendor"),
        device=_hex_id(raw["device"], f"{where} device"),
        subvendor=_hex_id(subvendor, f"{where} subvendor") if subvendor is not None else None,
        subdevice=_hex_id(subdevice, f"{where} subdevice") if subdevice is not None else None,
        vendor_name=str(raw["vendor_name"]),
        model=str(raw["model"]),
        driver=str(raw["driver"]),
        upstream=raw["upstream"],
        verified=raw["verified"],
        source=str(raw["source"]),
        ports=_ports(raw["ports"], where),
        echo_canceller=_echo(raw["echo_canceller"], where),
        modules=_modules(raw.get("modules"), where),
        firmware=tuple(raw.get("firmware") or ()),
        state=state,
        unverified=tuple(raw.get("unverified") or ()),
        also_sold_as=tuple(raw.get("also_sold_as") or ()),
        notes=str(raw.get("notes", "")),
        driver_note=" ".join(str(raw.get("driver_note", "")).split()),
    )


def parse_catalogue(data: Any) -> Catalogue:
    """Build a Catalogue from the decoded YAML document, rejecting anything unexpected."""
    if not isinstance(data, dict) or data.get("schema") != 1:
        raise CatalogueError("catalogue: expected a mapping with 'schema: 1'")
    vendors: dict[tuple[str, str], str] = {}
    for i, item in enumerate(data.get("telephony_vendors") or []):
        where = f"telephony_vendors[{i}]"
        if not isinstance(item, dict) or set(item) != {"bus", "vendor", "name"} or item["bus"] not in BUSES:
            raise CatalogueError(f"{where}: expected {{bus, vendor, name}}")
        vendors[(item["bus"], _hex_id(item["vendor"], where))] = str(item["name"])
    cards: list[CardModel] = []
    seen: dict[tuple, str] = {}
    for i, fam in enumerate(data.get("families") or []):
        if not isinstance(fam, dict) or "family" not in fam or not isinstance(fam.get("cards"), list):
            raise CatalogueError(f"families[{i}]: needs 'family' and a 'cards' list")
        name = str(fam["family"])
        defaults = {k: v for k, v in fam.items() if k not in _FAMILY_ONLY}
        unknown = set(defaults) - _CARD_FIELDS
        if unknown:
            raise CatalogueError(f"family {name}: unknown field(s) {', '.join(sorted(unknown))}")
        for j, raw in enumerate(fam["cards"]):
            where = f"family {name} card {j}"
            if not isinstance(raw, dict):
                raise CatalogueError(f"{where}: expected a mapping")
            card = _card(name, {**defaults, **raw}, where)
            key = (card.bus, card.vendor, card.device, card.subvendor, card.subdevice)
            if key in seen:
                raise CatalogueError(f"{where}: ID {card.bus}:{card.id_string} is already listed in {seen[key]}")
            seen[key] = where
            cards.append(card)
    return Catalogue(tuple(cards), vendors)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load the catalogue from ``path``, or the one shipped in the package (cached)."""
    if path is None:
        return _default_catalogue()
    with open(path, encoding="utf-8") as handle:
        return parse_catalogue(yaml.safe_load(handle))


@lru_cache(maxsize=1)
def _default_catalogue() -> Catalogue:
    text = resources.files("hardware").joinpath("data/cards.yaml").read_text(encoding="utf-8")
    return parse_catalogue(yaml.safe_load(text))
