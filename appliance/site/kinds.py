"""The registry of site object kinds: schema, model, key field, which fields are secrets, and their human names.

Every generic service (store, delete, export, import, audit) walks this
table, so adding a kind of object is one entry here plus its schema and
model, not a new copy of the CRUD code.

The words people read for kinds, fields and choices live here too, in one
place, so that the console, the CLI and the messages say "IVR menus",
"DAHDI trunks" and "Wrap-up time" rather than the identifiers they are
stored under ("ivrs", "dahdi_trunks", "wrapup_seconds"): a label is
written once, with its acronyms cased, never derived by capitalising an
identifier (which is how "Ivr menu" and "Moh class" reached the console).
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
    plural_label: str = ""  # when the plural is not the label + "s"

    @property
    def plural_text(self) -> str:
        """The plural as written inside a sentence: "IVR menus", "voicemail boxes"."""
        return self.plural_label or self.label + "s"

    @property
    def title(self) -> str:
        """The plural as a page title: "IVR menus", "Voicemail boxes", "DAHDI trunks"."""
        return sentence_case(self.plural_text)

    @property
    def capital_label(self) -> str:
        """The label starting a sentence or a title: "IVR menu", "Music-on-hold class"."""
        return sentence_case(self.label)

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
             models.VoicemailBox, "number", ("pin",), "voicemail boxes"),
        Kind("ring_group", "ring_groups", "ring group", schemas.RingGroup, models.RingGroup, "number"),
        Kind("moh_class", "moh_classes", "music-on-hold class", schemas.MohClass, models.MohClass, "name",
             plural_label="music-on-hold classes"),
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


def sentence_case(text: str) -> str:
    """``text`` with its first letter upper-case and the rest as written ("IVR menu" stays, unlike str.capitalize)."""
    return text[:1].upper() + text[1:]


# The label of a field, by its name in every kind; FIELD_LABELS_OF_KIND where one kind means something else by it.
FIELD_LABELS = {
    "number": "Number",
    "name": "Name",
    "password": "Password",
    "voicemail": "Voicemail",
    "voicemail_pin": "Voicemail PIN",
    "pin": "PIN",
    "email": "E-mail",
    "recording": "Call recording",
    "ring_seconds": "Ring time (seconds)",
    "options": "Advanced options",
    "permitted_networks": "Permitted networks",
    "accepted_risks": "Accepted risks",
    "registration": "Register with the provider",
    "host": "Host",
    "port": "Port",
    "username": "Username",
    "codecs": "Codecs",
    "max_channels": "Maximum channels",
    "qualify_seconds": "Qualify every (seconds)",
    "failover_seconds": "Failover after (seconds)",
    "strategy": "Ring strategy",
    "members": "Members",
    "fallback": "If nobody answers, go to",
    "directory": "Directory",
    "sort": "Play order",
    "sound": "Sound file",
    "destination": "Destination",
    "escalation": "Escalation by skill",
    "agent_ring_seconds": "Agent ring time (seconds)",
    "wrapup_seconds": "Wrap-up time (seconds)",
    "max_wait_seconds": "Maximum wait (seconds)",
    "max_callers": "Maximum callers waiting",
    "overflow": "When full or waited too long, go to",
    "announce_position": "Announce the caller's position",
    "announce_every_seconds": "Announce the position every (seconds)",
    "moh_class": "Music on hold class",
    "exit_voicemail": "Exit to voicemail box",
    "autopause_after_missed": "Auto-pause after missed calls",
    "greeting": "Greeting sound",
    "greeting_text": "Greeting text (spoken)",
    "greeting_voice": "Greeting voice",
    "timeout_seconds": "Wait for a key (seconds)",
    "invalid_retries": "Replays after a wrong key",
    "timeout_retries": "Replays after no key",
    "invalid_sound": "Invalid-key sound",
    "direct_dial": "Callers may dial an extension",
    "timeout_destination": "On no key, go to",
    "invalid_destination": "On an invalid key, go to",
    "timezone": "Time zone",
    "ranges": "Open hours",
    "holidays": "Holidays",
    "open_destination": "When open, go to",
    "closed_destination": "When closed, go to",
    "group": "Channel group",
    "hunting": "Channel hunting",
    "caller_id": "Caller ID number",
    "caller_id_name": "Caller ID name",
    "channel": "DAHDI channel",
    "kind": "Port type",
    "card": "Card",
    "extension": "Extension",
    "trunk": "DAHDI trunk",
    "echo_cancel": "Echo cancellation",
    "span": "Span",
    "source": "Span source",
    "loc": "Loopback key:id",
    "local_span": "Span on the card",
    "line_type": "Line type",
    "switch_type": "Switch type",
    "framing": "Framing",
    "coding": "Line coding",
    "crc4": "CRC-4",
    "timing": "Clock priority",
    "lbo": "Line build-out (LBO)",
    "side": "Side",
    "did": "DID (number dialled)",
    "cid": "Caller ID filter",
    "position": "Position",
    "patterns": "Dial patterns",
    "trunks": "Trunks (failover order)",
}
FIELD_LABELS_OF_KIND = {
    ("extension", "password"): "SIP password",
    ("trunk", "match"): "Accept calls from",
    ("queue", "members"): "Agents",
    ("queue", "recording"): "Call recording",
    ("queue", "service_level_seconds"): "Service level: answered within (seconds)",
    ("queue", "service_level_target"): "Service level target (%)",
    ("ivr", "options"): "Menu keys",
    ("dahdi_trunk", "destination"): "Incoming calls go to",
}

# What a choice of a select is called; the stored value stays the identifier.
CHOICE_LABELS = {
    "never": "Never", "always": "Always", "on_demand": "On demand (feature code)",
    "ringall": "Ring all", "hunt": "Hunt (one after another)", "leastrecent": "Least recently called",
    "fewestcalls": "Fewest calls", "rrmemory": "Round robin (remembers the last)", "random": "Random",
    "linear": "In order (first member first)", "alpha": "Alphabetical",
    "en": "English", "en-us": "English (US)", "en-gb": "English (UK)", "fr": "French", "de": "German",
    "es": "Spanish", "it": "Italian", "nl": "Dutch", "pt": "Portuguese",
    "ascending": "Ascending", "descending": "Descending", "round_robin_ascending": "Round robin, ascending",
    "round_robin_descending": "Round robin, descending",
    "fxs": "FXS (a phone plugs in)", "fxo": "FXO (a telephone line plugs in)",
    "card": "Card", "loc": "Loopback (lab)", "e1": "E1", "t1": "T1",
    "national": "National ISDN-2", "euroisdn": "EuroISDN", "dms100": "DMS-100", "4ess": "4ESS", "5ess": "5ESS",
    "ni1": "National ISDN-1", "qsig": "Q.SIG",
    "ccs": "CCS", "cas": "CAS", "esf": "ESF", "d4": "D4 (superframe)", "hdb3": "HDB3", "ami": "AMI", "b8zs": "B8ZS",
    "network": "Network (we are the exchange)", "cpe": "CPE (we are the customer)",
}


def field_label(kind_name: str, field: str) -> str:
    """The label people read for ``field`` of ``kind_name``.

    A field nobody named yet falls back to its identifier in words (a test checks that none does)."""
    return (FIELD_LABELS_OF_KIND.get((kind_name, field)) or FIELD_LABELS.get(field)
            or sentence_case(field.replace("_", " ")))


def choice_label(value: str) -> str:
    """What a select shows for the stored ``value``; an unnamed value is shown as it is stored."""
    return CHOICE_LABELS.get(value, value)


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind of object '{name}' (known: {', '.join(KINDS)})") from None
