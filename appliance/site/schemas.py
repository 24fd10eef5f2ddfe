"""What a valid site object is: one pydantic schema per kind, used by the CLI, YAML import and web.

Validation at this boundary is the first half of the injection rule
(DESIGN.md): identifiers, numbers, dial patterns and host names are held
to strict patterns here, so they can never carry a newline, a ``;``, a
``[`` or a dialplan comma into a generated file.  Free text (names) is
allowed to be anything printable; the renderers escape it.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import secrets
import string
import urllib.parse
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from appliance.asterisk.limits import CONFIG_LINE_MAX
from appliance.catalog import N_
from appliance.errors import describe_pattern
from appliance.site import localtime
from appliance.site.strength import pin_weakness, secret_weakness

IDENTIFIER_RE = r"^[a-z][a-z0-9_-]{0,39}$"
NUMBER_RE = r"^[0-9]{2,8}$"
DIAL_PATTERN_RE = r"^(\+?[0-9*#]+|_[0-9XZN*#+.!\[\]-]+)$"
HOST_RE = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
MATCH_RE = r"^[0-9A-Za-z.:/\[\]-]{1,64}$"
OPTION_KEY_RE = r"^[a-z][a-z0-9_]{0,39}$"
OPTION_VALUE_RE = r"^[A-Za-z0-9 _.,:/@+*=<>\"'-]{0,120}$"
SOUND_RE = r"^[a-z0-9][a-z0-9_/-]{0,79}$"
# A queue or a ring group may also be named by its name (``queue:Orders``): ``checks.resolve_names`` turns
# that into its number before anything is stored.  The name part is held to letters, digits, spaces and a
# few marks, so that even one that were never resolved could not carry a comma or a bracket into a dialplan.
NAME_REF_RE = r"[A-Za-z0-9][A-Za-z0-9 _.&+/-]{0,79}"
DESTINATION_RE = (
    r"^(hangup|(extension|ringgroup|voicemail|queue):[0-9]{2,8}"
    r"|(ringgroup|queue):" + NAME_REF_RE +
    r"|(timecondition|announcement|ivr|robot):[a-z][a-z0-9_-]{0,39})$"
)
DESTINATION_FORMS = ("hangup, extension:NUMBER, voicemail:NUMBER, queue: or ringgroup: with a number or a name, "
                     "or timecondition:, announcement:, ivr: or robot: with a name (such as queue:701 or queue:Orders)")

# what each pattern allows, in the words an error message uses ("'Telco' is not allowed here: use ...")
describe_pattern(IDENTIFIER_RE, N_("lower-case letters, digits, '-' and '_', starting with a letter (at most 40)"))
describe_pattern(NUMBER_RE, N_("2 to 8 digits"))
describe_pattern(DIAL_PATTERN_RE, N_("digits (a leading + allowed) or an Asterisk pattern such as _9NXXXXXX"))
MATCH_FORMS = ("an IP address (203.0.113.20), a network (203.0.113.16/28 or 203.0.113.0/255.255.255.0), "
               "either with the source port the carrier sends from (203.0.113.20:5062, 203.0.113.16:5062/28), "
               "an IPv6 address (2001:db8::1, or [2001:db8::1]:5060 with a port) or a host name "
               "(sip.carrier.example.net, looked up when Asterisk loads its settings)")
describe_pattern(MATCH_RE, MATCH_FORMS)
describe_pattern(SOUND_RE, N_("a sound name: lower-case letters, digits, '_', '-' and '/' (such as custom/welcome)"))
describe_pattern(DESTINATION_RE, DESTINATION_FORMS)
OPTIONAL_DESTINATION_RE = describe_pattern(r"^(|" + DESTINATION_RE[2:-2] + r")$", DESTINATION_FORMS)

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_RE)]
Number = Annotated[str, StringConstraints(pattern=NUMBER_RE)]
Digits = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{0,20}$")]
Destination = Annotated[str, StringConstraints(pattern=DESTINATION_RE)]
Secret = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{12,64}$")]
Pin = Annotated[str, StringConstraints(pattern=r"^[0-9]{4,12}$")]
Codec = Literal["ulaw", "alaw", "g722", "gsm", "g729", "opus"]


def _default_codecs() -> list[Codec]:
    return ["ulaw", "alaw"]


def _printable_text(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00") or any(not ch.isprintable() for ch in value):
        raise ValueError(N_("must be one line of printable text"))
    return value.strip()


FreeText = Annotated[str, StringConstraints(min_length=1, max_length=80), AfterValidator(_printable_text)]
EMAIL_RE = describe_pattern(r"^([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?$",
                            N_("an e-mail address such as name@example.com, or nothing"))
Email = Annotated[str, StringConstraints(pattern=EMAIL_RE)]
# Settings Linebox itself writes for an endpoint: an extra option may not replace them, or an
# "advanced" field could move a phone into another context or onto another account.
RESERVED_OPTIONS = frozenset({
    "type", "context", "auth", "aors", "outbound_auth", "callerid", "mailboxes", "transport", "from_user",
    "identify_by", "set_var", "accountcode",
    # who may use an extension: its permitted networks (``Extension.permitted_networks``), never an option
    "acl", "deny", "permit",
})


def _no_reserved(value: dict[str, str]) -> dict[str, str]:
    taken = sorted(set(value) & RESERVED_OPTIONS)
    if taken:
        raise ValueError(f"{', '.join(taken)} is set by Linebox and cannot be overridden")
    return value


Options = Annotated[
    dict[
        Annotated[str, StringConstraints(pattern=OPTION_KEY_RE)],
        Annotated[str, StringConstraints(pattern=OPTION_VALUE_RE)],
    ],
    AfterValidator(_no_reserved),
]


def strong_secret(length: int = 24, owner: str = "") -> str:
    """A random SIP password: letters and digits only (safe in any config file), ~140 bits.

    Drawn again in the rare case the draw looks weak to the password policy (``appliance.site.strength``),
    so that a generated secret is never refused by the rule a typed one must pass."""
    alphabet = string.ascii_letters + string.digits
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if length < 12 or secret_weakness(value, owner) is None:
            return value


def random_pin(length: int = 6, number: str = "") -> str:
    """A random voicemail PIN, drawn again when it looks weak (1111, 123456, the box's number) to the policy."""
    while True:
        value = "".join(secrets.choice(string.digits) for _ in range(length))
        if pin_weakness(value, number) is None:
            return value


def _network(value: str) -> str:
    """One IPv4 or IPv6 network (``192.168.1.0/24``, ``2001:db8::/32``) or address, written as Asterisk's ACLs
    take it (address/prefix, host bits cleared)."""
    value = value.strip()
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"{value[:60]!r} is not a network: use an address (192.168.1.20) or a network "
                         "(192.168.1.0/24, 10.0.0.0/255.0.0.0, 2001:db8::/32)") from None


