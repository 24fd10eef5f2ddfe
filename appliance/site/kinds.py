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

from appliance.catalog import N_
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
        Kind("robot", "robots", "voice robot", schemas.Robot, models.Robot, "name"),
        Kind("time_condition", "time_conditions", "time condition", schemas.TimeCondition,
             models.TimeCondition, "name"),
        Kind("dahdi_trunk", "dahdi_trunks", "DAHDI trunk", schemas.DahdiTrunk, models.DahdiTrunk, "name"),
        Kind("analog_port", "analog_ports", "analog port", schemas.AnalogPort, models.AnalogPort, "channel"),
        Kind("span", "spans", "span", schemas.Span, models.Span, "span"),
        Kind("inbound_route", "inbound_routes", "inbound route", schemas.InboundRoute,
             models.InboundRoute, "name"),
        Kind("outbound_route", "outbound_routes", "outbound route", schemas.OutboundRoute,
             models.OutboundRoute, "name"),
        Kind("cluster_node", "cluster_nodes", "cluster node", schemas.ClusterNode, models.ClusterNode, "name"),
    )
}
BY_PLURAL = {k.plural: k for k in KINDS.values()}


def sentence_case(text: str) -> str:
    """``text`` with its first letter upper-case and the rest as written ("IVR menu" stays, unlike str.capitalize)."""
    return text[:1].upper() + text[1:]


