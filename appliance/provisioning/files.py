"""The files a generation holds: one record per generated Asterisk file, and where DAHDI's files go.

Rendering (:mod:`.render`) and reloading (:mod:`.reload`) both read the same table, so a new file is
one new record here: its template, the names its template is given, and the Asterisk command that
makes it take effect (or why there is none).  Kept apart from both, with no imports, so that reading
the table loads neither the templates nor the AMI client.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GeneratedFile:
    """One file Linebox owns in Asterisk's config folder.

    ``needs``: the names its template uses (render gives it those and nothing else).
    ``reload``: the Asterisk CLI command that makes Asterisk re-read it; None when it is read only at
    start, and then ``why`` says so.
    """

    name: str
    needs: tuple[str, ...] = ()
    reload: str | None = None
    why: str = ""

    def __post_init__(self) -> None:
        if self.reload is None and not self.why:
            raise ValueError(f"{self.name}: a file with no reload command says why")

    @property
    def template(self) -> str:
        return f"{self.name}.j2"


_AT_START = "read only when Asterisk starts"
# A module that declined to load for want of its file cannot be reloaded into life.
_NEVER_CHANGES = "never changes once written: read at Asterisk's next start"

# Every file Linebox owns in Asterisk's config folder, in the order they are rendered.
GENERATED_FILES = (
    GeneratedFile("asterisk.conf", ("facts",), why=_AT_START),
    GeneratedFile("modules.conf", ("noload",), why=_AT_START),
    GeneratedFile("logger.conf", (), "logger reload"),
    GeneratedFile("manager.conf", ("ami_secret", "ami_users", "s"), "manager reload"),
    GeneratedFile("rtp.conf", ("s",), "module reload res_rtp_asterisk.so"),
    GeneratedFile("pjsip.conf", ("local_networks", "media_encryption", "of", "projection", "s", "sip_realm",
                                 "sip_tls"), "module reload res_pjsip.so"),
    GeneratedFile("extensions.conf", ("dahdi_trunks", "device", "emergency_numbers", "fxs_devices", "greeting", "of",
                                      "robot_key",
                                      "projection",
                                      "route_extens", "s", "site", "trunk_failover", "trunk_limits"),
                  "dialplan reload"),
    # Where extensions' rows are read from (appliance.provisioning.projection): fixed by the install's folders.
    GeneratedFile("sorcery.conf", ("projection",), why=_NEVER_CHANGES),
    GeneratedFile("extconfig.conf", ("projection",), why=_NEVER_CHANGES),
    GeneratedFile("res_config_sqlite3.conf", ("projection",), why=_NEVER_CHANGES),
    GeneratedFile("voicemail.conf", ("site",), "module reload app_voicemail.so"),
    GeneratedFile("musiconhold.conf", ("of",), "module reload res_musiconhold.so"),
    GeneratedFile("queues.conf", ("device", "of"), "module reload app_queue.so"),
    GeneratedFile("queuerules.conf", ("of",), "module reload app_queue.so",
                  why="app_queue re-reads its rules with its queues"),
    GeneratedFile("features.conf", (), "module reload features"),
    # the parking lot (70, slots 71-78) that transfers to 70 park calls in
    GeneratedFile("res_parking.conf", (), "module reload res_parking.so"),
    GeneratedFile("cdr.conf", (), "module reload cdr"),
    GeneratedFile("cdr_sqlite3_custom.conf", (), "module reload cdr_sqlite3_custom.so"),
    GeneratedFile("cel.conf", (), "module reload cel"),
    GeneratedFile("cel_sqlite3_custom.conf", (), "module reload cel_sqlite3_custom.so"),
    # Files of modules Asterisk loads whatever the site: without them it logs an ERROR at every start,
    # which would hide the errors apply and ``linebox diag`` look for.
    GeneratedFile("acl.conf", why=_NEVER_CHANGES),
    GeneratedFile("udptl.conf", why=_NEVER_CHANGES),
    GeneratedFile("pjproject.conf", why=_NEVER_CHANGES),
    GeneratedFile("websocket_client.conf", why=_NEVER_CHANGES),
    GeneratedFile("ari.conf", why=_NEVER_CHANGES),
    GeneratedFile("pjsip_notify.conf", why=_NEVER_CHANGES),
    GeneratedFile("ccss.conf", why=_NEVER_CHANGES),
    GeneratedFile("indications.conf", ("facts", "indication_zone", "s"), "module reload indications"),
)
NAMES = tuple(f.name for f in GENERATED_FILES)
BY_NAME = {f.name: f for f in GENERATED_FILES}

# DAHDI's files, rendered by :mod:`hardware.dahdi_config` beside the table's: chan_dahdi.conf with
# Asterisk's, DAHDI's own (linked from the DAHDI config root) and the modprobe option in sub-folders.
CHAN_DAHDI = "chan_dahdi.conf"
DAHDI_SUBDIRS = ("dahdi", "modprobe.d")