Network = Annotated[str, StringConstraints(max_length=64), AfterValidator(_network)]
# What the site calls local when it says nothing: the private IPv4 ranges (RFC 1918), loopback, and IPv6
# unique-local and link-local addresses.  Phones on the company's LAN register; a phone anywhere else must
# be given a permitted network of its own (docs/admin-guide.md, "Who may use an extension").
DEFAULT_LOCAL_NETWORKS = "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 127.0.0.0/8, fc00::/7, fe80::/10, ::1/128"


def parse_networks(text: str) -> list[str]:
    """A comma-separated list of networks (the ``local_networks`` setting), each one normalised."""
    return [_network(item) for item in text.split(",") if item.strip()]


# Settings Asterisk accepts that open the box to people who are not its users: each needs the admin's
# explicit agreement (the object's ``accepted_risks``), and the message says what it does.
RISKS = {
    "open_match": "this match takes in every address on the internet: any caller anywhere becomes this trunk, "
                  "with no password, and reaches your inbound routes",
    "open_network": "this lets a phone anywhere on the internet use the extension: a guessed password is then "
                    "enough to make calls on your lines",
    "trust_id_inbound": "the caller's own P-Asserted-Identity is believed: anyone can call in as any number",
    "message_context": "SIP MESSAGEs from this endpoint run through that dialplan context",
    "allow_unauthenticated_options": "OPTIONS requests are answered without a password: scanners learn which "
                                     "accounts exist",
    "subscribe_context": "subscriptions from this endpoint look up hints in that dialplan context",
}
Risk = Literal["open_match", "open_network", "trust_id_inbound", "message_context",
               "allow_unauthenticated_options", "subscribe_context"]


# Defaults drawn at random (a SIP password, a voicemail PIN): made once, when the object is created.  An
# import that leaves such a field out keeps the stored value (appliance.config_file), or re-importing the
# same file would hand every phone a new password and every mailbox a new PIN.
GENERATED_DEFAULTS = (strong_secret, random_pin)


def _redraw_defaults(obj: BaseModel, number: str, pins: tuple[str, ...]) -> None:
    """Draw again a generated default that the policy would refuse for this object's own number (one draw in a
    few hundred holds "200"; over a CSV import of thousands, some extension would be refused)."""
    password = obj.__dict__.get("password")
    if password is not None and "password" not in obj.model_fields_set and secret_weakness(password, number):
        object.__setattr__(obj, "password", strong_secret(owner=number))
    for name in pins:
        if name not in obj.model_fields_set and pin_weakness(getattr(obj, name), number) is not None:
            object.__setattr__(obj, name, random_pin(number=number))


