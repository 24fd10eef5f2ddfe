"""``linebox init-system``: the install the system's services run on, made (or checked) by root.

What it makes, each step only when missing, so running it again changes nothing:

* ``/var/lib/linebox/appliance.json`` and the database, with Asterisk's ``astetcdir`` pointing at
  ``/var/lib/linebox/asterisk/live`` (Linebox owns Asterisk's configuration folder);
* the per-install secrets (AMI password, session key) and the first ``admin`` with a one-time
  password, written to a root-only file (``/root/linebox-first-login.txt`` unless told otherwise);
* the console's self-signed TLS certificate in ``/var/lib/linebox/tls``;
* a first rendered configuration generation, linked ``live``, so Asterisk can start;
* DAHDI through the root reload service (``dahdi_cfg_via: "service"`` in appliance.json, also set on
  an install made before it existed): the services run apply as the linebox user, which may neither
  link files in ``/etc`` nor run dahdi_cfg (see :mod:`appliance.provisioning.dahdi_reload`);
* ownership and modes: everything belongs to the service user; the configuration folder's group is
  ``asterisk`` (setgid, so every later generation is readable by Asterisk and nobody else); the
  home is ``0751`` (Asterisk may pass through, nobody may list), the TLS folder ``0700``.

It prints one line per thing it did, or ``nothing to do`` (Ansible reads that for ``changed``).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.access import accounts
from appliance.asterisk.layout import DEFAULT_DIRECTORIES
from appliance.install import Install
from appliance.model import sealed
from appliance.model.database import close_database
from appliance.provisioning import apply
from appliance.services import tls
from appliance.site import service

SYSTEM_HOME = Path("/var/lib/linebox")
PASSWORD_FILE = Path("/root/linebox-first-login.txt")
ASTERISK_LOG = Path("/var/log/asterisk/messages.log")
NOTHING_TO_DO = "nothing to do"


class InitError(Exception):
    pass


@dataclass
class Owners:
    """Who owns what: ``uid``/``gid`` of the service user, ``config_gid`` of Asterisk's group (None: leave)."""

    uid: int | None = None
    gid: int | None = None
    config_gid: int | None = None

    @classmethod
    def lookup(cls, user: str | None, asterisk_group: str | None) -> Owners:
        owners = cls()
        if user:
            try:
                entry = pwd.getpwnam(user)
            except KeyError:
                raise InitError(f"no user '{user}': create it first (the Ansible role does)") from None
            owners.uid, owners.gid = entry.pw_uid, entry.pw_gid
        if asterisk_group:
            try:
                owners.config_gid = grp.getgrnam(asterisk_group).gr_gid
            except KeyError:
                raise InitError(f"no group '{asterisk_group}': install Debian's asterisk package first") from None
        return owners


@dataclass
class InitReport:
    done: list[str] = field(default_factory=list)
    password: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.done)


def system_directories(home: Path) -> dict[str, str]:
    return {**DEFAULT_DIRECTORIES, "astetcdir": str(home / "asterisk" / "live")}


def init_system(home: Path = SYSTEM_HOME, user: str | None = "linebox", asterisk_group: str | None = "asterisk",
                password_file: Path = PASSWORD_FILE, say: Callable[[str], None] = print) -> InitReport:
    """Make (or complete) the system install at ``home``; see the module docstring."""
    owners = Owners.lookup(user, asterisk_group)
    report = InitReport()

    def did(line: str) -> None:
        report.done.append(line)
        say(line)

    old_umask = os.umask(0o027)
    try:
        if not (home / "appliance.json").exists():
            Install.create(home, asterisk_directories=system_directories(home), asterisk_log=ASTERISK_LOG,
                           dahdi_cfg_via="service")
            did(f"created the install at {home}")
        install = Install.load(home)
        if install.dahdi_cfg_via != "service":
            install.dahdi_cfg_via = "service"
            install.save()
            did("DAHDI: dahdi_cfg now runs through linebox-dahdi-reload.path (dahdi_cfg_via: service)")
        install.open()
        try:
            install.ami_secret()
            # every setting stored with its default: the small services read rows (appliance.site.stored)
            service.save_settings({}, "init-system")
            password = accounts.ensure_first_admin()
            if password:
                report.password = password
                _write_private(password_file, f"Linebox web console, first login (a one-time password):\n"
                                              f"  user:     admin\n  password: {password}\n")
                did(f"created the first admin; its one-time password is in {password_file}")
            if tls.ensure(home / "tls").created:
                did(f"generated a self-signed TLS certificate in {home / 'tls'}")
            target = apply.Target(config_root=install.config_root)
            live = target.live_generation()
            if live is None or not (live / "asterisk.conf").is_file():
                result = apply.apply(service.snapshot(), install.facts(), target, user="init-system")
                if not result.ok:
                    raise InitError(f"could not render Asterisk's configuration: {result.error}")
                did(f"rendered configuration generation {result.generation} for Asterisk "
                    f"({install.config_root / 'live'})")
        finally:
            close_database()
        fixed = fix_ownership(home, install.config_root, owners, skip=password_file)
        if fixed:
            did(f"set owner and mode of {fixed} path(s) under {home}")
    finally:
        os.umask(old_umask)
    if not report.changed:
        say(f"{NOTHING_TO_DO}: {home} is initialised")
    return report


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def _wanted(path: Path, st: os.stat_result, home: Path, config_root: Path, owners: Owners) -> tuple[int, int, int]:
    """(uid, gid, mode) a path under ``home`` should have; -1 keeps the current value."""
    uid = owners.uid if owners.uid is not None else -1
    gid = owners.gid if owners.gid is not None else -1
    mode = stat.S_IMODE(st.st_mode)
    in_config = path == config_root or config_root in path.parents
    is_dir = stat.S_ISDIR(st.st_mode)
    if path == home:
        mode = 0o751
    elif in_config:
        if owners.config_gid is not None:
            gid = owners.config_gid
        mode = 0o2750 if is_dir else 0o640
    elif path.name == sealed.KEY_FILE:
        mode = 0o600  # the key the database's secrets are sealed with (appliance.model.sealed)
    elif path.parent == home / "tls" or path == home / "tls":
        mode = 0o700 if is_dir else (0o600 if path.name == "key.pem" else 0o644)
    else:
        mode &= ~0o007  # nothing for others: the database holds every secret of the site
    return uid, gid, mode


def fix_ownership(home: Path, config_root: Path, owners: Owners, skip: Path | None = None) -> int:
    """Give every path under ``home`` its owner and mode; return how many needed a change."""
    changed = 0
    paths = [home]
    for dirpath, dirnames, filenames in os.walk(home):
        paths += [Path(dirpath) / name for name in dirnames + filenames]
    for path in paths:
        if skip is not None and path == skip:
            continue
        st = path.lstat()
        uid, gid, mode = _wanted(path, st, home, config_root, owners)
        touched = False
        if (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid):
            os.lchown(path, uid, gid)
            touched = True
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(path.lstat().st_mode) != mode:
            path.chmod(mode)  # after chown, which clears setgid bits
            touched = True
        changed += touched
    return changed
