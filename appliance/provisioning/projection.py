"""The projection: extensions' PJSIP objects and dialplan facts as rows Asterisk reads at run time.

Extensions are most of a site and change most often.  Written into pjsip.conf and extensions.conf, one
new phone meant reloading res_pjsip (seconds of Asterisk CPU at 10,000 extensions, every endpoint
touched) and the whole dialplan.  Instead, their endpoint, auth and aor are rows of a small SQLite file
beside the generations (``objects.sqlite3``), read by Asterisk through sorcery's realtime back end
(res_config_sqlite3, sorcery.conf/extconfig.conf/res_config_sqlite3.conf from :mod:`.render`) behind a
memory cache; the dialplan reads an extension's ring time, voicemail and recording from ``lb_extensions``
(REALTIME_HASH) through one pattern per number range.  So one extension is live once its rows are written
and the cache forgets its old objects (:mod:`.live`), and nothing is reloaded.

It is a projection of the database, never a second truth: every full apply and the boot-time apply
(:func:`sync`) make it equal to the database, so a restart, a backup (of the database) and a diff see
the same site.  The file is updated in place (Asterisk keeps it open), in one transaction per change, in
SQLite's rollback-journal mode (Asterisk's group only reads: WAL would need it to write the -shm file),
mode 0640, group asterisk: it holds SIP digests, never passwords, and is never world-readable.

Which extensions go this way (:func:`in_projection`): every one without endpoint ``options`` (free
PJSIP options, which a fixed table cannot hold: those few stay in pjsip.conf, the file wins in sorcery's
order) and not on an analog FXS port (its dialplan line names the port).
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from peewee import fn

from appliance.model.models import AuditEntry
from appliance.provisioning import escape
from appliance.site import schemas
from appliance.site.checks import Site

FILE_NAME = "objects.sqlite3"
# The realtime "database" name in res_config_sqlite3.conf and extconfig.conf.
DATABASE = "linebox"
ASTERISK_GROUP = "asterisk"

# Every column NOT NULL and written by Linebox: res_config_sqlite3 hands a NULL to sorcery as "", which
# an enum option refuses (the object would not load).  Only the options Linebox sets: the rest keep
# Asterisk's defaults.
TABLES: dict[str, tuple[str, ...]] = {
    "ps_endpoints": ("id", "context", "disallow", "allow", "auth", "aors", "callerid", "direct_media",
                     "rtp_symmetric", "force_rport", "rewrite_contact", "dtmf_mode", "language", "deny", "permit",
                     "mailboxes", "media_encryption", "media_encryption_optimistic"),
    "ps_auths": ("id", "auth_type", "realm", "username", "password_digest"),
    "ps_aors": ("id", "max_contacts", "remove_existing", "qualify_frequency"),
    # what the dialplan's lookup reads (extensions.conf's sub-local)
    "lb_extensions": ("number", "ring_seconds", "voicemail", "recording"),
}
# The sorcery object type each PJSIP table holds (the memory cache is named res_pjsip/<type>).
SORCERY_TYPES = {"ps_endpoints": "endpoint", "ps_auths": "auth", "ps_aors": "aor"}
STATE_TABLE = "lb_state"

Rows = dict[str, dict[str, tuple[str, ...]]]  # table -> id -> row (in TABLES' column order)

# The digest realm Asterisk challenges phones with.  Extensions' credentials are written as digests of
# "number:realm:password" (``sip_digest``), never as the password: a digest holds only for its realm, so
# the realm is pinned here (pjsip.conf's global default_realm and each auth's realm), never Asterisk's
# default, which a package upgrade could change.
SIP_REALM = "linebox"


def sip_digest(password: str, username: str) -> str:
    """PJSIP's ``password_digest`` for an account: MD5 of ``username:realm:password`` (RFC 2617's HA1).

    Every SIP phone answers an MD5 challenge; a copy of the rows or of pjsip.conf (a debug bundle, a
    generation kept for rollback, a backup of /etc) then lets nobody register elsewhere with the password,
    and the password cannot be read back from it (a strong generated secret is out of reach of a dictionary)."""
    digest = hashlib.md5(f"{username}:{SIP_REALM}:{password}".encode(), usedforsecurity=False).hexdigest()
    return f"MD5:{digest}"


def in_projection(ext: schemas.Extension, fxs_numbers: Iterable[str] = ()) -> bool:
    """Whether this extension's objects are rows here (else: in the files, as before)."""
    return not ext.options and ext.number not in set(fxs_numbers)