def generated_fields(schema: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``schema`` whose default is drawn at random (``GENERATED_DEFAULTS``)."""
    return tuple(name for name, field in schema.model_fields.items() if field.default_factory in GENERATED_DEFAULTS)


# What an extension may dial (the dial guard, appliance.billing.guard): each level allows the number classes
# of the one before it and more; emergency numbers are always allowed, whatever the level.
DialPermission = Literal["internal", "local", "national", "mobile", "international", "premium"]
MONEY_RE = describe_pattern(r"^([0-9]{1,9}(\.[0-9]{1,4})?)?$",
                            N_("an amount such as 500 or 120.50 (in the rates' currency), or nothing"))
Money = Annotated[str, StringConstraints(pattern=MONEY_RE)]
# Minutes a cap allows: tenths of a minute are taken (0.5 is 30 seconds); 0: no cap.
# Written back as typed: a whole number stays one (``30``, not ``30.0``), so an exported site file
# imports and exports again unchanged.
CapMinutes = Annotated[float, Field(ge=0, le=1_000_000),
                       PlainSerializer(lambda v: int(v) if float(v).is_integer() else v, return_type=int | float)]


def _budget_entry(item: str) -> tuple[str, str]:
    name, sep, amount = item.partition("=")
    name, amount = name.strip(), amount.strip()
    if not sep or not name or not re.fullmatch(MONEY_RE, amount) or not amount:
        raise ValueError(f"'{item.strip()[:60]}' is not DEPARTMENT=AMOUNT (such as Sales=500)")
    _printable_text(name)
    return name, amount


def parse_department_budgets(text: str) -> dict[str, str]:
    """``Sales=500, Support=120.50`` as {department: amount text}; a department named twice is refused."""
    budgets: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, amount = _budget_entry(item)
        if name in budgets:
            raise ValueError(f"department {name} is given twice")
        budgets[name] = amount
    return budgets

# Media encryption of a phone's or trunk's calls: "plain" RTP; "preferred": SRTP (SDES keys, which only
# travel safely over TLS) offered and plain accepted; "required": SRTP or the call is refused (488).
Encryption = Literal["plain", "preferred", "required"]
OptionalEncryption = Literal["", "plain", "preferred", "required"]  # "": the site's


class SiteObject(BaseModel):
    # coerce_numbers_to_str: a hand-written YAML "number: 100" means the string "100".
    # frozen: a snapshot gives an unchanged row as the same object to every later snapshot of the process
    # (appliance.site.queries.snapshot), so a change made to one would be a wrong site for the next apply;
    # a new value is a new object (model_copy(update=...)).
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)


class Extension(SiteObject):
    number: Number
    name: FreeText
    password: Secret = Field(default_factory=strong_secret)
    voicemail: bool = False
    voicemail_pin: Pin = Field(default_factory=random_pin)
    email: Email = ""
    recording: Literal["never", "always", "on_demand"] = "never"
    ring_seconds: int = Field(default=25, ge=5, le=300)
    # The team the extension belongs to (Sales, Support, ...): what cost reports and budgets group by.
    department: Annotated[str, StringConstraints(max_length=80), AfterValidator(_printable_text)] = ""
    # Where the phone may register and call from; empty: the networks the site calls local (local_networks).
    permitted_networks: list[Network] = Field(default_factory=list)
    # TLS signalling and SRTP media for this phone ("": the site's sip_encryption; see Encryption)
    encryption: OptionalEncryption = ""
    options: Options = Field(default_factory=dict)
    accepted_risks: list[Risk] = Field(default_factory=list)  # risky settings the admin agreed to (RISKS)
    # The dial guard (docs/admin-guide.md, "Dial permissions and caps"): the classes it may dial ("": the
    # site's dial_permission_default), outbound calls at once, outbound minutes a day and a month, money a
    # month; 0 or empty: no limit of the extension's own (the site's still hold).
    dial_permission: Literal["", "internal", "local", "national", "mobile", "international", "premium"] = ""
    max_outbound_calls: int = Field(default=0, ge=0, le=1000)
    daily_minutes: CapMinutes = 0
    monthly_minutes: CapMinutes = 0
    monthly_budget: Money = ""

    @model_validator(mode="after")
    def _defaults_fit_the_number(self) -> Extension:
        _redraw_defaults(self, self.number, ("voicemail_pin",))
        return self


def _port(text: str) -> bool:
    return text.isdigit() and 1 <= int(text) <= 65535


def _ipv4_net(address: str, mask: str | None) -> bool:
    try:
        ipaddress.IPv4Address(address)
        if mask is not None:
            ipaddress.IPv4Network(f"{address}/{mask}", strict=False)
    except ValueError:
        return False
    return True


def _match_entry(value: str) -> str:
    """One entry of a trunk's ``match``, in a form Asterisk's ``identify`` takes (res_pjsip_endpoint_identifier_ip):

    ``ADDRESS[:PORT][/MASK]`` for IPv4 (mask as a prefix length or dotted), ``[ADDRESS][:PORT][/PREFIX]`` or a
    bare ``ADDRESS[/PREFIX]`` for IPv6, ``HOST[:PORT]`` for a name.  Anything else Asterisk would refuse at
    apply, naming neither the trunk nor the entry: refused here with the forms it takes.
    """
    ok = False
    if value.startswith("["):
        found = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::([0-9]+))?(?:/([0-9]{1,3}))?", value)
        if found and (found.group(2) is None or _port(found.group(2))):
            try:
                ipaddress.IPv6Network(f"{found.group(1)}/{found.group(3) or 128}", strict=False)
                ok = True
            except ValueError:
                ok = False
    elif value.count(":") > 1:  # a bare IPv6 address (no port without brackets)
        try:
            ipaddress.IPv6Network(value, strict=False)
            ok = True
        except ValueError:
            ok = False
    else:
        found = re.fullmatch(r"([^:/]+)(?::([0-9]+))?(?:/([0-9.]+))?", value)
        if found and (found.group(2) is None or _port(found.group(2))):
            host, mask = found.group(1), found.group(3)
            if re.fullmatch(r"[0-9.]+", host):
                ok = _ipv4_net(host, mask)
            else:
                # a name has a letter (all digits and dots is a mistyped address, not a host)
                ok = mask is None and bool(re.fullmatch(HOST_RE, host)) and bool(re.search("[A-Za-z]", host))
    if not ok:
        raise ValueError(f"{value!r} is not an address calls can be matched by: use {MATCH_FORMS}")
    return value


MatchEntry = Annotated[str, StringConstraints(pattern=MATCH_RE), AfterValidator(_match_entry)]


class Trunk(SiteObject):
    name: Identifier
    registration: bool = False
    host: Annotated[str, StringConstraints(pattern=HOST_RE, max_length=253)]
    port: int = Field(default=5060, ge=1, le=65535)
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.+-]{0,64}$")] = Field(
        default="", validate_default=True)
    password: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.+-]{0,64}$")] = ""
    codecs: list[Codec] = Field(default_factory=_default_codecs, min_length=1)
    max_channels: int = Field(default=0, ge=0, le=10000)
    match: list[MatchEntry] = Field(default_factory=list)  # calls from these come from this trunk; empty: host
    qualify_seconds: int = Field(default=30, ge=0, le=3600)
    # How long a call waits for this trunk to ring (or send early media) before the route tries its next
    # trunk: a trunk that died since its last qualify would otherwise hold the caller for SIP's timer B
    # (32 s).  Not applied where the trunk is the route's last (nothing to fail over to); 0: never.
    failover_seconds: float = Field(default=2.0, ge=0, le=60)
    # TLS to the provider, its certificate verified against tls_ca (PEM; empty: Debian's public CAs)
    transport: Literal["udp", "tls"] = "udp"
    tls_ca: Annotated[str, StringConstraints(max_length=20000)] = ""
    encryption: OptionalEncryption = ""  # SRTP on this trunk's calls ("": the site's sip_encryption)
    options: Options = Field(default_factory=dict)
    accepted_risks: list[Risk] = Field(default_factory=list)  # risky settings the admin agreed to (RISKS)

    @field_validator("username")
    @classmethod
    def _registration_needs_user(cls, value: str, info) -> str:
        if info.data.get("registration") and not value:
            raise ValueError(N_("a registering trunk needs a username"))
        return value

    @field_validator("failover_seconds")
    @classmethod
    def _failover_time(cls, value: float) -> float:
        """Tenths of a second at most (Dial takes the number as written), and not so short that a healthy
        carrier would be left before it could ring."""
        if 0 < value < 1:
            raise ValueError(N_("must be 0 (never fail over on time) or from 1 to 60 seconds"))
        return round(value, 1)

    @field_validator("tls_ca")
    @classmethod
    def _tls_ca(cls, value: str) -> str:
        """The provider's CA as PEM text: read now, so a pasted half certificate is named here, not at apply."""
        if not value.strip():
            return ""
        from appliance import certificates  # cryptography only where a CA is given
        try:
            return certificates.check_ca(value)
        except certificates.CertificateError as error:
            raise ValueError(str(error)) from None


class InboundRoute(SiteObject):
    name: Identifier
    did: Annotated[str, StringConstraints(pattern=r"^(|" + DIAL_PATTERN_RE[1:-1] + r")$")] = ""
    cid: Annotated[str, StringConstraints(pattern=r"^(|" + DIAL_PATTERN_RE[1:-1] + r")$")] = ""
    destination: Destination


class DialPattern(SiteObject):
    match: Annotated[str, StringConstraints(pattern=DIAL_PATTERN_RE)]
    strip: int = Field(default=0, ge=0, le=20)
    prepend: Digits = ""


class OutboundRoute(SiteObject):
    name: Identifier
    position: int = Field(default=0, ge=0, le=100000)
    patterns: list[DialPattern] = Field(min_length=1)
    trunks: list[Identifier] = Field(min_length=1)
    caller_id: Digits = ""  # the company's number; empty: the extension's own
    # the name sent with it; empty with a caller_id: no name (the agent's name never goes out with the company's number)
    caller_id_name: Annotated[str, StringConstraints(max_length=80), AfterValidator(_printable_text)] = ""
    # least-cost routing: the trunks priced cheapest for the number are tried first (appliance.billing.lcr)
    least_cost: bool = False

    @field_validator("trunks")
    @classmethod
    def _no_repeat(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(N_("a trunk is listed twice"))
        return value


class RingGroup(SiteObject):
    number: Number
    name: FreeText
    strategy: Literal["ringall", "hunt"] = "ringall"
    members: list[Number] = Field(min_length=1)
    ring_seconds: int = Field(default=20, ge=5, le=300)
    fallback: Destination = "hangup"

    @field_validator("members")
    @classmethod
    def _fits_one_dial_line(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """Ring-all dials every member in one ``Dial()`` line, which Asterisk skips past its line limit."""
        if info.data.get("strategy", "ringall") == "ringall":
            length = len(" same => n,Dial(") + len("&".join(f"PJSIP/{m}" for m in value)) + len(",300)")
            if length > CONFIG_LINE_MAX:
                raise ValueError(f"{len(value)} members ringing at once make a Dial() line of {length:,} characters; "
                                 f"Asterisk reads at most {CONFIG_LINE_MAX:,} characters per line: use fewer "
                                 "members, the hunt strategy or a queue")
        return value


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAYS_RE = r"^(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?$"
_TIME_RE = describe_pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", N_("a time HH:MM from 00:00 to 23:59"))
_END_RE = describe_pattern(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
                           N_("a time HH:MM from 00:01 to 24:00 (24:00: until midnight)"))


class TimeRange(SiteObject):
    """Open from ``start`` until ``end`` on ``days``: ``end`` is the closing time, the first minute closed.

    So 09:00-18:00 is open at 17:59:59 and closed at 18:00:00, and 24:00 means until midnight (a range
    cannot run past midnight: give the next day its own range from 00:00).  Asterisk's time ranges include
    their last minute (``GotoIfTime(09:00-17:59,...)``), so the dialplan is written with ``end`` less one
    minute (``asterisk_times``).
    """

    days: Annotated[str, StringConstraints(pattern=_DAYS_RE)] = "mon-fri"
    start: Annotated[str, StringConstraints(pattern=_TIME_RE)] = "09:00"
    end: Annotated[str, StringConstraints(pattern=_END_RE)] = Field(default="17:00", validate_default=True)

    def asterisk_times(self) -> str:
        """The range as GotoIfTime's first argument: from ``start`` to the last open minute, both included."""
        hours, minutes = divmod(int(self.end[:2]) * 60 + int(self.end[3:]) - 1, 60)
        return f"{self.start}-{hours:02d}:{minutes:02d}"

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: str, info) -> str:
        if "start" in info.data and value <= info.data["start"]:
            raise ValueError(N_("must be later than start"))
        return value


class Holiday(SiteObject):
    date: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    name: FreeText = "holiday"

    @field_validator("date")
    @classmethod
    def _real_date(cls, value: str) -> str:
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a date") from None
        return value


class TimeCondition(SiteObject):
    name: Identifier
    timezone: str = "UTC"
    ranges: list[TimeRange] = Field(min_length=1)
    holidays: list[Holiday] = Field(default_factory=list)
    open_destination: Destination
    closed_destination: Destination

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return localtime.check_zone(value)


class VoicemailBox(SiteObject):
    number: Number
    name: FreeText
    pin: Pin = Field(default_factory=random_pin)
    email: Email = ""

    @model_validator(mode="after")
    def _defaults_fit_the_number(self) -> VoicemailBox:
        _redraw_defaults(self, self.number, ("pin",))
        return self


class MohClass(SiteObject):
    name: Identifier
    directory: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9_./-]{1,200}$")]
    sort: Literal["random", "alpha"] = "random"


class Announcement(SiteObject):
    name: Identifier
    sound: Annotated[str, StringConstraints(pattern=SOUND_RE)]
    destination: Destination = "hangup"


Sound = Annotated[str, StringConstraints(pattern=SOUND_RE)]


# The languages callers hear prompts in (appliance.provisioning.prompts): Asterisk's language folder names.
PromptLanguage = Literal["en", "zh"]


class IvrOption(SiteObject):
    """One key of a menu: where it sends the caller; or, with ``language``, the caller's choice of language
    ("for English press 9"): every prompt after it is in that language, and the menu is played again
    unless a destination is given."""

    digit: Annotated[str, StringConstraints(pattern=r"^[0-9*#]$")]
    destination: Annotated[str, StringConstraints(pattern=OPTIONAL_DESTINATION_RE)] = ""
    language: Literal["", "en", "zh"] = ""

    @model_validator(mode="after")
    def _goes_somewhere(self):
        if not self.destination and not self.language:
            raise ValueError(f"option {self.digit}: give a destination, or a language the key switches to")
        return self


GreetingText = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_printable_text)]
# espeak-ng voices shipped by Debian (cmn: Mandarin, yue: Cantonese)
Voice = Literal["en", "en-us", "en-gb", "fr", "de", "es", "it", "nl", "pt", "cmn", "yue"]


