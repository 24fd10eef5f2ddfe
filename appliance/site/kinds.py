"""The registry of site object kinds: schema, model, key field and which fields are secrets.

Every generic service (store, delete, export, import, audit) walks this
table, so adding a kind of object is one entry here plus its schema and
model, not a new copy of the CRUD code.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.model import models
from appliance.site import schemas


@dataclass(frozen=True)
class Kind:
    name: str
    plural: str
    label: str
    schema: type[schemas.SiteObject]
    model: type[models.BaseModel]
    key: str
    secrets: tuple[str, ...] = ()

    def lookup_key(self, key):
        """``key`` (text from a URL or a form) as the key column holds it; None when it cannot be a key.

        Analog ports and spans are keyed by numbers: "7" finds channel 7, and "x" or a number too
        large for SQLite finds nothing instead of failing.
        """
        if self.schema.model_fields[self.key].annotation is not int:
            return key
        try:
            value = int(key)
        except (TypeError, ValueError):
            return None
        return value if 0 <= value < 2**31 else None

    def order_by(self):
        if self.name == "outbound_route":
            return (self.model.position, self.model.name)
        return (getattr(self.model, self.key),)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("extension", "extensions", "extension", schemas.Extension, models.Extension, "number",
             ("password", "voicemail_pin")),
        Kind("trunk", "trunks", "trunk", schemas.Trunk, models.Trunk, "name", ("password",)),
        Kind("voicemail_box", "voicemail_boxes", "voicemail box", schemas.VoicemailBox,
             models.VoicemailBox, "number", ("pin",)),
        Kind("ring_group", "ring_groups", "ring group", schemas.RingGroup, models.RingGroup, "number"),
        Kind("moh_class", "moh_classes", "music-on-hold class", schemas.MohClass, models.MohClass, "name"),
        Kind("announcement", "announcements", "announcement", schemas.Announcement,
             models.Announcement, "name"),
        Kind("queue", "queues", "queue", schemas.Queue, models.Queue, "number"),
        Kind("ivr", "ivrs", "IVR menu", schemas.Ivr, models.Ivr, "name"),
        Kind("time_condition", "time_conditions", "time condition", schemas.TimeCondition,
             models.TimeCondition, "name"),
        Kind("dahdi_trunk", "dahdi_trunks", "DAHDI trunk", schemas.DahdiTrunk, models.DahdiTrunk, "name"),
        Kind("analog_port", "analog_ports", "analog port", schemas.AnalogPort, models.AnalogPort, "channel"),
        Kind("span", "spans", "span", schemas.Span, models.Span, "span"),
        Kind("inbound_route", "inbound_routes", "inbound route", schemas.InboundRoute,
             models.InboundRoute, "name"),
        Kind("outbound_route", "outbound_routes", "outbound route", schemas.OutboundRoute,
             models.OutboundRoute, "name"),
    )
}
BY_PLURAL = {k.plural: k for k in KINDS.values()}


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind of object '{name}' (known: {', '.join(KINDS)})") from None
