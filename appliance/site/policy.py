"""The rules a change must pass beyond its schema: strong secrets, and risky settings agreed to out loud.

A scanner that finds a SIP account tries ``aaaaaaaaaaaa``, ``123456789012`` and the extension's own
number long before random strings; a voicemail PIN of 1234 gives a caller the box's messages and, on
many PBXs, its call-forwarding.  The schemas hold the form of a secret (12 to 64 letters and digits, 4
to 12 digits); this module refuses the guessable ones.  Generated secrets (the default) always pass.

Some settings Asterisk accepts silently open the box to people who are not its users (a trunk matching
every address, ``trust_id_inbound``...): they are refused unless the object lists them in
``accepted_risks``, which is stored, exported and audited like any field, so the agreement is on record.
Option values that would break a SIP header (``"``, ``<``, ``>``) and a music folder climbing out of its
place (``..``) are refused outright.

The rules apply to what a change brings (``problems(kind, old, new)``): a weak secret or a risky option
already stored before these rules existed keeps the site loading and applying, and is refused only when
someone types it again.  Messages name the field and never repeat a secret.
"""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel

from appliance.site.schemas import RISKS, Extension, MohClass, VoicemailBox
from appliance.site.strength import pin_weakness, secret_weakness

UNSAFE_OPTION_CHARACTERS = '"<>'


def _open(network: str) -> bool:
    """Whether an address or network written as a match or a permitted network takes in the internet, or a
    large part of it (0.0.0.0/0, or 0.0.0.0/1 and 128.0.0.0/1 together): a public network wider than a /8
    (IPv4) or a /16 (IPv6)."""
    text = network.strip()
    if text.startswith("["):
        text = text[1:].split("]")[0] + ("/" + text.rsplit("/", 1)[1] if "]/" in text else "")
    elif text.count(":") == 1:  # IPv4 with a port: 0.0.0.0:5060/0
        address, _, rest = text.partition(":")
        text = address + ("/" + rest.split("/", 1)[1] if "/" in rest else "")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False  # a host name
    return net.prefixlen < (8 if net.version == 4 else 16) and not net.is_private


def risks(kind: str, obj: BaseModel) -> dict[str, str]:
    """The risky settings of ``obj`` by risk name (``schemas.RISKS``), each with the field that holds it."""
    found: dict[str, str] = {}
    if kind == "trunk" and any(_open(entry) for entry in getattr(obj, "match", [])):
        found["open_match"] = "match"
    if kind == "extension" and any(_open(net) for net in getattr(obj, "permitted_networks", [])):
        found["open_network"] = "permitted_networks"
    options = getattr(obj, "options", None)
    for key in options if isinstance(options, dict) else ():  # an IVR's options are its digits
        if key in RISKS:
            found[key] = f"options.{key}"
    return found


def problems(kind: str, old: BaseModel | None, new: BaseModel) -> list[tuple[str, str]]:
    """What ``new`` (replacing ``old``, None for a new object) brings that the policy refuses: (field, message).

    Only what the change brings is checked: an unchanged secret, option or match is left as it was stored.
    """
    found: list[tuple[str, str]] = []

    def changed(field: str) -> bool:
        return old is None or getattr(old, field) != getattr(new, field)

    def check_secret(field: str, why: str | None, what: str) -> None:
        if changed(field) and why:
            found.append((field, f"this {what} {why}: choose another (leave the field out, or empty in the "
                                 "console, to keep a generated one)"))

    if isinstance(new, Extension):
        check_secret("password", secret_weakness(new.password, new.number), "password")
        check_secret("voicemail_pin", pin_weakness(new.voicemail_pin, new.number), "PIN")
    elif isinstance(new, VoicemailBox):
        check_secret("pin", pin_weakness(new.pin, new.number), "PIN")
    elif isinstance(new, MohClass) and changed("directory") and ".." in new.directory.split("/"):
        found.append(("directory", "'..' is not allowed: give the folder's own path (such as "
                                   "/var/lib/asterisk/moh/jazz)"))
    options = getattr(new, "options", None)
    if isinstance(options, dict):
        before = getattr(old, "options", {}) if old is not None else {}
        for key, value in sorted(options.items()):
            bad = sorted({ch for ch in value if ch in UNSAFE_OPTION_CHARACTERS})
            if bad and before.get(key) != value:
                found.append((f"options.{key}", f"{' '.join(bad)} would break the SIP headers this option "
                                                f"goes into: leave {', '.join(repr(ch) for ch in bad)} out"))
    accepted = set(getattr(new, "accepted_risks", ()))
    had = risks(kind, old) if old is not None else {}
    for risk, field in risks(kind, new).items():
        if risk not in accepted and risk not in had:
            found.append((field, f"{RISKS[risk]}. If you mean it, add {risk} to accepted_risks"))
    return found