RobotText = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_printable_text)]
# an uploaded sound (the Sounds page's custom/NAME): the robot plays its 8 kHz .sln from the sounds folder
UploadedSound = Annotated[str, StringConstraints(pattern=describe_pattern(
    r"^(|custom/[a-z0-9][a-z0-9_-]{0,39})$",
    N_("custom/ and the name of a sound uploaded on the Sounds page (such as custom/opening-hours)")))]


class RobotEntry(SiteObject):
    """One question the voice robot answers (``appliance.robot``): the ways callers ask it, what the robot
    says back, and where the call goes next.

    ``questions`` holds several phrasings separated by ``;`` ("what are your opening hours; when are you
    open"): the recogniser's grammar is built from them and what it heard is matched against each.  The
    answer is spoken by espeak-ng in the robot's language; the text never reaches a config file, only a
    sound file named after its hash.  Or it is a recording uploaded on the Sounds page (``answer_sound``:
    ``custom/NAME``), which then takes precedence, as an IVR's spoken greeting does over its sound.
    ``then`` empty: the robot listens for another question."""

    questions: Annotated[str, StringConstraints(min_length=1, max_length=1000,
                                                pattern=r"^[A-Za-z' ;,.?!\u4e00-\u9fff]+$")]
    answer: RobotText = ""
    then: Annotated[str, StringConstraints(pattern=OPTIONAL_DESTINATION_RE)] = "hangup"
    answer_sound: UploadedSound = Field(default="", validate_default=True)  # checks an answer is given

    @field_validator("questions")
    @classmethod
    def _some_phrasing(cls, value: str) -> str:
        if not [q for q in value.split(";") if q.strip(" ,.?!")]:
            raise ValueError(N_("give at least one question"))
        return value.strip()

    @field_validator("answer_sound")
    @classmethod
    def _some_answer(cls, value: str, info) -> str:
        """Checked on ``answer_sound`` (validated last), naming both fields an answer can be given in; an answer
        text that is itself invalid is reported on its own field, not as missing."""
        if not value and "answer" in info.data and not info.data["answer"].strip():
            raise ValueError(N_("give the entry an answer: a text the robot speaks (answer) or an uploaded "
                                "recording (answer_sound: custom/NAME, from the Sounds page)"))
        return value


