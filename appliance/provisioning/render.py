"""Render the site into Asterisk's config files: one template per generated file.

Which files, and the names each template is given, are the records of :mod:`.files` (the table apply's
reload reads too); this module holds the templates' environment and makes those names from the site.

Rendering is a pure function of the site snapshot plus the install's
secrets: the same database gives byte-identical files (objects are always
walked in key order, nothing depends on time or randomness), which is what
makes the apply diff meaningful and the golden-file tests possible.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from appliance.asterisk import ami_users
from appliance.asterisk.layout import DEFAULT_SOUNDS_DIR
from appliance.provisioning import escape, files, projection, sip_tls, sounds
from appliance.robot import calls as robot_calls
from appliance.site import numbering, schemas
from appliance.site.checks import Site
from hardware import dahdi_config
from hardware.detect import Inventory

TEMPLATES = Path(__file__).parent / "templates"

# The names of the generated files, in the order they are rendered (the records are in :mod:`.files`).
GENERATED_FILES = files.NAMES


# Modules an on-premises PBX has no use for (other channel drivers, databases,
# cloud and realtime back ends) or that clash with the ones it uses
# (app_voicemail_odbc beside app_voicemail).  Not loading them saves memory and
# keeps Asterisk's log free of errors about their missing config files, so the
# errors apply looks for after a reload are the ones that matter.
UNUSED_MODULES = (
    "app_voicemail_odbc.so", "app_voicemail_imap.so", "app_festival.so", "app_alarmreceiver.so", "app_jack.so",
    "app_minivm.so", "app_mp3.so", "app_sms.so", "app_adsiprog.so", "app_getcpeid.so",
    "pbx_lua.so", "pbx_ael.so", "res_ael_share.so", "pbx_dundi.so", "pbx_realtime.so",
    "chan_unistim.so", "chan_iax2.so", "chan_console.so", "chan_motif.so", "res_xmpp.so", "chan_websocket.so",
    "chan_audiosocket.so",  # the voice robot uses the AudioSocket application (res_ and app_audiosocket)
    "res_snmp.so", "res_prometheus.so", "res_statsd.so", "res_hep.so", "res_hep_pjsip.so", "res_hep_rtcp.so",
    "res_calendar.so", "res_calendar_caldav.so", "res_calendar_ews.so", "res_calendar_exchange.so",
    "res_calendar_icalendar.so", "res_config_ldap.so", "res_config_pgsql.so",
    "res_config_odbc.so", "res_config_curl.so", "res_odbc.so", "res_odbc_transaction.so", "func_odbc.so",
    "cdr_adaptive_odbc.so", "cdr_odbc.so", "cdr_pgsql.so", "cdr_radius.so", "cdr_tds.so", "cdr_csv.so",
    "cdr_custom.so", "cel_odbc.so", "cel_pgsql.so", "cel_radius.so", "cel_tds.so", "cel_custom.so",
    "res_phoneprov.so", "res_pjsip_phoneprov_provider.so", "res_stun_monitor.so",
    "res_resolver_unbound.so", "res_pjsip_config_wizard.so", "res_stir_shaken.so", "res_pjsip_stir_shaken.so",
    "res_geolocation.so", "res_pjsip_geolocation.so", "res_aeap.so", "res_speech_aeap.so", "res_smdi.so",
    "res_clialiases.so", "res_pjsip_transport_websocket.so",
    # the CLI's "channel originate": over AMI's Command action it would start System() without the
    # system class (appliance.asterisk.ami_users)
    "res_clioriginate.so",
    # features Linebox does not offer (yet): agent pools (queues use extensions), conference rooms and paging
    # (a three-way call is the bridge core's atxferthreeway, no room), follow-me, answering-machine
    # detection, CDRs over AMI (the collector reads CEL/queue_log)
    "app_agent_pool.so", "app_confbridge.so", "app_page.so", "app_followme.so", "app_amd.so",
    "cdr_manager.so", "res_http_media_cache.so",
    # native RTP bridging: packets forwarded between two legs as they came, the other phone's SSRC, sequence
    # and timestamps and all.  After a parked call was picked up the far end heard silence in about half the
    # lab runs (2026-12-07: 4 of 6, then 2 of 3; 6 of 6 heard with this module off).  Media through the
    # bridge core, as every recorded, whispered or encrypted call has anyway, never lost it.
    "bridge_native_rtp.so",
)


@dataclass(frozen=True)
class InstallFacts:
    """What differs between installs but is not a site setting: secrets and folders."""

    ami_secret: str
    directories: dict[str, str]
    # Where Linebox keeps uploaded and spoken sounds, as Asterisk sees it (the dialplan names them by path).
    sounds_dir: str = DEFAULT_SOUNDS_DIR
    noload: tuple[str, ...] = ("chan_dahdi.so", "codec_dahdi.so", "res_timing_dahdi.so", *UNUSED_MODULES)
    # The SIP certificate's SHA-256 (:mod:`.sip_tls`), named in pjsip.conf so a new one reloads the transport
    sip_tls_fingerprint: str = ""
    sip_tls_cas: str = ""  # and the SHA-256 of the CAs TLS trunks are verified against




# The digest realm and an extension's digest: :mod:`.projection`'s rows and pjsip.conf's file-backed
# extensions are written the same way.
SIP_REALM = projection.SIP_REALM
sip_digest = projection.sip_digest


def goto(destination: str) -> str:
    """The dialplan application that sends a call to a destination."""
    kind, _, target = destination.partition(":")
    return {
        "hangup": "Hangup()",
        "extension": f"Goto(ext-local,{target},1)",
        "ringgroup": f"Goto(ext-ringgroups,{target},1)",
        "voicemail": f"Goto(ext-voicemail,{target},1)",
        "timecondition": f"Goto(tc-{target},s,1)",
        "announcement": f"Goto(ann-{target},s,1)",
        "ivr": f"Goto(ivr-{target},s,1)",
        "robot": f"Goto(robot-{target},s,1)",
        "queue": f"Goto(ext-queues,{target},1)",
        "inbound_routes": "Goto(from-trunk,${EXTEN},1)",  # a DAHDI trunk's calls through the inbound routes
    }[kind]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(
        conf_text=escape.conf_text,
        callerid_name=escape.callerid_name,
        voicemail_text=escape.voicemail_text,
        b64=escape.dialplan_base64,
        goto=goto,
        sip_digest=sip_digest,
        dahdi_dial=dahdi_config.dial_string,
    )
    return env


_ENV = _environment()


# The zones of Asterisk 22's own tone table (indications.conf.sample); for the few more DAHDI knows
# (schemas.TONE_ZONES minus these: ar, tr, pa, mo, cr, ae) Asterisk plays the "us" tones.
ASTERISK_TONE_ZONES = frozenset((
    "at", "au", "bg", "br", "be", "ch", "cl", "cn", "cz", "de", "dk", "ee", "es", "fi", "fr", "gr", "hu", "id",
    "il", "in", "it", "lt", "jp", "mx", "my", "nl", "no", "nz", "ph", "pl", "pt", "ru", "se", "sg", "th", "uk",
    "us", "us-old", "tw", "ve", "za",
))

# Loaded only where the site has analog ports or spans (the lab's Asterisk and most installs have no DAHDI).
DAHDI_MODULES = ("chan_dahdi.so", "res_timing_dahdi.so")


def render_file(name: str, site: Site, facts: InstallFacts, made: dict[str, Any] | None = None) -> str:
    """One file; ``made``: the names already made for other files of the same render (each is made once)."""
    entry = files.BY_NAME[name]
    template = _ENV.get_template(entry.template)
    made = {} if made is None else made
    for need in entry.needs:
        if need not in made:
            made[need] = _CONTEXT[need](site, facts)
    return template.render({need: made[need] for need in entry.needs})


def _noload(site: Site, facts: InstallFacts) -> list[str]:
    with_dahdi = dahdi_config.uses_dahdi(site)
    return [m for m in facts.noload if not (with_dahdi and m in DAHDI_MODULES)]


def _fxs_devices(site: Site) -> dict[str, str]:
    return {p.extension: f"DAHDI/{p.channel}" for p in site.of("analog_port") if p.kind == "fxs"}


def _device(site: Site) -> Callable[[str], str]:
    fxs_devices = _fxs_devices(site)

    def device(number: str) -> str:
        """The channel that rings extension ``number``: its analog port, or its SIP endpoint."""
        return fxs_devices.get(number, f"PJSIP/{number}")
    return device


def _greeting(facts: InstallFacts) -> Callable[[Any], str]:
    return lambda ivr: sounds.playback_path(facts.sounds_dir, ivr.greeting, ivr.greeting_text, ivr.greeting_voice)


# What a template may name (a record's ``needs``), each made from the site and the install's facts
# only for the templates that use it.
_CONTEXT: dict[str, Callable[[Site, InstallFacts], Any]] = {
    "site": lambda site, facts: site,
    "s": lambda site, facts: site.settings,
    "facts": lambda site, facts: facts,
    "of": lambda site, facts: site.of,
    "route_extens": lambda site, facts: route_extens,
    "trunk_limits": lambda site, facts: {t.name: t.max_channels for t in site.of("trunk")},
    "trunk_failover": lambda site, facts: {t.name: f"{t.failover_seconds:g}" for t in site.of("trunk")},
    "noload": _noload,
    "fxs_devices": lambda site, facts: _fxs_devices(site),
    "dahdi_trunks": lambda site, facts: {t.name: t for t in site.of("dahdi_trunk")},
    "device": lambda site, facts: _device(site),
    "indication_zone": lambda site, facts: (site.settings.tone_zone if site.settings.tone_zone in ASTERISK_TONE_ZONES
                                            else "us"),
    "greeting": lambda site, facts: _greeting(facts),
    "robot_key": lambda site, facts: robot_calls.robot_key,
    # what the dialplan lets out when the dial guard cannot be asked (appliance.billing.guard)
    "emergency_numbers": lambda site, facts: numbering.emergency_short_numbers(numbering.NumberPlan.for_site(site)),
    "ami_users": lambda site, facts: ami_users.AMI_USERS,
    "ami_secret": lambda site, facts: lambda user: ami_users.secret_for(facts.ami_secret, user),
    # an extension without permitted networks of its own may be used from these (parsed once, not per phone)
    "local_networks": lambda site, facts: ",".join(schemas.parse_networks(site.settings.local_networks)),
    "sip_realm": lambda site, facts: SIP_REALM,
    "sip_tls": lambda site, facts: {**sip_tls.inner_paths(facts.directories["astetcdir"]),
                                    "fingerprint": facts.sip_tls_fingerprint, "cas": facts.sip_tls_cas},
    "media_encryption": lambda site, facts: lambda obj: projection.media_encryption(
        obj.encryption, site.settings.sip_encryption),
    # extensions' PJSIP objects and dialplan facts: rows of the projection file, as Asterisk sees its path
    "projection": lambda site, facts: _projection_facts(site, facts),
}


# Sites from this many extensions qualify their phones over 10 s at start (1,000 OPTIONS a second at 10,000),
# smaller ones within 2 s (see pjsip.conf's max_initial_qualify_time).
INITIAL_QUALIFY_STEP = 2000


def _projection_facts(site: Site, facts: InstallFacts) -> dict[str, Any]:
    fxs = projection.fxs_numbers(site)
    exts = site.of("extension")
    return {
        "file": posixpath.join(posixpath.dirname(facts.directories["astetcdir"].rstrip("/")), projection.FILE_NAME),
        "database": projection.DATABASE,
        "tables": list(projection.TABLES),
        "types": projection.SORCERY_TYPES,
        # extensions whose PJSIP objects stay in pjsip.conf (free options: see projection.in_projection)
        "in_file": [e for e in exts if not projection.in_projection(e, fxs)],
        "ranges": number_ranges(e.number for e in exts),
        # two steps only, so that adding extensions almost never changes pjsip.conf (a res_pjsip reload)
        "initial_qualify": 2 if len(exts) < INITIAL_QUALIFY_STEP else 10,
    }


def number_ranges(numbers: Iterable[str]) -> list[str]:
    """The dialplan patterns that cover extension numbers: one per first digit and length (``_2XX``), so that
    a new extension changes the dialplan only when it opens a new range."""
    return sorted({f"_{n[0]}{'X' * (len(n) - 1)}" for n in numbers}, key=lambda p: (len(p), p))


def route_extens(route) -> list[str]:
    """The ``exten =>`` names an inbound route answers: DID (or any number) and caller-ID filter."""
    dids = [route.did] if route.did else ["_X.", "_+X.", "s"]
    return [f"{did}/{route.cid}" if route.cid else did for did in dids]


def render_all(site: Site, facts: InstallFacts) -> dict[str, str]:
    """Every generated file, by name."""
    made: dict[str, Any] = {}  # e.g. the projection's facts, read by five templates, walk 10,000 extensions once
    return {name: render_file(name, site, facts, made) for name in GENERATED_FILES}


def render_dahdi_files(site: Site, inventory: Inventory | None = None) -> dict[str, str]:
    """The DAHDI files as a generation holds them: chan_dahdi.conf beside the other Asterisk files,
    DAHDI's own under ``dahdi/`` and the modprobe option under ``modprobe.d/``."""
    return {path.removeprefix("asterisk/"): text
            for path, text in dahdi_config.render_dahdi(site, inventory).items()}
