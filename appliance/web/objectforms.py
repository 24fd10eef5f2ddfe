"""Forms for site objects, generated from their pydantic schemas: fields, text formats for lists, error placement.

No rule about what is valid lives here: the form is turned into the dict
``service.save_object`` expects, and the service (schema, then the checks
across the whole site) decides.  This module only knows

* which input to show for a schema field: a text input, a number, a
  checkbox for a ``bool``, a select for a ``Literal``, a password input for
  a secret, a select of existing destinations, or a textarea for a list or
  a dict, written one item per line in a simple format (``LineFormat``);
* how to read those inputs back, keeping exactly what was typed so a page
  with an error shows it again;
* where each ``Problem`` the service reports belongs: next to the field it
  names (``extension.number``, ``outbound_route.patterns.1.match``,
  ``ring group 600 members``), or at the top of the form.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from functools import cache

from flask_babel import gettext
from pydantic import BaseModel

from appliance.catalog import N_
from appliance.errors import Message, Problem
from appliance.site import queries, schemas
from appliance.site.checks import describe_destination, destination_fields
from appliance.site.kinds import KINDS, choice_label, field_label
from appliance.web.i18n import message_text

# Above this many destinations a select is too long to use (and to send): a text input with suggestions instead.
DESTINATION_SELECT_LIMIT = 1000

HINTS = {
    ("extension", "number"): N_("2 to 8 digits."),
    ("extension", "recording"): N_("Record calls never, always, or when the user dials the feature code."),
    ("trunk", "name"): N_("Lower-case letters, digits, '-' and '_', starting with a letter."),
    ("trunk", "host"): N_("Host name or IP address of the provider or gateway."),
    ("trunk", "username"): N_("Needed when the trunk registers."),
    ("trunk", "max_channels"): N_("0 = no limit."),
    ("trunk", "qualify_seconds"): N_("0 = never check; a dead trunk is skipped at once when checked."),
    ("trunk", "transport"): N_("TLS: SIP to the provider is encrypted and its certificate verified "
                               "(port usually 5061)."),
    ("trunk", "tls_ca"): N_("The provider's CA certificate, pasted as a PEM text; empty = the public CAs "
                            "Debian trusts."),
    ("trunk", "encryption"): N_("SRTP on this trunk's calls; the site's setting unless chosen here."),
    ("extension", "encryption"): N_("Preferred: the phone may use SRTP; required: calls without SRTP are "
                                    "refused. The site's setting unless chosen here."),
    ("trunk", "failover_seconds"): N_("A call this trunk has not started ringing by then tries the route's next trunk "
                                      "(not where this trunk is the last). 0 = wait as long as SIP does (32 s)."),
    ("inbound_route", "did"): N_("A number or an Asterisk pattern such as _0212XXXXXXX; empty = any."),
    ("inbound_route", "cid"): N_("Only calls from this number or pattern; empty = any caller."),
    ("outbound_route", "position"): N_("Routes are tried from the lowest position up."),
    ("outbound_route", "caller_id"): N_("Number sent to the provider; empty = the extension's own."),
    ("outbound_route", "caller_id_name"): N_("Name sent with that number (the company's); empty = no name, or the "
                                             "extension's own when the route sends the extension's number."),
    ("outbound_route", "least_cost"): N_("Try the trunk whose rate table prices the number cheapest first (per-minute "
                                         "rate, then connection fee); the trunks' order above is kept for equal "
                                         "prices, for trunks with no rate, and for failover."),
    ("ring_group", "strategy"): N_("Ring all: every member at once; hunt: one member after another, in order."),
    ("time_condition", "timezone"): N_("For example Europe/Istanbul or UTC."),
    ("moh_class", "directory"): N_("Absolute path of the folder holding the music files."),
    ("announcement", "sound"): N_("Sound name without its file extension, for example custom/welcome."),
    ("ivr", "invalid_retries"): N_("How many wrong keys a caller may press and hear the menu again (0 to 5); "
                                   "the next wrong key goes to the invalid destination. Counted apart from no key: "
                                   "with 2 and 2 the menu plays at most five times."),
    ("ivr", "timeout_retries"): N_("How many times a caller who pressed nothing hears the menu again (0 to 5); "
                                   "the next silence goes to the timeout destination. Counted apart from wrong keys."),
    ("queue", "service_level_seconds"): N_("A call answered within this wait counts as in service level "
                                           "(reports, wallboard)."),
    ("queue", "service_level_target"): N_("Below this service level the wallboard shows the queue in red and an "
                                          "alert."),
    ("queue", "alert_longest_wait_seconds"): N_("The wallboard shows an alert while a caller has waited longer "
                                                "than this."),
    ("queue", "alert_callers_waiting"): N_("The wallboard shows an alert while more callers than this wait."),
    ("queue", "alert_min_agents"): N_("The wallboard shows an alert while fewer agents than this are logged in "
                                      "(paused ones count; an unreachable phone does not)."),
}

# Text fields of several lines, kept as typed (a PEM certificate): a textarea, not a one-line input.
TEXT_BLOCKS = {("trunk", "tls_ca")}


class LineError(ValueError):
    """One line of a textarea that cannot be read; the message says what the line should look like."""


@dataclass(frozen=True)
class LineFormat:
    """How one list item (or dict entry) is written on one line of a textarea."""

    help: str
    example: str

    def parse(self, line: str):
        return line

    def format(self, item) -> str:
        return str(item)


@dataclass(frozen=True)
class WordsFormat(LineFormat):
    """Plain values: one per line (commas or spaces also separate them)."""

    def split(self, line: str) -> list[str]:
        return [word for word in re.split(r"[,\s]+", line) if word]


@dataclass(frozen=True)
class PatternFormat(LineFormat):
    def parse(self, line: str) -> dict:
        parts = [part.strip() for part in line.split("|")]
        if len(parts) > 3:
            raise LineError(Message(N_("write match|strip|prepend (three parts at most)")))
        match, strip, prepend = [*parts, "", ""][:3]
        return {"match": match, "strip": strip or 0, "prepend": prepend}

    def format(self, item) -> str:
        item = _as_dict(item)
        out = [item["match"], str(item.get("strip", 0)), item.get("prepend", "")]
        while len(out) > 1 and out[-1] in ("", "0"):
            out.pop()
        return "|".join(out)


@dataclass(frozen=True)
class RangeFormat(LineFormat):
    _RE = re.compile(r"^(\S+)\s+(\S+?)\s*-\s*(\S+)$")

    def parse(self, line: str) -> dict:
        m = self._RE.match(line)
        if not m:
            raise LineError(Message(N_("write days and hours like mon-fri 09:00-17:00")))
        return {"days": m.group(1), "start": m.group(2), "end": m.group(3)}

    def format(self, item) -> str:
        item = _as_dict(item)
        return f"{item['days']} {item['start']}-{item['end']}"


@dataclass(frozen=True)
class HolidayFormat(LineFormat):
    def parse(self, line: str) -> dict:
        date, _, name = line.partition(" ")
        return {"date": date, "name": name.strip()} if name.strip() else {"date": date}

    def format(self, item) -> str:
        item = _as_dict(item)
        return f"{item['date']} {item.get('name', '')}".rstrip()


@dataclass(frozen=True)
class IvrOptionFormat(LineFormat):
    """``9 language:en`` (the caller's choice of language, then the menu again), ``1 queue:700``, or both:
    ``9 language:en queue:700``."""

    def parse(self, line: str) -> dict:
        digit, *rest = line.split() or [""]
        item: dict = {"digit": digit}
        for part in rest:
            key = "language" if part.startswith("language:") else "destination"
            if key in item or len(rest) > 2:
                raise LineError(Message(N_("write the digit, then where it goes and/or language:en or language:zh")))
            item[key] = part[len("language:"):] if key == "language" else part
        return item

    def format(self, item) -> str:
        item = _as_dict(item)
        parts = [item["digit"]]
        if item.get("language"):
            parts.append(f"language:{item['language']}")
        if item.get("destination"):
            parts.append(item["destination"])
        return " ".join(parts)


@dataclass(frozen=True)
class OptionFormat(LineFormat):
    def parse(self, line: str) -> tuple[str, str]:
        key, sep, value = line.partition("=")
        if not sep:
            raise LineError(Message(N_("write key=value")))
        return key.strip(), value.strip()

    def format(self, item) -> str:
        key, value = item
        return f"{key}={value}"


@dataclass(frozen=True)
class FieldsFormat(LineFormat):
    """An item written as its fields in schema order, split by ``sep`` (None: spaces); trailing defaults may go."""

    fields: tuple[str, ...] = ()
    defaults: tuple[tuple[str, str], ...] = ()  # fields that may be left out, with the text of their default
    sep: str | None = None

    def parse(self, line: str) -> dict:
        parts = [p.strip() for p in line.split(self.sep)] if self.sep else line.split()
        if len(parts) > len(self.fields):
            raise LineError(Message(N_("write %(shape)s (%(count)s parts at most)"), shape=self._shape(),
                                    count=len(self.fields)))
        optional = dict(self.defaults)
        missing = [name for name in self.fields[len(parts):] if name not in optional]
        if missing:
            raise LineError(Message(N_("write %(shape)s (%(fields)s missing)"), shape=self._shape(),
                                    fields=", ".join(missing)))
        return dict(zip(self.fields, parts, strict=False))

    def format(self, item) -> str:
        item = _as_dict(item)
        out = [str(item[name]) for name in self.fields]
        optional = dict(self.defaults)
        while len(out) > 1 and self.fields[len(out) - 1] in optional and out[-1] == optional[self.fields[len(out) - 1]]:
            out.pop()
        return (self.sep or " ").join(out)

    def _shape(self) -> str:
        return (self.sep or " ").join(self.fields)


def _fields_format(model: type[BaseModel], sep: str | None = "|", help_text: str = "",
                   example: str = "") -> FieldsFormat:
    """The format of a list item's model: its fields in order, optional ones last and omissible."""
    names = tuple(model.model_fields)
    defaults = tuple((name, str(info.get_default(call_default_factory=True))) for name, info in
                     model.model_fields.items() if not info.is_required())
    shape = (sep or " ").join(names)
    return FieldsFormat(help_text or f"One per line: {shape}.", example or shape, names, defaults, sep)


_DESTINATIONS_TEXT = ("hangup, extension:N, ringgroup:N, voicemail:N, queue:N (a queue or ring group may also be "
                      "named by its name: queue:Orders), timecondition:NAME, announcement:NAME or ivr:NAME")
ITEM_FORMATS: dict[type, LineFormat] = {
    schemas.DialPattern: PatternFormat(
        N_("One pattern per line: match|strip|prepend. match is a number or an Asterisk pattern "
           "(_9NXXXXXX); strip removes that many digits from the front; prepend adds digits. "
           "strip and prepend may be left out."), "_9NXXXXXX|1\n_00X.|0|+"),
    schemas.TimeRange: RangeFormat(
        N_("One range per line: days hours, for example mon-fri 09:00-17:00 or sat 10:00-13:00. The end is the "
           "closing time (closed from 17:00:00); 24:00 is open until midnight."),
        "mon-fri 09:00-17:00\nsat 10:00-24:00"),
    schemas.Holiday: HolidayFormat(
        N_("One date per line (closed all day): 2026-12-25 Christmas. The name may be left out."),
        "2026-01-01 New year\n2026-12-25 Christmas"),
}
if hasattr(schemas, "IvrOption"):  # call-center kinds
    ITEM_FORMATS[schemas.IvrOption] = IvrOptionFormat(
        N_("One option per line: the digit, a space, and where it goes: hangup, extension:N, ringgroup:N, "
           "voicemail:N, queue:N (a queue or ring group may also be named by its name: queue:Orders), "
           "timecondition:NAME, announcement:NAME or ivr:NAME; or language:en or language:zh, the caller's "
           "choice of language for the prompts from then on (the menu is played again)."),
        "1 ringgroup:600\n2 queue:500\n0 extension:100\n9 language:en")
if hasattr(schemas, "QueueMember"):
    ITEM_FORMATS[schemas.QueueMember] = _fields_format(
        schemas.QueueMember, None, N_("One agent per line: extension number, then optionally a penalty 0-10 "
                                      "(skill level: 0 is asked first)."), "100\n101 0\n102 2")
if hasattr(schemas, "EscalationStep"):
    ITEM_FORMATS[schemas.EscalationStep] = _fields_format(
        schemas.EscalationStep, None, N_("One step per line: after_seconds max_penalty. After a caller waited "
                                         "that long, agents up to that penalty may take the call; in rising order "
                                         "of time."), "30 1\n90 5")
if hasattr(schemas, "Disposition"):
    ITEM_FORMATS[schemas.Disposition] = _fields_format(
        schemas.Disposition, "|", N_("One disposition (wrap-up code) per line, as agents see it: up to 40 "
                                     "characters."), "Sale\nComplaint\nCall back")
if hasattr(schemas, "RobotEntry"):
    ITEM_FORMATS[schemas.RobotEntry] = _fields_format(
        schemas.RobotEntry, "|", N_("One question per line: the ways callers ask it, separated by ';' | the answer "
                                    "the robot speaks | where the call goes then (hangup, queue:N, ivr:NAME, ...; "
                                    "left empty: the robot listens for another question) | optionally a recording "
                                    "uploaded on the Sounds page (custom/NAME), played instead of the text."),
        "what are your opening hours; when are you open|We are open Monday to Friday, nine to five.|hangup\n"
        "where is your office; what is your address|Our office is at 1 Main Street.|\n"
        "how do I find you||hangup|custom/directions")
OPTION_FORMAT = OptionFormat(N_("One option per line: key=value (extra Asterisk settings, checked at apply)."),
                             "direct_media=no")
LIST_HINTS = {
    ("trunk", "codecs"): N_("One codec per line, most preferred first: ulaw, alaw, g722, gsm, g729, opus."),
    ("trunk", "match"): N_("One address, network (10.0.0.0/24) or address:port per line; "
                           "calls from these are taken as coming from this trunk."),
    ("ring_group", "members"): N_("One extension number per line; with hunt, rung in this order."),
    ("extension", "permitted_networks"): N_("One address or network (203.0.113.7, 198.51.100.0/24) per line: the "
                                            "phone may register and call from these only. Empty: the site's local "
                                            "networks (Settings)."),
    ("extension", "accepted_risks"): N_("Risky settings you agree to, one per line (the message refusing one names "
                                        "it): open_network, trust_id_inbound, message_context, "
                                        "allow_unauthenticated_options, subscribe_context."),
    ("trunk", "accepted_risks"): N_("Risky settings you agree to, one per line (the message refusing one names it): "
                                    "open_match, trust_id_inbound, message_context, allow_unauthenticated_options, "
                                    "subscribe_context."),
    ("outbound_route", "trunks"): N_("One trunk name per line, in failover order: the first is tried first; "
                                     "the next is used when it is unreachable, congested or full."),
    ("cluster_node", "queues"): N_("One queue number per line: the queues that live on this node. A queue lives on "
                                   "one node, and an agent's queues on the same node."),
}

# lists whose order matters and whose items are names: shown as a list with up/down buttons, with their hint
ORDERED = {("outbound_route", "trunks"): N_("Tried from the top: the next trunk is used when one is unreachable, "
                                            "congested or full. Move a trunk with its up and down buttons.")}

# list fields naming objects of another kind: the form lists the existing ones (when there are not too many)
REFERENCES = {("outbound_route", "trunks"): "trunk"}
MAX_REFERENCES_SHOWN = 50


def references(kind: str) -> dict[str, list[str]]:
    """For each field that names other objects, the keys that exist now (to show next to it)."""
    out = {}
    for (owner, name), other in REFERENCES.items():
        if owner == kind:
            keys = queries.keys(other)
            out[name] = keys[:MAX_REFERENCES_SHOWN] + (["…"] if len(keys) > MAX_REFERENCES_SHOWN else [])
    return out


def _as_dict(item) -> dict:
    return item.model_dump() if isinstance(item, BaseModel) else dict(item)


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    widget: str  # text | number | checkbox | select | password | destination | lines | options | block
    required: bool = False
    choices: tuple[str, ...] = ()
    hint: str = ""
    line_format: LineFormat | None = None
    secret: bool = False
    ordered: bool = False  # a "lines" field shown as a list with up/down buttons (failover order)

    @property
    def multiline(self) -> bool:
        return self.widget in ("lines", "options")

    @property
    def lines(self) -> LineFormat:
        """The line format of a multiline field (every "lines" and "options" field is built with one)."""
        if self.line_format is None:
            raise TypeError(f"{self.name} is not a multiline field")
        return self.line_format


def _literal_choices(annotation) -> tuple[str, ...] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    return None


def _strip_annotated(annotation):
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _build_field(kind: str, name: str, info) -> FormField:
    k = KINDS[kind]
    annotation = _strip_annotated(info.annotation)
    origin = typing.get_origin(annotation)
    label = field_label(kind, name)
    common = {"name": name, "label": label, "required": info.is_required(), "hint": HINTS.get((kind, name), "")}
    if name in k.secrets:
        return FormField(widget="password", secret=True, **common)
    if annotation is bool:
        return FormField(widget="checkbox", **common)
    choices = _literal_choices(annotation)
    if choices:
        return FormField(widget="select", choices=choices, **common)
    if annotation in (int, float):
        return FormField(widget="number", **common)
    if name in destination_fields(kind):
        return FormField(widget="destination", **common)
    if origin is list:
        item = _strip_annotated(typing.get_args(annotation)[0])
        if isinstance(item, type) and issubclass(item, BaseModel):
            fmt = ITEM_FORMATS.get(item) or _fields_format(item)
        else:
            choices = _literal_choices(item)
            fmt = WordsFormat(LIST_HINTS.get((kind, name), "One per line."), "\n".join(choices or ()))
        return FormField(widget="lines", line_format=fmt, ordered=(kind, name) in ORDERED,
                         **{**common, "hint": ORDERED.get((kind, name)) or common["hint"] or fmt.help})
    if origin is dict:
        return FormField(widget="options", line_format=OPTION_FORMAT, **{**common, "hint": OPTION_FORMAT.help})
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"{kind}.{name}: optional fields have no form widget yet")
    if (kind, name) in TEXT_BLOCKS:
        return FormField(widget="block", **common)
    return FormField(widget="text", **common)