def fxs_numbers(site: Site) -> set[str]:
    return {p.extension for p in site.of("analog_port") if p.kind == "fxs"}


def local_networks(settings: schemas.Settings) -> str:
    """Where an extension without permitted networks of its own may register and call from."""
    return ",".join(schemas.parse_networks(settings.local_networks))


def phone_language(settings: schemas.Settings) -> str:
    """The language a phone's calls start in: the site's prompt language ("" for English, Asterisk's own
    default, as pjsip.conf leaves it unset)."""
    return "" if settings.prompt_language == "en" else settings.prompt_language


# A phone's or trunk's encryption as PJSIP's (media_encryption, media_encryption_optimistic): "preferred"
# offers SRTP and takes plain RTP; "required" refuses a call without SRTP (488 Not Acceptable Here).
MEDIA_ENCRYPTION = {"plain": ("no", "no"), "preferred": ("sdes", "yes"), "required": ("sdes", "no")}


def media_encryption(own: str, site_default: str) -> tuple[str, str]:
    """PJSIP's media encryption options for an object's ``encryption`` ("" follows the site's)."""
    return MEDIA_ENCRYPTION[own or site_default]


def extension_rows(ext: schemas.Extension, networks: str, language: str = "", encryption: str = "plain", *,
                   pjsip: bool = True) -> Rows:
    """The rows of one extension: what pjsip.conf held for it, as sorcery reads it (no file escaping:
    a value is never parsed as a line, but the caller-ID name keeps the form ``"Name" <number>``)."""
    rows: Rows = {"lb_extensions": {ext.number: (ext.number, str(ext.ring_seconds),
                                                 "yes" if ext.voicemail else "no", ext.recording)}}
    if not pjsip:
        return rows
    n = ext.number
    rows["ps_endpoints"] = {n: (
        n, "from-internal", "all", "ulaw,alaw,g722,gsm", f"{n}-auth", n,
        f'"{escape.callerid_row_name(ext.name)}" <{n}>', "no", "yes", "yes", "yes", "rfc4733", language,
        "0.0.0.0/0.0.0.0,::/0", ",".join(ext.permitted_networks) if ext.permitted_networks else networks,
        f"{n}@default" if ext.voicemail else "", *media_encryption(ext.encryption, encryption),
    )}
    rows["ps_auths"] = {f"{n}-auth": (f"{n}-auth", "digest", SIP_REALM, n,
                                      sip_digest(ext.password, n))}
    rows["ps_aors"] = {n: (n, "3", "yes", "60")}
    return rows


# The last :func:`site_rows` of this process: its inputs besides the extensions, each extension object with its
# rows, and the whole result.  The next call starts from that result and changes the rows of the extensions
# that are not the same objects (a snapshot gives an unchanged row as the same object): one extension's rows
# computed after one change, not 10,000 (the rows of a site are read-only to callers).
_LAST: tuple[tuple, dict[int, tuple[schemas.Extension, Rows]], Rows] | None = None
_LAST_LOCK = threading.Lock()


def site_rows(site: Site) -> Rows:
    """Every row of the site: what the file must hold after a full apply."""
    global _LAST
    fxs = fxs_numbers(site)
    networks = local_networks(site.settings)
    language = phone_language(site.settings)
    encryption = site.settings.sip_encryption
    inputs = (networks, language, encryption, frozenset(fxs))
    extensions = [e for e in site.of("extension") if e.number not in fxs]  # on a port: its dialplan line names it
    with _LAST_LOCK:
        last = _LAST
    kept: dict[int, tuple[schemas.Extension, Rows]] = {}
    rows: Rows = {table: {} for table in TABLES}
    if last is not None and last[0] == inputs:
        kept, rows = last[1], {table: dict(by_id) for table, by_id in last[2].items()}
        current = {id(e): e for e in extensions}
        for key, (ext, its) in kept.items():  # the rows of extensions gone or changed go first
            if current.get(key) is not ext:
                for table, by_id in its.items():
                    for i in by_id:
                        rows[table].pop(i, None)
    made: dict[int, tuple[schemas.Extension, Rows]] = {}
    for ext in extensions:
        hit = kept.get(id(ext))
        if hit is None or hit[0] is not ext:
            hit = (ext, extension_rows(ext, networks, language, encryption, pjsip=in_projection(ext, fxs)))
            for table, by_id in hit[1].items():
                rows[table].update(by_id)
        made[id(ext)] = hit  # the entry holds the object: its id is not reused while the entry is kept
    with _LAST_LOCK:
        _LAST = (inputs, made, rows)
    return rows