# The label of a field, by its name in every kind; FIELD_LABELS_OF_KIND where one kind means something else by it.
# N_: in the console's catalog (appliance.catalog), shown in the reader's language by appliance.web.
FIELD_LABELS = {
    "number": N_("Number"),
    "name": N_("Name"),
    "password": N_("Password"),
    "voicemail": N_("Voicemail"),
    "voicemail_pin": N_("Voicemail PIN"),
    "pin": N_("PIN"),
    "email": N_("E-mail"),
    "recording": N_("Call recording"),
    "ring_seconds": N_("Ring time (seconds)"),
    "department": N_("Department"),
    "language": N_("Prompt language"),
    "options": N_("Advanced options"),
    "permitted_networks": N_("Permitted networks"),
    "accepted_risks": N_("Accepted risks"),
    "registration": N_("Register with the provider"),
    "host": N_("Host"),
    "port": N_("Port"),
    "username": N_("Username"),
    "codecs": N_("Codecs"),
    "max_channels": N_("Maximum channels"),
    "qualify_seconds": N_("Qualify every (seconds)"),
    "failover_seconds": N_("Failover after (seconds)"),
    "encryption": N_("Encryption (SRTP)"),
    "transport": N_("Transport"),
    "tls_ca": N_("Provider's CA certificate"),
    "strategy": N_("Ring strategy"),
    "members": N_("Members"),
    "fallback": N_("If nobody answers, go to"),
    "directory": N_("Directory"),
    "sort": N_("Play order"),
    "sound": N_("Sound file"),
    "destination": N_("Destination"),
    "escalation": N_("Escalation by skill"),
    "agent_ring_seconds": N_("Agent ring time (seconds)"),
    "wrapup_seconds": N_("Wrap-up time (seconds)"),
    "max_wait_seconds": N_("Maximum wait (seconds)"),
    "max_callers": N_("Maximum callers waiting"),
    "overflow": N_("When full or waited too long, go to"),
    "announce_position": N_("Announce the caller's position"),
    "announce_every_seconds": N_("Announce the position every (seconds)"),
    "moh_class": N_("Music on hold class"),
    "exit_voicemail": N_("Exit to voicemail box"),
    "autopause_after_missed": N_("Auto-pause after missed calls"),
    "dispositions": N_("Dispositions"),
    "disposition_required": N_("Disposition required before the next call"),
    "callback": N_("Offer a callback that keeps the caller's place (press 1)"),
    "callback_offer_seconds": N_("Offer the callback after, and every (seconds)"),
    "callback_retries": N_("Callback: further tries when the caller does not answer"),
    "callback_retry_seconds": N_("Callback: wait between tries (seconds)"),
    "survey": N_("Satisfaction survey after the call (1-5)"),
    "greeting": N_("Greeting sound"),
    "greeting_text": N_("Greeting text (spoken)"),
    "greeting_voice": N_("Greeting voice"),
    "timeout_seconds": N_("Wait for a key (seconds)"),
    "invalid_retries": N_("Replays after a wrong key"),
    "timeout_retries": N_("Replays after no key"),
    "invalid_sound": N_("Invalid-key sound"),
    "direct_dial": N_("Callers may dial an extension"),
    "timeout_destination": N_("On no key, go to"),
    "invalid_destination": N_("On an invalid key, go to"),
    "timezone": N_("Time zone"),
    "ranges": N_("Open hours"),
    "holidays": N_("Holidays"),
    "open_destination": N_("When open, go to"),
    "closed_destination": N_("When closed, go to"),
    "group": N_("Channel group"),
    "hunting": N_("Channel hunting"),
    "caller_id": N_("Caller ID number"),
    "caller_id_name": N_("Caller ID name"),
    "least_cost": N_("Least-cost routing"),
    "channel": N_("DAHDI channel"),
    "kind": N_("Port type"),
    "card": N_("Card"),
    "extension": N_("Extension"),
    "trunk": N_("DAHDI trunk"),
    "echo_cancel": N_("Echo cancellation"),
    "span": N_("Span"),
    "source": N_("Span source"),
    "loc": N_("Loopback key:id"),
    "local_span": N_("Span on the card"),
    "line_type": N_("Line type"),
    "switch_type": N_("Switch type"),
    "framing": N_("Framing"),
    "coding": N_("Line coding"),
    "crc4": "CRC-4",
    "timing": N_("Clock priority"),
    "lbo": N_("Line build-out (LBO)"),
    "side": N_("Side"),
    "did": N_("DID (number dialled)"),
    "cid": N_("Caller ID filter"),
    "position": N_("Position"),
    "patterns": N_("Dial patterns"),
    "trunks": N_("Trunks (failover order)"),
    "dial_permission": N_("May dial"),
    "max_outbound_calls": N_("Outbound calls at once (0: no limit)"),
    "daily_minutes": N_("Outbound minutes a day (0: no cap)"),
    "monthly_minutes": N_("Outbound minutes a month (0: no cap)"),
    "monthly_budget": N_("Monthly budget (empty: none)"),
    "address": N_("Address"),
    "standby": N_("Standby node"),
    "queues": N_("Queues"),
}
FIELD_LABELS_OF_KIND = {
    ("extension", "password"): N_("SIP password"),
    ("trunk", "match"): N_("Accept calls from"),
    ("queue", "members"): N_("Agents"),
    ("queue", "recording"): N_("Call recording"),
    ("queue", "service_level_seconds"): N_("Service level: answered within (seconds)"),
    ("queue", "service_level_target"): N_("Service level target (%)"),
    ("queue", "alert_longest_wait_seconds"): N_("Alert: longest wait above (seconds, 0: off)"),
    ("queue", "alert_callers_waiting"): N_("Alert: callers waiting above (0: off)"),
    ("queue", "alert_min_agents"): N_("Alert: agents logged in below (0: off)"),
    ("ivr", "options"): N_("Menu keys"),
    ("robot", "language"): N_("Answers spoken in"),
    ("robot", "entries"): N_("Questions and answers"),
    ("robot", "handover"): N_("Callers who ask for a person go to"),
    ("robot", "fallback"): N_("If the robot service is down, go to"),
    ("dahdi_trunk", "destination"): N_("Incoming calls go to"),
    ("cluster_node", "queues"): N_("Queues that live on this node"),
}