class Robot(SiteObject):
    """A voice FAQ robot: a destination like an IVR menu, answering callers' spoken questions offline.

    Calls reach it over Asterisk's AudioSocket (linebox-robot.service).  ``handover`` is where a caller who
    asks for a person (says "agent", presses 0, or is not understood twice) goes; ``fallback`` where every
    call goes when the robot service cannot be reached, so a caller never hears dead air."""

    name: Identifier
    language: PromptLanguage = "en"
    entries: list[RobotEntry] = Field(default_factory=list)
    handover: Destination = "hangup"
    fallback: Destination = "hangup"


class Ivr(SiteObject):
    """A voice menu: a greeting, then one DTMF digit per option, with retries on bad or no input.

    The greeting is a sound (Asterisk's own, or ``custom/NAME`` uploaded on the Sounds page), or a
    text the box speaks with espeak-ng (``greeting_text``, which then takes precedence): the text
    never reaches a config file, only a sound file named after its hash."""

    name: Identifier
    greeting: Annotated[str, StringConstraints(pattern=r"^(|" + SOUND_RE[1:-1] + r")$")] = ""
    greeting_text: GreetingText = Field(default="", validate_default=True)  # checks a greeting is given
    greeting_voice: Voice = Field(default="en", validate_default=True)
    options: list[IvrOption] = Field(default_factory=list)
    timeout_seconds: int = Field(default=5, ge=1, le=30)
    # How many times the menu is played again after a wrong key, and after no key: two counts, each on its
    # own (as commercial PBXs keep them), so 2 and 2 play the greeting at most five times (1 + 2 + 2).
    invalid_retries: int = Field(default=2, ge=0, le=5)
    timeout_retries: int = Field(default=2, ge=0, le=5)
    invalid_sound: Sound = "invalid"  # Debian's core sounds: "That's not valid, try again"
    direct_dial: bool = False
    language: Literal["", "en", "zh"] = ""  # the prompts' language in this menu ("": the site's)
    timeout_destination: Destination = "hangup"
    invalid_destination: Destination = "hangup"

    @model_validator(mode="before")
    @classmethod
    def _retries_sets_both(cls, data):
        """``retries``, the one count of earlier Linebox files, still imports: it sets each count not given."""
        if isinstance(data, dict) and "retries" in data:
            data = dict(data)
            retries = data.pop("retries")
            data.setdefault("invalid_retries", retries)
            data.setdefault("timeout_retries", retries)
        return data

    @field_validator("greeting_voice", mode="before")
    @classmethod
    def _default_voice(cls, value):
        return value or "en"  # a form with the voice left out means the default voice

    @field_validator("greeting_text")
    @classmethod
    def _some_greeting(cls, value: str, info) -> str:
        """Checked on ``greeting_text`` (validated after ``greeting``), naming both fields a greeting can be given in.

        A greeting that is itself invalid is reported on its own field, not as missing.
        """
        if not value and "greeting" in info.data and not info.data["greeting"]:
            raise ValueError(N_("give the menu a greeting: a sound (greeting) or a text to speak (greeting_text)"))
        return value

    @field_validator("options")
    @classmethod
    def _unique_digits(cls, value: list[IvrOption]) -> list[IvrOption]:
        digits = [o.digit for o in value]
        repeated = sorted({d for d in digits if digits.count(d) > 1})
        if repeated:
            raise ValueError(f"digit {', '.join(repeated)} is used by more than one option")
        return value


class QueueMember(SiteObject):
    """An agent's extension in a queue; the penalty is the skill level (0 = first choice)."""

    extension: Number
    penalty: int = Field(default=0, ge=0, le=10)


class EscalationStep(SiteObject):
    """After a caller has waited ``after_seconds``, agents up to ``max_penalty`` may take the call."""

    after_seconds: int = Field(ge=1, le=3600)
    max_penalty: int = Field(ge=0, le=10)