@cache
def form_fields(kind: str) -> tuple[FormField, ...]:
    """The form of ``kind``: one field per schema field, in schema order."""
    return tuple(_build_field(kind, name, info) for name, info in KINDS[kind].schema.model_fields.items())


# ---------------------------------------------------------------- values shown in the form


def _format(f: FormField, value) -> str | bool:
    if f.widget == "checkbox":
        return bool(value)
    if f.widget == "lines":
        return "\n".join(f.lines.format(v) for v in value or [])
    if f.widget == "options":
        return "\n".join(f.lines.format(item) for item in sorted((value or {}).items()))
    return "" if value is None else str(value)


def initial_values(kind: str, obj: schemas.SiteObject | None) -> dict[str, str | bool]:
    """What the form shows: an object's values, or the schema's defaults for a new one; never a secret."""
    values: dict[str, str | bool] = {}
    for f in form_fields(kind):
        if f.secret:
            values[f.name] = ""
        elif obj is not None:
            values[f.name] = _format(f, getattr(obj, f.name))
        else:
            info = KINDS[kind].schema.model_fields[f.name]
            values[f.name] = "" if info.is_required() else _format(f, info.get_default(call_default_factory=True))
    return values


# ---------------------------------------------------------------- reading the form back


@dataclass
class Submitted:
    """A submitted form: ``data`` for the service, ``raw`` as typed (to show again), errors found reading it."""

    data: dict = field(default_factory=dict)
    raw: dict[str, str | bool] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)  # list index -> line number in the textarea

    def add_error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