def _schema(db: sqlite3.Connection) -> None:
    """The tables, each with ``TABLES``' columns.  A table an older Linebox made with other columns is made
    again empty: its rows are derived data, and the sync that follows writes every one (a push of one
    object after an upgrade finds the table short of rows and the full apply the upgrade runs refills it)."""
    for table, columns in TABLES.items():
        present = tuple(row[1] for row in db.execute(f"PRAGMA table_info({table})"))
        if present and present != columns:
            db.execute(f"DROP TABLE {table}")
        cols = ", ".join(f"{c} TEXT NOT NULL" + (" PRIMARY KEY" if i == 0 else "") for i, c in enumerate(columns))
        db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
    db.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")


def _create(path: Path) -> None:
    """A new, empty file: 0640, group asterisk where that group exists (the appliance), never world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o640)
    try:
        os.fchmod(fd, 0o640)
        with contextlib.suppress(KeyError, PermissionError):
            os.fchown(fd, -1, grp.getgrnam(ASTERISK_GROUP).gr_gid)
    finally:
        os.close(fd)


@contextlib.contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """The projection file, made with its tables if new; the caller's block is one transaction."""
    if not path.exists():
        _create(path)
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=DELETE")  # see the module's docstring: Asterisk only reads
        db.execute("BEGIN IMMEDIATE")
        try:
            _schema(db)
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.close()


def read_rows(db: sqlite3.Connection, ids: Mapping[str, Iterable[str]] | None = None) -> Rows:
    """The rows stored now: all of them, or those of ``ids`` (table -> ids)."""
    rows: Rows = {}
    for table, columns in TABLES.items():
        key = columns[0]
        if ids is None:
            found = db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
        else:
            wanted = list(ids.get(table, ()))
            found = [r for i in wanted
                     for r in db.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = ?", (i,))]
        rows[table] = {r[0]: tuple(r) for r in found}
    return rows


@dataclass
class Written:
    """What a write changed: the ids per table, and the rows they had before (to put them back)."""

    changed: dict[str, list[str]] = field(default_factory=dict)
    before: Rows = field(default_factory=dict)
    removed: set[tuple[str, str]] = field(default_factory=set)  # (table, id) of the rows deleted
    previous_revision: int | None = None  # the revision the file held before (put back with the rows)

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.changed.values())

    def sorcery_objects(self) -> list[tuple[str, str]]:
        """(type, id) of the PJSIP objects changed: those sorcery's memory cache must forget."""
        return [(SORCERY_TYPES[t], i) for t, ids in self.changed.items() if t in SORCERY_TYPES for i in ids]


def write(db: sqlite3.Connection, new: Rows, old: Rows, scope: Mapping[str, Iterable[str]]) -> Written:
    """Make the rows of ``scope`` (table -> ids) those of ``new``: insert, replace, delete; ``old`` holds
    what is stored now for at least that scope.  Returns what changed."""
    done = Written()
    for table, ids in scope.items():
        columns = TABLES[table]
        for i in ids:
            want, have = new.get(table, {}).get(i), old.get(table, {}).get(i)
            if want == have:
                continue
            if want is None:
                db.execute(f"DELETE FROM {table} WHERE {columns[0]} = ?", (i,))
                done.removed.add((table, i))
            else:
                db.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
                           f"VALUES ({', '.join('?' * len(columns))})", want)
            done.changed.setdefault(table, []).append(i)
            if have is not None:
                done.before.setdefault(table, {})[i] = have
    return done


def set_revision(db: sqlite3.Connection, revision: int) -> None:
    db.execute(f"INSERT OR REPLACE INTO {STATE_TABLE} (key, value) VALUES ('revision', ?)", (str(revision),))


# The rows a full apply of this process last left in a file, with the file's state then (:func:`file_state`):
# while the file is in that state, the next full apply compares the site's rows with these instead of reading
# 40,000 rows back.  Any other write (a push, a restore, another process) changes the state, and the rows are
# read again.  Every writer holds the install's apply lock, so no write falls between a commit and its state.
_SYNCED: dict[Path, tuple[tuple, Rows]] = {}