# What a choice of a select is called; the stored value stays the identifier.  Words go through the console's
# catalog (N_, shown translated by appliance.web); technical names (E1, HDB3, ...) read the same in every language.
CHOICE_LABELS = {
    "never": N_("Never"), "always": N_("Always"), "on_demand": N_("On demand (feature code)"),
    "ringall": N_("Ring all"), "hunt": N_("Hunt (one after another)"), "leastrecent": N_("Least recently called"),
    "fewestcalls": N_("Fewest calls"), "rrmemory": N_("Round robin (remembers the last)"), "random": N_("Random"),
    "linear": N_("In order (first member first)"), "alpha": N_("Alphabetical"),
    "en": N_("English"), "en-us": N_("English (US)"), "en-gb": N_("English (UK)"), "fr": N_("French"),
    "de": N_("German"),
    "es": N_("Spanish"), "it": N_("Italian"), "nl": N_("Dutch"), "pt": N_("Portuguese"),
    "zh": N_("Chinese (Mandarin)"), "cmn": N_("Mandarin"), "yue": N_("Cantonese"),
    "": N_("Same as the site"),  # an IVR's or queue's prompt language that follows the site's
    "ascending": N_("Ascending"), "descending": N_("Descending"),
    "round_robin_ascending": N_("Round robin, ascending"),
    "round_robin_descending": N_("Round robin, descending"),
    "fxs": N_("FXS (a phone plugs in)"), "fxo": N_("FXO (a telephone line plugs in)"),
    "card": N_("Card"), "loc": N_("Loopback (lab)"), "e1": "E1", "t1": "T1",
    "national": N_("National ISDN-2"), "euroisdn": "EuroISDN", "dms100": "DMS-100", "4ess": "4ESS", "5ess": "5ESS",
    "ni1": N_("National ISDN-1"), "qsig": "Q.SIG",
    "ccs": "CCS", "cas": "CAS", "esf": "ESF", "d4": N_("D4 (superframe)"), "hdb3": "HDB3", "ami": "AMI", "b8zs": "B8ZS",
    "network": N_("Network (we are the exchange)"), "cpe": N_("CPE (we are the customer)"),
    "plain": N_("Plain (no encryption)"), "preferred": N_("Preferred (SRTP when the other side can, else plain)"),
    "required": N_("Required (SRTP or the call is refused)"), "udp": "UDP", "tls": "TLS",
}


def field_label(kind_name: str, field: str) -> str:
    """The label people read for ``field`` of ``kind_name``.

    A field nobody named yet falls back to its identifier in words (a test checks that none does)."""
    return (FIELD_LABELS_OF_KIND.get((kind_name, field)) or FIELD_LABELS.get(field)
            or sentence_case(field.replace("_", " ")))


# Where one field's choices mean something else than the same word elsewhere ("national" is a dial
# permission here, an ISDN switch type on a span).
_DIAL_PERMISSIONS = {
    "internal": N_("Internal numbers only"), "local": N_("Local calls"),
    "national": N_("National (long distance)"), "mobile": N_("National and mobile"),
    "international": N_("International"), "premium": N_("Everything, premium rate too"),
}
# the site's default permission and its out-of-hours one choose among the same levels
CHOICE_LABELS_OF_FIELD = {(field, value): label for value, label in _DIAL_PERMISSIONS.items()
                          for field in ("dial_permission", "dial_permission_default", "out_of_hours_permission")}
CHOICE_LABELS_OF_FIELD.update({("budget_action", "warn"): N_("Warn only"),
                               ("budget_action", "block"): N_("Warn, then block outbound calls"),
                               ("supervisor_monitoring", "allowed"): N_("Allowed"),
                               ("supervisor_monitoring", "forbidden"): N_("Forbidden")})


def choice_label(value: str, field: str = "") -> str:
    """What a select shows for the stored ``value`` (of ``field``); an unnamed value is shown as it is stored."""
    return CHOICE_LABELS_OF_FIELD.get((field, value)) or CHOICE_LABELS.get(value, value)


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown kind of object '{name}' (known: {', '.join(KINDS)})") from None