MOVE = "move"  # name of the buttons that rearrange an ordered list instead of saving the form


def ordered_items(f: FormField, form) -> list[str]:
    """An ordered list as posted: one hidden input per item (or text lines), then what was typed in ``<name>_add``.

    A pressed move button (``<name>:<index>:up|down|remove`` or ``<name>:add``) is applied here, so
    without JavaScript each press is one round trip that shows the list rearranged, nothing saved.
    """
    words = f.lines
    if not isinstance(words, WordsFormat):
        raise TypeError(f"{f.name}: an ordered list is a list of words")
    items = [word for value in form.getlist(f.name) for word in words.split(value)]
    items += [word for word in words.split(form.get(f"{f.name}_add", "")) if word not in items]
    action = form.get(MOVE, "").split(":")
    if len(action) == 3 and action[0] == f.name and action[1].isdigit() and int(action[1]) < len(items):
        index, verb = int(action[1]), action[2]
        if verb == "up" and index > 0:
            items[index - 1], items[index] = items[index], items[index - 1]
        elif verb == "down" and index + 1 < len(items):
            items[index + 1], items[index] = items[index], items[index + 1]
        elif verb == "remove":
            del items[index]
    return items


def is_move(form) -> bool:
    """Whether the form was posted by a move button (show it again rearranged) rather than Save."""
    return bool(form.get(MOVE))


