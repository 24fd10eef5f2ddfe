"""Backups of a whole install, and restoring one: a single ``.tar.gz`` a technician can carry away.

What a backup holds (every file listed with its SHA-256 in ``manifest.json``, with the Linebox
version, the database schema version and the date):

* ``linebox.db``: a consistent copy of the SQLite database, taken with SQLite's online backup API,
  so it is safe while the console and the collector write to it (WAL mode) and never a torn file;
* ``site.yaml``: the site as ``linebox config export`` writes it, readable without Linebox, without its
  secrets (importing it draws new passwords and PINs);
* ``appliance.json``: the install's settings (paths, Asterisk folders), for reference;
* ``tls/cert.pem`` and ``tls/key.pem``: the console's certificate and private key (sealed, ``SEALED_FILES``);
* ``sip-tls/cert.pem`` and ``sip-tls/key.pem``: the SIP transport's (key sealed too), from beside the generations;
* ``key.json``: only with a passphrase: the site's key wrapped with it (``sealed.wrap_key``, scrypt);
* ``recordings/...`` only when asked (they can be large).

Secrets travel only sealed (``appliance.model.sealed``): the database's secret columns and the TLS key
with this box's key, which is never in the archive; the passphrase the admin chooses wraps that key,
so the archive restores on another box (new hardware) with it, and only here without it.  The manifest
names the key (``key_id``, an HMAC of it) so that a restore on the same box asks for nothing.  The
archive is still written mode 0600 (names, numbers, call records, the audit log).

Restoring first validates everything and changes nothing unless all of it is right: the archive
is a readable tar.gz, it has a manifest of a known format, every listed file is present with its
checksum and nothing else is, the schema is not newer than this Linebox, the database passes
SQLite's integrity check and its site passes the same checks an import does.  ``preview`` then
says what would change, kind by kind, against the stored site.  ``restore`` makes a backup of the
current state first (the rollback copy), then replaces the database's content in one SQLite
transaction with the backup API (the services keep their open connections and see either the old
or the new database, never a mix, which a file rename under running processes would not give),
with every secret sealed again with this box's key (``_bind_to_this_box``); this box's own internal
secrets (the AMI secret Asterisk is running with, the session key) are in its key file and stay.
The restored site becomes live with ``linebox apply``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml
from pydantic import ValidationError

from appliance import config_file
from appliance.catalog import N_
from appliance.errors import Message, from_pydantic, problem_message
from appliance.install import Install
from appliance.model import audit, migrations, sealed
from appliance.model.database import database
from appliance.model.engine import shown_url
from appliance.model.models import AuditEntry, CallRecord, Gateway, QueueCall, User
from appliance.provisioning import sip_tls
from appliance.site import schemas
from appliance.site.checks import Site, check_site
from appliance.site.kinds import KINDS

FORMAT = 2  # 2: secrets sealed, the key wrapped with a passphrase (1: secrets in clear, still restored)
READABLE_FORMATS = (1, 2)
MANIFEST = "manifest.json"
DATABASE = "linebox.db"
SITE = "site.yaml"
SETTINGS = "appliance.json"
TLS_FILES = ("tls/cert.pem", "tls/key.pem")
# The SIP transport's certificate (appliance.provisioning.sip_tls), beside the generations: restored with the
# site, phones that pinned it keep trusting the box.
SIP_TLS_FILES = ("sip-tls/cert.pem", "sip-tls/key.pem")
RECORDINGS = "recordings/"
# The site's key wrapped with the admin's passphrase (``sealed.wrap_key``): only in a backup made with one.
KEY_MEMBER = "key.json"
# Files stored sealed with the site's key in the archive (the database's secret columns are sealed already).
SEALED_FILES = ("tls/key.pem", "sip-tls/key.pem")
PASSPHRASE_MIN = 12


class BackupError(Exception):
    """The archive cannot be restored; the message says why in the user's terms."""