class Disposition(SiteObject):
    """A wrap-up code the agent chooses for a call of the queue ("Sale", "Complaint", ...)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=40), AfterValidator(_printable_text)]


QueueStrategy = Literal["ringall", "leastrecent", "fewestcalls", "rrmemory", "random", "linear"]


class Queue(SiteObject):
    number: Number
    name: FreeText
    strategy: QueueStrategy = "rrmemory"
    members: list[QueueMember] = Field(default_factory=list)
    escalation: list[EscalationStep] = Field(default_factory=list)
    agent_ring_seconds: int = Field(default=15, ge=5, le=120)
    wrapup_seconds: int = Field(default=10, ge=0, le=600)
    max_wait_seconds: int = Field(default=300, ge=0, le=7200)
    max_callers: int = Field(default=0, ge=0, le=1000)
    overflow: Destination = "hangup"
    announce_position: bool = True
    announce_every_seconds: int = Field(default=60, ge=0, le=600)
    moh_class: Identifier = "default"
    exit_voicemail: Annotated[str, StringConstraints(pattern=r"^([0-9]{2,8})?$")] = ""
    recording: Literal["never", "always"] = "never"
    autopause_after_missed: int = Field(default=0, ge=0, le=20)  # 0: never pause an agent for missed calls
    # Service level: the share of calls answered within this many seconds (docs/reports.md), and the share
    # the queue aims for (below it the wallboard shows the queue in its alert colour).
    service_level_seconds: int = Field(default=20, ge=1, le=3600)
    service_level_target: int = Field(default=80, ge=1, le=100)
    language: Literal["", "en", "zh"] = ""  # the announcements' language ("": the site's)
    # Wrap-up codes the agent chooses from on the agent page; with disposition_required the agent's membership
    # is paused (reason "disposition") when a call ends until one is saved for it.
    dispositions: list[Disposition] = Field(default_factory=list, max_length=50)
    disposition_required: bool = False
    # Callback that keeps the caller's place: after callback_offer_seconds of waiting (and as often again)
    # the caller hears "press 1 to be called back"; pressing 1 leaves a placeholder at their position, and
    # when it reaches an agent the agent is connected first, then the caller is dialled through the outbound
    # routes; not answered, it is tried callback_retries more times, callback_retry_seconds apart, at the
    # head of the queue (appliance.callcenter.callbacks, docs/reports.md).
    callback: bool = False
    callback_offer_seconds: int = Field(default=30, ge=5, le=600)
    callback_retries: int = Field(default=2, ge=0, le=5)
    callback_retry_seconds: int = Field(default=120, ge=10, le=3600)
    # SLA alerts on the wallboard (docs/reports.md): a caller waiting longer than this, more callers waiting
    # than this, fewer agents logged in than this; 0 turns that alert off.  The service-level alert is
    # service_level_target above.
    alert_longest_wait_seconds: int = Field(default=0, ge=0, le=7200)
    alert_callers_waiting: int = Field(default=0, ge=0, le=1000)
    alert_min_agents: int = Field(default=0, ge=0, le=1000)
    # After the agent hangs up, the caller is asked to rate the call 1-5 by keypad (a queue_log SURVEY line
    # with the agent who answered; docs/reports.md).  A caller who hangs up first is simply not asked.
    survey: bool = False

    @field_validator("members")
    @classmethod
    def _unique_members(cls, value: list[QueueMember]) -> list[QueueMember]:
        numbers = [m.extension for m in value]
        if len(set(numbers)) != len(numbers):
            raise ValueError(N_("an extension is listed twice"))
        return value

    @field_validator("dispositions")
    @classmethod
    def _unique_dispositions(cls, value: list[Disposition]) -> list[Disposition]:
        names = [d.name.casefold() for d in value]
        if len(set(names)) != len(names):
            raise ValueError(N_("a disposition is listed twice"))
        return value

    @field_validator("disposition_required")
    @classmethod
    def _something_to_choose(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("dispositions"):
            raise ValueError(N_("list the dispositions the agent chooses from first"))
        return value

    @field_validator("escalation")
    @classmethod
    def _rising(cls, value: list[EscalationStep]) -> list[EscalationStep]:
        times = [step.after_seconds for step in value]
        if times != sorted(set(times)):
            raise ValueError(N_("steps must be in order of rising wait time, each time once"))
        return value


# Settings whose values are secrets: masked in the audit log and in an import's summary (none today; a
# setting that holds a password is added here).
SECRET_SETTINGS: frozenset[str] = frozenset()


def check_web_address(value: str, template: bool) -> str:
    """An http(s) address of another server (a CRM, a webhook receiver); a template holds ``{number}`` once
    and no other braces.  Empty: not configured."""
    value = value.strip()
    if not value:
        return ""
    probe = value.replace("{number}", "0") if template else value
    parts = urllib.parse.urlsplit(probe)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            ch.isspace() or not ch.isprintable() for ch in probe):
        raise ValueError(N_("give an http:// or https:// address with a host name, without spaces"))
    if template and (value.count("{number}") != 1 or "{" in probe or "}" in probe):
        raise ValueError(N_("put {number} once where the caller's number goes, and no other braces"))
    if not template and ("{" in value or "}" in value):
        raise ValueError(N_("an address without braces"))
    return value


class Settings(SiteObject):
    """Site-wide settings an admin may change."""

    sip_bind: Annotated[str, StringConstraints(pattern=r"^[0-9.]{7,15}$")] = "0.0.0.0"
    sip_port: int = Field(default=5060, ge=1, le=65535)
    # The TLS transport (phones with ;transport=tls, TLS trunks) and the default media encryption of
    # extensions and trunks that do not choose their own (Encryption)
    sip_tls_port: int = Field(default=5061, ge=1, le=65535)
    sip_encryption: Encryption = "plain"
    rtp_start: int = Field(default=10000, ge=1024, le=65000)
    rtp_end: int = Field(default=20000, ge=1024, le=65535, validate_default=True)
    ami_port: int = Field(default=5038, ge=1, le=65535)
    language: Literal["en", "zh"] = "en"
    # The site's time zone (IANA name): reports, the wallboard's "today", recording retention and call-record
    # search count days from its midnights (appliance.site.localtime); storage stays in UTC.
    timezone: str = Field(default_factory=localtime.box_timezone)
    # the language callers hear prompts in, unless an IVR, a queue or the caller's own choice says otherwise
    prompt_language: PromptLanguage = "en"
    recording_retention_days: int = Field(default=0, ge=0, le=3650)  # 0: keep recordings for ever
    tone_zone: str = "us"  # DAHDI's tone zone for analog ports and spans (dial tone, ringing, busy)
    # The phonebook's caller-name lookup (appliance.agi, linebox-agi.service) on calls through inbound routes;
    # the country code makes "+44 20 ..." and the national "020 ..." the same number (appliance.phonebook.numbers).
    caller_name_lookup: bool = True
    agi_port: int = Field(default=4573, ge=1, le=65535)
    # linebox-robot.service: the voice robots' AudioSocket service on 127.0.0.1 (appliance.robot)
    robot_port: int = Field(default=4574, ge=1, le=65535)
    # Multi-node mode (appliance.cluster): the address of the Kamailio edge, the one address phones and
    # trunks use; empty: one box (no cluster nodes may be defined)
    cluster_edge: OptionalIPv4Address = ""
    country_code: Annotated[str, StringConstraints(pattern=r"^([1-9][0-9]{0,2})?$")] = ""
    # The site's own area code without the trunk prefix ("21" for Shanghai): a fixed line in this area is a
    # local call for dial permissions and call cost (appliance.site.numbering); empty: every fixed line is
    # national.
    area_code: Annotated[str, StringConstraints(pattern=r"^([1-9][0-9]{0,4})?$")] = ""
    # Bans (appliance.security.bans, linebox-bans.service): a source address with ban_failures failed
    # authentications (or requests to unknown accounts) within ban_window_seconds is dropped by the firewall
    # for ban_seconds, doubled at each new ban of it within a day, up to ban_max_seconds.  0 failures: never ban.
    ban_failures: int = Field(default=5, ge=0, le=1000)
    ban_window_seconds: int = Field(default=60, ge=1, le=86400)
    ban_seconds: int = Field(default=600, ge=1, le=31536000)
    ban_max_seconds: int = Field(default=86400, ge=1, le=31536000)
    # Networks never banned (the admin's LAN, the trunk providers): addresses or CIDR networks, comma separated.
    ban_allow: Annotated[str, StringConstraints(max_length=2000)] = ""
    # The dial guard (appliance.billing.guard): what an extension without a permission of its own may dial
    # (a new site: no international, no premium), the site's limits on outbound calls at once and outbound
    # minutes a day and a month (0: none), departments' monthly budgets (Sales=500, Support=120.50), the
    # share of a budget at which the status page warns, whether a spent budget blocks calls or only warns,
    # and the out-of-hours policy: outside the open hours of a time condition (its name; empty: no
    # schedule), extensions may dial up to ``out_of_hours_permission`` only.  Emergency numbers always go out.
    dial_permission_default: DialPermission = "mobile"
    max_outbound_calls: int = Field(default=0, ge=0, le=100000)
    outbound_daily_minutes: CapMinutes = 0
    outbound_monthly_minutes: CapMinutes = 0
    department_budgets: Annotated[str, StringConstraints(max_length=4000)] = ""
    budget_warn_percent: int = Field(default=80, ge=1, le=100)
    budget_action: Literal["warn", "block"] = "warn"
    outbound_hours: Annotated[str, StringConstraints(pattern=r"^(|" + IDENTIFIER_RE[1:-1] + r")$")] = ""
    out_of_hours_permission: DialPermission = "internal"
    # Whether supervisors may listen to, whisper to or barge into agents' live calls from the wallboard
    # (appliance.callcenter.supervise); "forbidden" refuses it in the console and drops it from the dialplan.
    supervisor_monitoring: Literal["allowed", "forbidden"] = "allowed"
    # The company's CRM (appliance.callcenter.crm and .webhooks): each is off while empty, and then nothing is
    # sent anywhere.  The two templates name the caller's number as {number} (percent-quoted into the URL):
    # the lookup's JSON answer (name, company, link) shows in the agent's pop; "open in CRM" is a link there.
    crm_lookup_url: Annotated[str, StringConstraints(max_length=500)] = ""
    crm_open_url: Annotated[str, StringConstraints(max_length=500)] = ""
    # call events (ringing, answered, ended, disposition) POSTed as signed JSON (linebox-webhooks.service)
    webhook_url: Annotated[str, StringConstraints(max_length=500)] = ""

    @field_validator("crm_lookup_url", "crm_open_url", "webhook_url")
    @classmethod
    def _web_address(cls, value: str, info: ValidationInfo) -> str:
        return check_web_address(value, template=info.field_name != "webhook_url")

    @field_validator("department_budgets")
    @classmethod
    def _department_budgets(cls, value: str) -> str:
        return ", ".join(f"{name}={amount}" for name, amount in parse_department_budgets(value).items())

    @field_validator("area_code")
    @classmethod
    def _area_needs_country(cls, value: str, info: ValidationInfo) -> str:
        """An area code means nothing without the country it is in."""
        if value and not info.data.get("country_code"):
            raise ValueError("set the country code too: an area code is read within its country")
        return value

    @field_validator("ban_allow")
    @classmethod
    def _ban_allow(cls, value: str) -> str:
        networks = []
        for item in re.split(r"[,\s]+", value.strip()):
            if not item:
                continue
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"'{item[:50]}' is not an address or a network like 192.168.1.0/24") from None
        return ", ".join(networks)

    # The networks the site calls local, comma-separated: an extension without permitted networks of its
    # own may register and call from these only.
    local_networks: Annotated[str, StringConstraints(max_length=1000)] = DEFAULT_LOCAL_NETWORKS

    @field_validator("local_networks")
    @classmethod
    def _local_networks(cls, value: str) -> str:
        networks = parse_networks(value)
        if not networks:
            raise ValueError(N_("give at least one network (such as 192.168.1.0/24): with none, no phone could "
                             "register"))
        return ", ".join(networks)

    @field_validator("timezone")
    @classmethod
    def _site_zone(cls, value: str) -> str:
        return localtime.check_zone(value)

    @field_validator("tone_zone")
    @classmethod
    def _dahdi_zone(cls, value: str) -> str:
        if value not in TONE_ZONES:
            raise ValueError(f"'{value}' is not a DAHDI tone zone (known: {', '.join(TONE_ZONES)})")
        return value

    @field_validator("rtp_end")
    @classmethod
    def _range(cls, value: int, info) -> int:
        if "rtp_start" in info.data and value <= info.data["rtp_start"]:
            raise ValueError(N_("must be above rtp_start"))
        return value


# What a site whose language becomes Chinese gets for the settings it leaves at their defaults: China's dial,
# ringing (450 Hz, 1 s on 4 s off) and busy tones, and Beijing time.
LANGUAGE_DEFAULTS: dict[str, dict[str, str]] = {"zh": {"tone_zone": "cn", "timezone": "Asia/Shanghai",
                                                       "prompt_language": "zh", "country_code": "86"}}


def with_language_defaults(base: dict, given: dict) -> dict:
    """The settings ``base`` with ``given`` over them, and, when ``given`` makes the language one with
    defaults of its own (zh), those defaults for the settings ``given`` does not name and ``base`` still
    has at their defaults (``tone_zone`` us, ``timezone`` the box's, ``prompt_language`` en,
    ``country_code`` none).  A site created or switched to Chinese thus hears Chinese tones and Mandarin
    prompts, counts days from Beijing's midnight and classes numbers by China's plan (mobile, toll-free,
    110 ...: ``appliance.site.numbering``), while a value the admin chose is never overridden."""
    merged = {**base, **given}
    wanted = LANGUAGE_DEFAULTS.get(str(merged.get("language", "")), {})
    if wanted and base.get("language") != merged.get("language"):
        for name, value in wanted.items():
            field = Settings.model_fields[name]
            default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
            if name not in given and base.get(name, default) == default:
                merged[name] = value
    return merged


# ---------------------------------------------------------------- telephony hardware (DAHDI)

# Tone zones DAHDI knows (dahdi-tools zonedata.c): dahdi_cfg refuses any other loadzone.
TONE_ZONES = (
    "us", "au", "fr", "nl", "uk", "fi", "es", "jp", "no", "at", "nz", "it", "us-old", "gr", "tw", "cl", "se",
    "be", "sg", "il", "br", "hu", "lt", "pl", "za", "pt", "ee", "mx", "in", "de", "ch", "dk", "cz", "cn", "ar",
    "my", "th", "bg", "ve", "ph", "ru", "tr", "pa", "mo", "cr", "ae",
)
# Where a card is: an inventory key as `linebox hardware scan` prints it (pci:0000:04:00.0, usb:1-1), a DAHDI
# hardware id (1DA4B0123456, usb:X1061234) or a sysfs device path with '@' (what assigned-spans.conf takes).
CARD_RE = r"^(|@?[A-Za-z0-9][A-Za-z0-9:./_-]{0,199})$"
DAHDI_DESTINATION_RE = describe_pattern(r"^(inbound_routes|" + DESTINATION_RE[2:-2] + r")$",
                                        "inbound_routes, " + DESTINATION_FORMS)


def _ipv4_address(value: str) -> str:
    """One IPv4 host address, as a SIP URI and Kamailio's dispatcher list take it."""
    value = value.strip()
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(f"{value[:60]!r} is not an IPv4 address (such as 192.168.10.21)") from None