def read_form(kind: str, form, existing: schemas.SiteObject | None = None) -> Submitted:
    """Turn the posted ``form`` into the service's dict.  An empty secret keeps ``existing``'s (or is generated)."""
    out = Submitted()
    for f in form_fields(kind):
        if f.widget == "checkbox":
            out.raw[f.name] = f.name in form
            out.data[f.name] = f.name in form
            continue
        if f.widget == "select" and f.name not in form:
            continue  # a client that leaves a select out (a script, an older page) gets the schema's default
        text = "\n".join(ordered_items(f, form)) if f.ordered else form.get(f.name, "")
        out.raw[f.name] = text
        if f.secret:
            if text:
                out.data[f.name] = text
            elif existing is not None:
                out.data[f.name] = getattr(existing, f.name)
            continue  # empty on create: the schema's default (a generated password or PIN)
        if f.widget == "number":
            if text.strip():
                out.data[f.name] = text.strip()
            continue
        if f.multiline:
            _read_lines(f, text, out)
            continue
        out.data[f.name] = text
    return out


def _read_lines(f: FormField, text: str, out: Submitted) -> None:
    items, numbers = [], []
    options: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            if isinstance(f.line_format, WordsFormat):
                words = f.line_format.split(line)
                items.extend(words)
                numbers.extend([number] * len(words))
            elif f.widget == "options":
                key, value = f.lines.parse(line)
                if key in options:
                    raise LineError(Message(N_("%(key)s is set twice"), key=key))
                options[key] = value
            else:
                items.append(f.lines.parse(line))
                numbers.append(number)
        except LineError as error:
            out.add_error(f.name, gettext("line %(line)s: %(problem)s", line=number,
                                          problem=message_text(error.args[0])))
    out.data[f.name] = options if f.widget == "options" else items
    out.lines[f.name] = numbers