def file_state(path: Path) -> tuple:
    """The file's identity, size and times, and SQLite's file change counter (header bytes 24-27), which every
    committed write changes in rollback-journal mode (the mode this file is kept in): a file written again, or
    removed and made anew (even in the same inode), is never taken for the one the rows were kept for."""
    with open(path, "rb") as handle:
        header = handle.read(28)
        info = os.fstat(handle.fileno())
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, header[24:28]


def sync(path: Path, site: Site, revision: int) -> Written:
    """Make the file hold exactly the site's rows (a full apply, boot); one transaction."""
    new = site_rows(site)
    key = path.resolve()
    with connect(path) as db:
        kept = _SYNCED.pop(key, None)
        old = kept[1] if kept is not None and kept[0] == file_state(path) else read_rows(db)
        # the ids whose rows differ (set operations on the rows' items: 10,000 rows compared in C, not in a loop)
        scope = {table: sorted({i for i, _ in new[table].items() ^ old[table].items()}) for table in TABLES}
        done = write(db, new, old, scope)
        set_revision(db, revision)
    _SYNCED[key] = (file_state(path), new)
    return done


def carry_over(path: Path, before: tuple, rows: Rows, scope: Mapping[str, Iterable[str]]) -> None:
    """After a push wrote ``scope``'s ids as ``rows`` (one committed transaction begun in state ``before``): the
    rows a full apply kept for the file, when they were the file's in ``before``, become the file's again, so
    the next full apply need not read 40,000 rows back after each saved extension.  Called under the apply lock,
    as :func:`sync`."""
    key = path.resolve()
    kept = _SYNCED.pop(key, None)
    if kept is None or kept[0] != before:
        return
    tables = dict(kept[1])  # new dicts for the tables written: the kept ones may be a site's rows (read-only)
    for table, ids in scope.items():
        by_id = tables[table] = dict(tables[table])
        for i in ids:
            row = rows.get(table, {}).get(i)
            if row is None:
                by_id.pop(i, None)
            else:
                by_id[i] = row
    _SYNCED[key] = (file_state(path), tables)


def restore(path: Path, done: Written, revision: int | None) -> None:
    """Undo ``done``: its ids get their rows from before (or none, for those it created)."""
    with connect(path) as db:
        old = read_rows(db, done.changed)
        write(db, done.before, old, done.changed)
        if revision is not None:
            set_revision(db, revision)


def stored_rows(path: Path) -> Rows:
    """Every row the file holds now, read only (nothing created): empty when there is no file yet."""
    if not path.exists():
        return {table: {} for table in TABLES}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return read_rows(db)
    except sqlite3.OperationalError:  # no tables yet
        return {table: {} for table in TABLES}
    finally:
        db.close()


# How the rows read in a diff: as the pjsip.conf sections they replace (so the apply diff a human reads
# names them as before, and the secret lines are masked by the same rule).
_SECTION_TYPE = {"ps_endpoints": "endpoint", "ps_auths": "auth", "ps_aors": "aor", "lb_extensions": "dialplan"}


def as_text(rows: Rows) -> str:
    """The rows as config-like text, one section per row, by id: what ``linebox apply --dry-run`` diffs."""
    out = []
    for number in sorted({i.removesuffix("-auth") for by_id in rows.values() for i in by_id}):
        for table, kind in _SECTION_TYPE.items():
            row = rows.get(table, {}).get(f"{number}-auth" if table == "ps_auths" else number)
            if row is None:
                continue
            out.append(f"[{row[0]}]\ntype = {kind}\n")
            out.extend(f"{column} = {value}\n" for column, value in zip(TABLES[table][1:], row[1:], strict=True))
            out.append("\n")
    return "".join(out)


def database_revision() -> int:
    """The database's revision: the id of its last audit row.  Every change to the site writes one in the
    same transaction (``appliance.site.service``), so this number names the state of the site; what is live
    holds the revision it was computed from (:func:`revision`), and ``linebox status`` shows both."""
    return AuditEntry.select(fn.MAX(AuditEntry.id)).scalar() or 0


def revision(path: Path) -> int | None:
    """The database revision the projection holds (see :mod:`.live`); None before the first apply."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute(f"SELECT value FROM {STATE_TABLE} WHERE key = 'revision'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else None