# no length limit of its own: "must be at most 15 characters" would say less than "is not an IPv4 address"
IPv4Address = Annotated[str, AfterValidator(_ipv4_address)]
OptionalIPv4Address = Annotated[str, AfterValidator(lambda value: _ipv4_address(value) if value.strip() else "")]


class ClusterNode(SiteObject):
    """One Asterisk node of a multi-node site behind the Kamailio edge (``settings.cluster_edge``).

    A queue and its waiting callers live on one node (``queues``); the edge sends a queue's calls, and the
    calls of the agents who answer it, to that node, and to the node's ``standby`` (another node) while the
    node does not answer the edge's OPTIONS (``appliance.cluster``).  A site without nodes is one box.
    """

    name: Identifier
    address: IPv4Address
    standby: Identifier
    queues: list[Number] = Field(default_factory=list)


class DahdiTrunk(SiteObject):
    """A DAHDI trunk group (FXO ports, PRI spans): a name outbound routes use, dialled as ``DAHDI/g<N>``."""

    name: Identifier
    group: int = Field(ge=1, le=63)
    hunting: Literal["ascending", "descending", "round_robin_ascending", "round_robin_descending"] = "ascending"
    destination: Annotated[str, StringConstraints(pattern=DAHDI_DESTINATION_RE)] = "inbound_routes"
    caller_id: Digits = ""
    max_channels: int = Field(default=0, ge=0, le=1000)