# ---------------------------------------------------------------- placing the service's problems

# the service's wording (``appliance.errors.message_of``), said the way a form speaks where it differs
FRIENDLY = [
    (re.compile(r"^needs at least 1 entry$"), N_("enter at least one line")),
]


def friendly(message: str) -> str:
    """A service's message as a form shows it, in the page's language."""
    for pattern, replacement in FRIENDLY:
        if pattern.match(message):
            return message_text(pattern.sub(replacement, message))
    return message_text(message)


def place_problems(kind: str, key: str, problems: list[Problem], submitted: Submitted) -> list[str]:
    """Put each problem next to its field in ``submitted.errors``; return the ones that belong to no field."""
    k = KINDS[kind]
    names = {f.name for f in form_fields(kind)}
    own = f"{k.label} {key}"
    general = []
    for problem in problems:
        where, message = problem.where, friendly(problem.message)
        if where.startswith(k.name + "."):
            path = where[len(k.name) + 1:].split(".")
            if path[0] in names:
                submitted.add_error(path[0], _path_message(path[0], path[1:], message, submitted))
                continue
        words = where.split()
        if len(words) > 1 and words[-1] in names:
            owner = " ".join(words[:-1])
            if owner in (own, k.name, k.label):  # this object ("extension number: extension 100 already exists")
                submitted.add_error(words[-1], message)
                continue
            if words[-1] == k.key:  # another object holds the number or name this one wants
                submitted.add_error(words[-1], f"{owner}: {message}")
                continue
        general.append(f"{where}: {message}" if where not in (k.name, own) else message)
    return general