class PassphraseNeeded(BackupError):
    """The archive's secrets are sealed with another box's key: only its passphrase opens them."""


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase too short to protect every secret of the site (the message never repeats it)."""
    if len(passphrase) < PASSPHRASE_MIN:
        raise BackupError(Message(N_("the passphrase must be at least %(count)s characters long "
                                    "(a few words are easier to remember than symbols)"), count=PASSPHRASE_MIN))


def linebox_version() -> str:
    try:
        return version("linebox")
    except PackageNotFoundError:
        return "0+unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def copy_database(source: Path, destination: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included) through SQLite's backup API."""
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)) as src, \
            contextlib.closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it


def default_name(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"linebox-backup-{socket.gethostname()}-{now:%Y%m%d-%H%M%S}.tar.gz"


@dataclass
class BackupInfo:
    path: Path
    manifest: dict

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def _sqlite_only(install: Install) -> None:
    """A backup holds the SQLite file: a PostgreSQL site is backed up with PostgreSQL's own tools (its file
    here is the one the site moved from, and holds nothing new)."""
    if install.database_url:
        raise BackupError(Message(N_("this site's database is PostgreSQL (%(url)s): back it up with pg_dump "
                                     "and the key file %(key)s (docs/admin-guide.md)"),
                                  url=shown_url(install.database_url), key=install.database.parent / sealed.KEY_FILE))


def create_backup(install: Install, output: Path, with_recordings: bool = False,
                  passphrase: str | None = None) -> BackupInfo:
    """Write a backup of ``install`` to ``output`` (replaced only once complete); needs the database open.

    Its secrets stay sealed with this box's key (``appliance.model.sealed``); with ``passphrase``, the
    archive also carries that key wrapped with it, so it restores onto another box (new hardware).
    Without, it restores only here (the automatic copy a restore makes first)."""
    _sqlite_only(install)
    if passphrase is not None:
        check_passphrase(passphrase)
    ring = sealed.current()
    output.parent.mkdir(parents=True, exist_ok=True)
    # staged beside the output, not in /tmp: /tmp is often a small tmpfs, and the database can be large
    with tempfile.TemporaryDirectory(prefix=".linebox-backup-", dir=output.parent) as tmp:
        staging = Path(tmp)
        copy_database(install.database, staging / DATABASE)
        with contextlib.closing(sqlite3.connect(staging / DATABASE)) as db:
            schema = db.execute("PRAGMA user_version").fetchone()[0]
        site = read_site(staging / DATABASE)
        (staging / SITE).write_text(site_text(site))
        members: dict[str, Path] = {DATABASE: staging / DATABASE, SITE: staging / SITE}
        settings = install.home / "appliance.json"
        if settings.exists():
            members[SETTINGS] = settings
        for name in (*TLS_FILES, *SIP_TLS_FILES):
            if _tls_path(install, name).is_file():
                members[name] = _tls_path(install, name)
                if name in SEALED_FILES:
                    members[name] = staging / name.replace("/", "-")
                    members[name].write_text(ring.seal(_tls_path(install, name).read_text()))
        if passphrase is not None:
            members[KEY_MEMBER] = staging / KEY_MEMBER
            members[KEY_MEMBER].write_text(json.dumps(sealed.wrap_key(ring, passphrase), indent=1))
        if with_recordings and install.recordings_dir.is_dir():
            for file in sorted(install.recordings_dir.rglob("*")):
                if file.is_file():
                    members[RECORDINGS + file.relative_to(install.recordings_dir).as_posix()] = file
        manifest = {
            "format": FORMAT,
            "linebox_version": linebox_version(),
            "schema_version": schema,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "hostname": socket.gethostname(),
            "with_recordings": with_recordings,
            "key_id": ring.key_id(),  # which key sealed the secrets: a restore here needs no passphrase
            "sealed": [name for name in SEALED_FILES if name in members],
            "counts": {k.plural: len(site.objects[name]) for name, k in KINDS.items()},
            "files": {name: {"sha256": _sha256(path), "size": path.stat().st_size}
                      for name, path in members.items()},
        }
        _write_archive(output, manifest, members)
    return BackupInfo(output, manifest)


def _write_archive(output: Path, manifest: dict, members: dict[str, Path]) -> None:
    """The tar.gz of ``manifest`` then ``members`` (name in the archive: file), mode 0600, complete or absent."""
    partial = output.with_name(f".{output.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(data))
            for name, path in members.items():
                tar.add(path, arcname=name, recursive=False)
        os.replace(partial, output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def bind_to_this_box(path: Path, work_dir: Path | None, passphrase: str | None) -> None:
    """Rewrite the archive at ``path`` so that its secrets are sealed with this box's key, without its wrapped
    key: a backup from another box, uploaded to the console with its passphrase, is then previewed and
    restored in later requests without asking for the passphrase again (nor keeping it anywhere)."""
    with open_backup(path, work_dir, passphrase) as opened:
        ring = sealed.current()
        if opened.manifest["format"] == 1 or opened.manifest.get("key_id") == ring.key_id():
            return
        members = {name: opened.folder / name for name in opened.manifest["files"] if name != KEY_MEMBER}
        for name in opened.manifest.get("sealed", []):
            if name in members:
                members[name].write_text(ring.seal(members[name].read_text()))
        manifest = {**opened.manifest, "key_id": ring.key_id(),
                    "files": {name: {"sha256": _sha256(file), "size": file.stat().st_size}
                              for name, file in members.items()}}
        _write_archive(path, manifest, members)


# ---------------------------------------------------------------- reading a database file's site


def site_text(site: Site) -> str:
    """``site`` in the format of ``linebox config export``, without its secrets (so the file imports anywhere,
    drawing new passwords and PINs: the archive carries the real ones only sealed)."""
    document: dict = {"linebox": config_file.FORMAT_VERSION, "settings": site.settings.model_dump()}
    for name, k in KINDS.items():
        document[k.plural] = [{f: v for f, v in o.model_dump().items() if f not in k.secrets}
                              for o in site.objects[name]]
    return (config_file.HEADER + "# From a backup: no passwords or PINs (importing it draws new ones).\n"
            + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100))


def read_site(db_path: Path) -> Site:
    """The site stored in a database file, read with plain sqlite3 (the app's own database stays bound).

    Columns a newer schema added and an older file lacks take the schema's default, as the
    migration would give them.  Raises BackupError if a row does not validate.
    """
    site = Site()
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for name, k in KINDS.items():
            table = k.model._meta.table_name
            if table not in tables:
                continue
            columns = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
            wanted = [f for f in k.schema.model_fields if f in k.model._meta.fields
                      and k.model._meta.fields[f].column_name in columns]
            order = k.model._meta.fields["position"].column_name + ", " if name == "outbound_route" else ""
            select = ", ".join(f'"{k.model._meta.fields[f].column_name}"' for f in wanted)
            key_column = k.model._meta.fields[k.key].column_name
            for row in db.execute(f'SELECT {select} FROM "{table}" ORDER BY {order}"{key_column}"'):
                data = {f: k.model._meta.fields[f].python_value(row[k.model._meta.fields[f].column_name])
                        for f in wanted}
                try:
                    site.objects[name].append(k.schema.model_validate(data))
                except ValidationError as error:
                    raise BackupError(Message(N_("the backup's %(kind)s %(key)s is not valid: %(problem)s"),
                                              kind=Message(k.label), key=data.get(k.key),
                                              problem=problem_message(from_pydantic(error)[0]))) from None
        if "setting" in tables:
            values = {row["key"][len("site."):]: row["value"]
                      for row in db.execute("SELECT key, value FROM setting WHERE key LIKE 'site.%'")}
            try:
                site.settings = schemas.Settings.model_validate(values)
            except ValidationError as error:
                raise BackupError(Message(N_("the backup's settings are not valid: %(problem)s"),
                                          problem=problem_message(from_pydantic(error)[0]))) from None
    return site


def _usernames(db_path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        try:
            return {row[0] for row in db.execute(f'SELECT username FROM "{User._meta.table_name}"')}
        except sqlite3.OperationalError:
            return set()


# ---------------------------------------------------------------- validation


@dataclass
class Backup:
    """A validated backup, unpacked in a private temporary folder (``close`` removes it)."""

    source: Path
    folder: Path
    manifest: dict
    site: Site
    _tmp: tempfile.TemporaryDirectory | None = None

    @property
    def database(self) -> Path:
        return self.folder / DATABASE

    def file(self, name: str) -> Path | None:
        return self.folder / name if name in self.manifest["files"] else None

    def recordings(self) -> list[str]:
        return [name for name in self.manifest["files"] if name.startswith(RECORDINGS)]

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Backup:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _tls_path(install: Install, name: str) -> Path:
    """Where a certificate member lives on the box: the console's in the home, the SIP transport's beside the
    generations."""
    if name in SIP_TLS_FILES:
        return sip_tls.folder(install.config_root) / name.split("/", 1)[1]
    return install.home / name


def _allowed(name: str) -> bool:
    if name in (MANIFEST, DATABASE, SITE, SETTINGS, KEY_MEMBER, *TLS_FILES, *SIP_TLS_FILES):
        return True
    return name.startswith(RECORDINGS) and ".." not in Path(name).parts


def _check_manifest(manifest: object) -> dict:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BackupError(Message(N_("not a Linebox backup: its manifest.json has no list of files")))
    if manifest.get("format") not in READABLE_FORMATS:
        raise BackupError(Message(N_("unknown backup format %(format)r (this Linebox reads formats %(formats)s)"),
                                  format=manifest.get("format"), formats=", ".join(map(str, READABLE_FORMATS))))
    schema = manifest.get("schema_version")
    if not isinstance(schema, int):
        raise BackupError(Message(N_("not a Linebox backup: its manifest has no schema version")))
    if schema > migrations.CURRENT_VERSION:
        raise BackupError(Message(N_("the backup was made by a newer Linebox (%(version)s, database schema "
                                     "%(schema)s); this Linebox knows schema %(known)s: upgrade Linebox first"),
                                  version=manifest.get("linebox_version", "?"), schema=schema,
                                  known=migrations.CURRENT_VERSION))
    if DATABASE not in manifest["files"]:
        raise BackupError(Message(N_("the backup holds no database")))
    return manifest


# A backup compresses its database some 5 to 20 times and its recordings hardly at all; an archive that
# unpacks to more than this many times its size (and more than the floor) is not one Linebox wrote.
# (Deflate cannot pass about 1030:1, so a bomb built from one gzip stream shows at any ratio below that.)
BOMB_RATIO = 200
BOMB_FLOOR = 64 << 20
# Unpacking never leaves less than this free beside the database.
FREE_RESERVE = 256 << 20


def _kind_of_archive(path: Path) -> str | None:
    """What the file at ``path`` is when it is not a gzip stream, in a technician's words (None: gzip)."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head.startswith(b"\x1f\x8b"):
        return None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return Message(N_("it is a ZIP archive"))
    if head[257:262] == b"ustar":
        return Message(N_("it is a tar archive that is not gzip-compressed"))
    if not head:
        return Message(N_("the file is empty"))
    return Message(N_("it is not a .tar.gz archive at all"))


def _gib(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB"


def _member_problem(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` cannot be in a backup (only plain files with the names Linebox writes), or None."""
    if not _allowed(member.name):
        return Message(N_("the backup holds a file a Linebox backup never has: %(name)s"), name=member.name)
    if not member.isfile():
        kind = (N_("a symbolic link") if member.issym() else N_("a hard link") if member.islnk()
                else N_("a folder") if member.isdir() else N_("a device or special file"))
        if member.linkname:
            return Message(N_("%(name)s is %(kind)s (to %(target)s): a Linebox backup holds only plain files"),
                           name=member.name, kind=Message(kind), target=member.linkname)
        return Message(N_("%(name)s is %(kind)s: a Linebox backup holds only plain files"), name=member.name,
                       kind=Message(kind))
    return None


def _unpack(path: Path, folder: Path) -> None:
    """Unpack the archive at ``path`` into ``folder``, checking each member's header before any of its data.

    A member with a name or a type a backup never has, or sizes that would fill the disk or betray a
    decompression bomb, is refused from its header: nothing of it is unpacked.
    """
    kind = _kind_of_archive(path)
    if kind is not None:
        raise BackupError(Message(N_("not a Linebox backup: %(kind)s (linebox backup writes a .tar.gz)"), kind=kind))
    archive_size = path.stat().st_size
    room = shutil.disk_usage(folder).free - FREE_RESERVE
    names: list[str] = []
    total = 0
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar:  # one header at a time: the checks run before its data is read
                problem = _member_problem(member)
                if problem and MANIFEST not in names and not _allowed(member.name):
                    raise BackupError(Message(N_("not a Linebox backup: it holds %(name)s, which no Linebox backup "
                                                 "has, and no manifest.json before it"), name=member.name))
                if problem:
                    raise BackupError(problem)
                if member.name in names:
                    raise BackupError(Message(N_("the backup holds the same file twice: %(name)s"), name=member.name))
                names.append(member.name)
                total += member.size
                if total > max(BOMB_RATIO * archive_size, BOMB_FLOOR):
                    raise BackupError(Message(
                        N_("%(name)s would unpack to %(size)s from an archive of %(archive)s MiB: far more than "
                           "any Linebox backup holds (a decompression bomb?)"),
                        name=member.name, size=_gib(member.size), archive=f"{archive_size / (1 << 20):.1f}"))
                if total > room:
                    raise BackupError(Message(
                        N_("%(name)s would unpack to %(size)s (the backup to at least %(total)s), and %(folder)s "
                           "has %(free)s free to unpack it: free some space first"),
                        name=member.name, size=_gib(member.size), total=_gib(total), folder=folder.parent,
                        free=_gib(max(room, 0))))
            if MANIFEST not in names:
                raise BackupError(Message(N_("not a Linebox backup: no manifest.json inside")))
            # tarfile takes a damaged header for the end of the archive: read the compressed stream to its
            # end, so that its checksum (gzip's CRC) says whether the archive is whole
            rest = 0
            while chunk := tar.fileobj.read(1 << 20):
                rest += len(chunk)
                if rest > BOMB_FLOOR:
                    raise BackupError(Message(N_("the backup is damaged: data after the end of its last file")))
            tar.extractall(folder, filter="data")
    except (EOFError, zlib.error, tarfile.TarError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise BackupError(Message(N_("%(path)s: no such file"), path=path)) from None
        if isinstance(error, EOFError) or "unexpected end of data" in str(error):
            if names:
                raise BackupError(Message(N_("the backup is truncated: it ends before its last file (in %(name)s); "
                                             "copy it again from where it was made"), name=names[-1])) from None
            raise BackupError(Message(N_("the backup is truncated: it ends before its last file; copy it again "
                                         "from where it was made"))) from None
        if isinstance(error, zlib.error | gzip.BadGzipFile):
            raise BackupError(Message(N_("the backup is damaged: its compressed data is corrupt (%(error)s)"),
                                      error=str(error))) from None
        raise BackupError(Message(N_("not a Linebox backup (not a readable .tar.gz file: %(error)s)"),
                                  error=str(error))) from None


def open_backup(path: Path, work_dir: Path | None = None, passphrase: str | None = None) -> Backup:
    """Unpack and validate the archive at ``path``; raise BackupError saying what is wrong.

    It is unpacked in ``work_dir`` (give the install's backups folder: /tmp is often a small tmpfs,
    too small for a backup with recordings).  Its secrets are made this box's (``_bind_to_this_box``):
    a backup made on another box needs the ``passphrase`` it was made with (``PassphraseNeeded``).
    """
    if not path.is_file():
        raise BackupError(Message(N_("%(path)s: no such file"), path=path))
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.TemporaryDirectory(prefix=".linebox-restore-", dir=work_dir)
    folder = Path(tmp.name)
    try:
        _unpack(path, folder)
        try:
            manifest = _check_manifest(json.loads((folder / MANIFEST).read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BackupError(Message(N_("not a Linebox backup: manifest.json is not valid JSON"))) from None
        present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
        listed = set(manifest["files"])
        if listed - present:
            raise BackupError(Message(N_("the backup is incomplete: %(name)s is missing"),
                                      name=sorted(listed - present)[0]))
        if present - listed:
            raise BackupError(Message(N_("the backup holds a file its manifest does not list: %(name)s"),
                                      name=sorted(present - listed)[0]))
        for name, entry in manifest["files"].items():
            if not isinstance(entry, dict) or _sha256(folder / name) != entry.get("sha256"):
                raise BackupError(Message(N_("the backup is damaged: %(name)s does not match its checksum"),
                                          name=name))
        _check_database(folder / DATABASE, manifest["schema_version"])
        _bind_to_this_box(folder, manifest, passphrase)
        site = read_site(folder / DATABASE)
        problems = check_site(site)
        if problems:
            raise BackupError(Message(N_("the backup's site does not pass the checks: %(problem)s"),
                                      problem=problem_message(problems[0])))
        return Backup(source=path, folder=folder, manifest=manifest, site=site, _tmp=tmp)
    except BaseException:
        tmp.cleanup()
        raise


def _bind_to_this_box(folder: Path, manifest: dict, passphrase: str | None) -> None:
    """Make the unpacked backup's secrets readable with this box's key, or say why they cannot be.

    * format 1 (before secrets were sealed): its database holds them in clear; the migration seals them;
    * made on this box (its key's id): nothing to do, no passphrase asked;
    * made elsewhere with a passphrase: the passphrase unwraps that box's key, and every secret is
      opened with it and sealed again with this box's key (the database copy and the sealed files);
    * made elsewhere without one: refused.  Restoring with new secrets instead would leave every
      phone, trunk and gateway unable to log in, silently; the site file in the archive (no secrets)
      can still be imported on purpose, drawing new ones.
    """
    if manifest["format"] == 1:
        return
    box = sealed.current()
    archive_ring = box
    if manifest.get("key_id") != box.key_id():
        if KEY_MEMBER not in manifest["files"]:
            raise BackupError(Message(N_("the backup was made on another Linebox without a passphrase: its "
                                         "passwords and PINs are encrypted with that box's key, which the backup "
                                         "does not carry, so it restores only there (its site.yaml, without "
                                         "passwords, can be imported with 'linebox config import': new passwords "
                                         "and PINs are drawn)")))
        if not passphrase:
            raise PassphraseNeeded(Message(N_("the backup was made on another Linebox (or before this one's key "
                                              "changed): its passwords and PINs open only with the passphrase "
                                              "chosen when it was made")))
        try:
            archive_ring = sealed.unwrap_key(json.loads((folder / KEY_MEMBER).read_text()), passphrase)
        except sealed.SealedError as error:
            raise BackupError(error.args[0]) from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BackupError(Message(N_("the backup's %(name)s is not valid JSON"), name=KEY_MEMBER)) from None
        if archive_ring.key_id() != manifest.get("key_id"):
            raise BackupError(Message(N_("the backup's wrapped key is not the key its secrets were sealed with")))
        _reseal(folder / DATABASE, archive_ring, box)
    for name in manifest.get("sealed", []):
        if name in manifest["files"] and name in SEALED_FILES:
            try:
                (folder / name).write_text(archive_ring.open((folder / name).read_text()))
            except (sealed.SealedError, UnicodeDecodeError):
                raise BackupError(Message(N_("the backup's %(name)s cannot be opened with its key: the backup is "
                                             "damaged"), name=name)) from None


def _reseal(db_path: Path, old: sealed.KeyRing, new: sealed.KeyRing) -> None:
    """Open every sealed value of the database file with ``old`` and seal it again with ``new``."""
    with contextlib.closing(sqlite3.connect(db_path)) as db, db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        try:
            for table, columns in migrations.sealed_columns().items():
                if table not in tables:
                    continue
                present = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
                for column in (c for c in columns if c in present):
                    for rowid, value in db.execute(f'SELECT rowid, "{column}" FROM "{table}"').fetchall():
                        if isinstance(value, str) and value.startswith(sealed.PREFIX):
                            db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?',
                                       (new.seal(old.open(value)), rowid))
            for key, value in db.execute("SELECT key, value FROM setting WHERE key = ?",
                                         (migrations.SEALED_SETTING,)).fetchall():
                db.execute("UPDATE setting SET value = ? WHERE key = ?", (new.seal(old.open(value)), key))
        except sealed.SealedError:
            raise BackupError(Message(N_("the backup's passwords do not open with its key: the backup is "
                                         "damaged"))) from None


def _check_database(db_path: Path, schema: int) -> None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
            result = db.execute("PRAGMA integrity_check").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise BackupError(Message(N_("the backup's database cannot be read: %(error)s"), error=str(error))) from None
    if result != "ok":
        raise BackupError(Message(N_("the backup's database is damaged: %(result)s"), result=result))
    if version != schema:
        raise BackupError(Message(N_("the backup's database has schema %(version)s, its manifest says %(schema)s"),
                                  version=version, schema=schema))


# ---------------------------------------------------------------- what a restore would change


@dataclass
class KindChange:
    kind: str
    label: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass
class Preview:
    kinds: list[KindChange]
    settings_changed: list[str]
    users_added: list[str]
    users_removed: list[str]
    # rows of the data that is not the site, now -> in the backup, where they differ (e.g. call records
    # made since the backup, which a restore loses)
    data_counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        return not (any(k.any for k in self.kinds) or self.settings_changed or self.users_added
                    or self.users_removed or self.data_counts)


def _data_counts(db_path: Path) -> dict[str, int]:
    counts = {}
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        for label, model in ((N_("call records"), CallRecord), (N_("queue calls"), QueueCall),
                             (N_("gateways"), Gateway), (N_("audit entries"), AuditEntry)):
            try:
                counts[label] = db.execute(f'SELECT COUNT(*) FROM "{model._meta.table_name}"').fetchone()[0]
            except sqlite3.OperationalError:  # an older schema without that table
                counts[label] = 0
    return counts


def preview(backup: Backup, current: Site, current_users: set[str], current_db: Path | None = None) -> Preview:
    """What restoring ``backup`` would change compared with the stored ``current`` site (and ``current_db``)."""
    kinds = []
    for name, k in KINDS.items():
        before = {getattr(o, k.key): o.model_dump() for o in current.objects[name]}
        after = {getattr(o, k.key): o.model_dump() for o in backup.site.objects[name]}
        kinds.append(KindChange(
            name, k.plural_text,
            added=sorted(set(after) - set(before)),
            changed=sorted(key for key in set(after) & set(before) if after[key] != before[key]),
            removed=sorted(set(before) - set(after)),
        ))
    old, new = current.settings.model_dump(), backup.site.settings.model_dump()
    users = _usernames(backup.database)
    data: dict[str, tuple[int, int]] = {}
    if current_db is not None:
        now, then = _data_counts(current_db), _data_counts(backup.database)
        data = {label: (now[label], then[label]) for label in now if now[label] != then[label]}
    return Preview(kinds, [n for n in new if new[n] != old.get(n)], sorted(users - current_users),
                   sorted(current_users - users), data)


def preview_lines(p: Preview, width: int = 80) -> list[str]:
    """The preview as lines of at most ``width`` characters (the CLI and the console show the same words)."""
    lines = []
    for k in p.kinds:
        if not k.any:
            continue
        keys = [f"+{x}" for x in k.added] + [f"~{x}" for x in k.changed] + [f"-{x}" for x in k.removed]
        head = f"  {k.label:<16}{len(k.added):>3} added{len(k.changed):>3} changed{len(k.removed):>3} removed  "
        lines.append(_cut(head + " ".join(keys), width))
    if p.settings_changed:
        lines.append(_cut(f"  {'settings':<16}changed: {', '.join(p.settings_changed)}", width))
    if p.users_added or p.users_removed:
        names = [f"+{u}" for u in p.users_added] + [f"-{u}" for u in p.users_removed]
        lines.append(_cut(f"  {'console users':<16}{' '.join(names)}", width))
    if p.data_counts:
        counts = "; ".join(f"{label} {now} now, {then} after" for label, (now, then) in p.data_counts.items())
        lines.append(_cut(f"  {'other data':<16}{counts}", width))
    return lines or ["  nothing: the backup holds what is stored now"]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def describe(manifest: dict) -> str:
    """One line naming a backup: when, where and which Linebox made it."""
    when = manifest.get("created", "?").replace("T", " ").replace("+00:00", " UTC")
    return Message(N_("backup of %(when)s from %(host)s, Linebox %(version)s, schema %(schema)s"), when=when,
                   host=manifest.get("hostname", "?"), version=manifest.get("linebox_version", "?"),
                   schema=manifest.get("schema_version"))


# ---------------------------------------------------------------- restoring


@dataclass
class RestoreResult:
    rollback: Path
    restored: list[str]


def rollback_folder(install: Install) -> Path:
    return install.home / "backups"


def restore(install: Install, backup: Backup, user: str) -> RestoreResult:
    """Make ``backup`` the install's state; the previous state is kept as a backup (see the module docstring).

    The install's database must be open (bound); it is left open on the restored content, migrated
    to this Linebox's schema.
    """
    _sqlite_only(install)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    rollback = create_backup(install, rollback_folder(install) / f"before-restore-{stamp}.tar.gz").path
    restored = []
    with tempfile.TemporaryDirectory(prefix="linebox-restore-", dir=install.database.parent) as tmp:
        # Stage every file next to its destination first, so the swaps below are renames on one file system.
        staged: list[tuple[Path, Path]] = []
        for name in (*TLS_FILES, *SIP_TLS_FILES):
            source = backup.file(name)
            if source is not None:
                target = _tls_path(install, name)
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                temporary = target.with_name(f".{target.name}.restore")
                shutil.copyfile(source, temporary)
                os.chmod(temporary, 0o600 if name.endswith("key.pem") else 0o644)
                staged.append((temporary, target))
        try:
            _replace_database_content(backup.database, install.database, Path(tmp))
        except BaseException:
            for temporary, _ in staged:
                temporary.unlink(missing_ok=True)
            raise
        restored.append(N_("database"))
        for temporary, target in staged:
            os.replace(temporary, target)
            if target.parent == sip_tls.folder(install.config_root):
                sip_tls.share_key(target)  # Asterisk's group reads it, no one else
                restored.append(f"SIP {target.name}")
            else:
                restored.append(str(target.relative_to(install.home)))
    migrations.migrate(database.obj)
    with database.atomic():
        audit.record(user, "restore", "backup", backup.source.name, None,
                     {"backup": describe(backup.manifest), "rollback copy": str(rollback)})
    copied, failed = 0, 0
    for name in backup.recordings():
        target = install.recordings_dir / name[len(RECORDINGS):]
        if not target.exists():  # a recording already on the box is never overwritten
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(backup.folder / name, target)
                copied += 1
            except OSError:  # e.g. Asterisk's spool not writable by this user: the database is restored anyway
                failed += 1
    if backup.recordings():
        restored.append(f"{copied} missing recording(s)")
    if failed:
        restored.append(f"{failed} recording(s) NOT written (no permission in {install.recordings_dir})")
    return RestoreResult(rollback, restored)


def _replace_database_content(source: Path, live: Path, scratch: Path) -> None:
    """Copy ``source`` over the live database in one SQLite write transaction (the backup API)."""
    copy = scratch / "restore.db"
    shutil.copyfile(source, copy)
    with contextlib.closing(sqlite3.connect(copy)) as src:
        src.execute("PRAGMA journal_mode = WAL")  # the same mode as the live file, so pages copy as they are
    with contextlib.closing(sqlite3.connect(copy)) as src, \
            contextlib.closing(sqlite3.connect(live, timeout=30)) as dst:
        src.backup(dst)  # pages=-1: everything in one step, under one write lock


def list_backups(install: Install) -> Iterator[Path]:
    folder = rollback_folder(install)
    if folder.is_dir():
        yield from sorted(folder.glob("*.tar.gz"), reverse=True)