class AnalogPort(SiteObject):
    """An analog port, known by its DAHDI channel (and, optionally, the card and port it is on).

    FXS ports feed a phone and are bound to an extension; FXO ports plug into a telephone line and
    belong to a DAHDI trunk.
    """

    channel: int = Field(ge=1, le=4096)
    kind: Literal["fxs", "fxo"]
    card: Annotated[str, StringConstraints(pattern=CARD_RE)] = ""
    port: int = Field(default=0, ge=0, le=64, validate_default=True)  # 1-based port on ``card``; 0: no card given
    extension: Annotated[str, StringConstraints(pattern=r"^([0-9]{2,8})?$")] = Field(default="", validate_default=True)
    trunk: Annotated[str, StringConstraints(pattern=r"^(|" + IDENTIFIER_RE[1:-1] + r")$")] = Field(
        default="", validate_default=True)
    echo_cancel: bool = True

    @field_validator("port")
    @classmethod
    def _port_with_card(cls, value: int, info) -> int:
        card = info.data.get("card", "")
        if card and not value:
            raise ValueError(N_("give the port number on the card (1 = first port)"))
        if value and not card:
            raise ValueError(N_("a port number needs the card it is on (card)"))
        return value

    @field_validator("extension")
    @classmethod
    def _fxs_has_extension(cls, value: str, info) -> str:
        kind = info.data.get("kind")
        if kind == "fxs" and not value:
            raise ValueError(N_("an FXS port needs the extension its phone is"))
        if kind == "fxo" and value:
            raise ValueError(N_("an FXO port is a line, not a phone: give it a trunk, not an extension"))
        return value

    @field_validator("trunk")
    @classmethod
    def _fxo_has_trunk(cls, value: str, info) -> str:
        kind = info.data.get("kind")
        if kind == "fxo" and not value:
            raise ValueError(N_("an FXO port needs the DAHDI trunk it belongs to"))
        if kind == "fxs" and value:
            raise ValueError(N_("an FXS port is a phone, not a line: give it an extension, not a trunk"))
        return value


SPAN_FRAMING = {"e1": ("ccs", "cas"), "t1": ("esf", "d4")}
SPAN_CODING = {"e1": ("hdb3", "ami"), "t1": ("b8zs", "ami")}


class Span(SiteObject):
    """An E1 or T1 span used as an ISDN PRI trunk, on a card or as a dynamic local (``loc``) span.

    A ``loc`` span is DAHDI's software loopback (dahdi_dynamic_loc): two loc spans with the same key
    and different ids are wired back to back.  It exists for the virtual lab and tests; it has 24
    channels (B 1-23, D 24) whatever the line type, and no span= line options.
    """

    span: int = Field(ge=1, le=128)
    source: Literal["card", "loc"] = "card"
    loc: Annotated[str, StringConstraints(pattern=r"^([0-9]{1,4}:[0-9]{1,4})?$")] = Field(
        default="", validate_default=True)
    card: Annotated[str, StringConstraints(pattern=CARD_RE)] = Field(default="", validate_default=True)
    local_span: int = Field(default=1, ge=1, le=8)
    line_type: Literal["e1", "t1"] = "e1"
    switch_type: Literal["national", "euroisdn", "dms100", "4ess", "5ess", "ni1", "qsig"] = "euroisdn"
    framing: Literal["ccs", "cas", "esf", "d4"] = Field(default="ccs", validate_default=True)
    coding: Literal["hdb3", "ami", "b8zs"] = Field(default="hdb3", validate_default=True)
    crc4: bool = Field(default=True, validate_default=True)
    timing: int = Field(default=1, ge=0, le=128)  # 1 = our clock comes from this span first; 0 = never
    lbo: int = Field(default=0, ge=0, le=7)
    side: Literal["network", "cpe"] = "cpe"
    trunk: Identifier
    echo_cancel: bool = True

    @model_validator(mode="before")
    @classmethod
    def _line_defaults(cls, data):
        """A T1 span given without framing, coding or crc4 gets T1's usual ESF/B8ZS without CRC4."""
        if isinstance(data, dict) and str(data.get("line_type", "e1")).lower() == "t1":
            data = {"framing": "esf", "coding": "b8zs", "crc4": False, **data}
        return data

    @field_validator("loc")
    @classmethod
    def _loc_for_loc_spans(cls, value: str, info) -> str:
        source = info.data.get("source")
        if source == "loc" and not value:
            raise ValueError(N_("a loc span needs its key:id, e.g. 1:0 (same key, other id = the far end)"))
        if source == "card" and value:
            raise ValueError(N_("only a span whose source is loc has a loc key:id"))
        return value

    @field_validator("card")
    @classmethod
    def _card_for_card_spans(cls, value: str, info) -> str:
        source = info.data.get("source")
        if source == "loc" and value:
            raise ValueError(N_("a loc span is not on a card: leave card empty"))
        if source == "card" and not value:
            raise ValueError(N_("a card span needs its card (see 'linebox hardware show')"))
        return value

    @field_validator("framing")
    @classmethod
    def _framing_fits_line(cls, value: str, info) -> str:
        line = info.data.get("line_type")
        if line in SPAN_FRAMING and value not in SPAN_FRAMING[line]:
            raise ValueError(f"{value} is not a framing of {line.upper()} "
                             f"(use {' or '.join(SPAN_FRAMING[line])})")
        if value == "cas":
            raise ValueError(N_("cas is channel-associated signalling: a PRI span on E1 needs ccs"))
        return value

    @field_validator("coding")
    @classmethod
    def _coding_fits_line(cls, value: str, info) -> str:
        line = info.data.get("line_type")
        if line in SPAN_CODING and value not in SPAN_CODING[line]:
            raise ValueError(f"{value} is not a line coding of {line.upper()} "
                             f"(use {' or '.join(SPAN_CODING[line])})")
        return value

    @field_validator("crc4")
    @classmethod
    def _crc4_on_e1_only(cls, value: bool, info) -> bool:
        if value and info.data.get("line_type") == "t1":
            raise ValueError(N_("CRC4 exists on E1 only: turn it off for a T1 span"))
        return value