def _path_message(name: str, rest: list[str], message: str, submitted: Submitted) -> str:
    prefix = ""
    if rest and rest[0].isdigit():
        index = int(rest[0])
        numbers = submitted.lines.get(name, [])
        prefix = f"line {numbers[index] if index < len(numbers) else index + 1}: "
        rest = rest[1:]
    rest = [part for part in rest if part != "[key]"]
    if rest:
        prefix += ".".join(rest) + ": "
    return prefix + message


# ---------------------------------------------------------------- destinations and list cells


def destination_groups(with_numbers: bool = True) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every destination a call can be sent to now, grouped for a select: (group, [(value, label)]).

    ``with_numbers=False`` leaves out extensions and voicemail boxes (the groups that grow to thousands).
    """
    groups = [("", [("hangup", "Hang up")])]
    if with_numbers:
        groups.append(("Extensions", [(f"extension:{n}", f"{n} {name}")
                                      for n, name in queries.keys_and_names("extension")]))
    groups.append(("Ring groups", [(f"ringgroup:{n}", f"ring group {n}") for n in queries.keys("ring_group")]))
    if "queue" in KINDS:
        groups.append(("Queues", [(f"queue:{n}", f"queue {n}") for n in queries.keys("queue")]))
    if with_numbers:
        groups.append(("Voicemail", [(f"voicemail:{n}", f"voicemail {n}") for n in queries.mailbox_numbers()]))
    groups += [
        ("Time conditions", [(f"timecondition:{n}", f"time condition {n}") for n in queries.keys("time_condition")]),
        ("Announcements", [(f"announcement:{n}", f"announcement {n}") for n in queries.keys("announcement")]),
    ]
    if "ivr" in KINDS:
        groups.append(("IVR menus", [(f"ivr:{n}", f"IVR menu {n}") for n in queries.keys("ivr")]))
    if "robot" in KINDS:
        groups.append(("Voice robots", [(f"robot:{n}", f"voice robot {n}") for n in queries.keys("robot")]))
    return [(title, items) for title, items in groups if items]


@dataclass
class DestinationChoices:
    groups: list[tuple[str, list[tuple[str, str]]]]
    as_select: bool
    suggestions: list[tuple[str, str]]  # for the text input when the select would be too long


def destination_choices() -> DestinationChoices:
    """A select of every destination, or (past ``DESTINATION_SELECT_LIMIT``) suggestions for a text input."""
    numbers = queries.count("extension") * 2 + queries.count("voicemail_box")  # upper bound: extensions + mailboxes
    if numbers <= DESTINATION_SELECT_LIMIT:
        groups = destination_groups()
        if sum(len(items) for _, items in groups) <= DESTINATION_SELECT_LIMIT:
            return DestinationChoices(groups, True, [])
    small = [item for _, items in destination_groups(with_numbers=False) for item in items]
    return DestinationChoices([], False, small)


LIST_COLUMNS = {
    "extension": ("number", "name", "voicemail", "email", "recording"),
    "trunk": ("name", "host", "port", "registration", "codecs"),
    "voicemail_box": ("number", "name", "email"),
    "ring_group": ("number", "name", "strategy", "members", "fallback"),
    "moh_class": ("name", "directory", "sort"),
    "announcement": ("name", "sound", "destination"),
    "time_condition": ("name", "timezone", "ranges", "open_destination", "closed_destination"),
    "inbound_route": ("name", "did", "cid", "destination"),
    "outbound_route": ("position", "name", "patterns", "trunks"),
    "queue": ("number", "name", "strategy", "members", "overflow"),
    "ivr": ("name", "greeting", "options", "timeout_destination"),
    "robot": ("name", "language", "entries", "handover", "fallback"),
    "cluster_node": ("name", "address", "standby", "queues"),
}


def list_columns(kind: str) -> list[FormField]:
    by_name = {f.name: f for f in form_fields(kind)}
    return [by_name[name] for name in LIST_COLUMNS.get(kind, tuple(by_name)[:4]) if name in by_name]


def cell(f: FormField, obj: schemas.SiteObject) -> str:
    """A compact, one-line text of one field for a table cell."""
    value = getattr(obj, f.name)
    if f.widget == "checkbox":
        return N_("yes") if value else N_("no")
    if f.widget == "select":
        return choice_label(str(value), f.name)
    if f.widget == "destination":
        return describe_destination(value)
    if f.widget == "lines":
        texts = [f.lines.format(v) for v in value]
        shown = ", ".join(texts[:4])
        return shown + (f" (+{len(texts) - 4})" if len(texts) > 4 else "")
    if f.widget == "options":
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if f.secret:
        return "********" if value else ""
    if f.widget == "block":
        return N_("yes") if value else ""
    return str(value)
