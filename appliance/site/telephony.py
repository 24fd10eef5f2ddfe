"""What the telephony cards are and what is configured on them: one overview for the console and the CLI.

The last hardware scan (``linebox hardware scan``) says which cards are in the box; the site says
which spans and analog ports use them.  A card named by the site but missing from the scan, and
spans or ports tied to no card (dynamic loc spans, ports known by channel only), are listed too,
so nothing configured is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from appliance.catalog import N_
from appliance.errors import Message
from appliance.site import schemas, service
from hardware import detect
from hardware.dahdi_config import SpanLayout, dial_string, span_layouts


@dataclass
class CardView:
    key: str
    device: detect.DetectedDevice | None  # None: named by the site, not found by the last scan
    spans: list = field(default_factory=list)
    ports: list = field(default_factory=list)


@dataclass
class Overview:
    scanned: bool
    cards: list[CardView]
    loose_spans: list
    loose_ports: list
    trunks: list
    layouts: dict[int, SpanLayout]

    def dial_string(self, trunk) -> str:
        return dial_string(trunk)

    def members(self, trunk) -> list[Message]:
        """The lines of a DAHDI trunk, as a technician names them."""
        spans = [Message(N_("span %(number)s"), number=s.span)
                 for s in [*(s for c in self.cards for s in c.spans), *self.loose_spans] if s.trunk == trunk.name]
        ports = [Message(N_("channel %(number)s"), number=p.channel)
                 for p in [*(p for c in self.cards for p in c.ports), *self.loose_ports] if p.trunk == trunk.name]
        return spans + ports


def overview(inventory_file: Path) -> Overview:
    inventory = detect.load(inventory_file)
    ports = cast(list[schemas.AnalogPort], service.list_objects("analog_port"))
    spans = cast(list[schemas.Span], service.list_objects("span"))
    by_key = inventory.by_key()
    named = sorted({p.card for p in ports if p.card} | {s.card for s in spans if s.card})
    keys = [d.key for d in inventory.devices] + [c for c in named if c not in by_key]
    cards = [CardView(key, by_key.get(key), [s for s in spans if s.card == key], [p for p in ports if p.card == key])
             for key in keys]
    layouts = {lay.span.span: lay for lay in span_layouts(spans, ports, inventory)}
    return Overview(inventory_file.exists(), cards, [s for s in spans if not s.card], [p for p in ports if not p.card],
                    service.list_objects("dahdi_trunk"), layouts)
