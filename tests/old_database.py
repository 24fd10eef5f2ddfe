"""An install's database (and backup) as an older schema had it: for the tests that migrations keep old rows."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path

import peewee

from appliance.model import migrations
from appliance.model.database import database
from appliance.model.models import Extension
from appliance.site.kinds import KINDS


def database_before(step: Callable, path: Path) -> peewee.SqliteDatabase:
    """A database at ``path`` migrated up to (not including) ``step``, holding one extension 100 written as
    that schema version would have; closed, ready for ``open_database`` to migrate the rest."""
    db = peewee.SqliteDatabase(str(path))
    database.initialize(db)
    for number, earlier in enumerate(migrations.MIGRATIONS[:migrations.MIGRATIONS.index(step)], start=1):
        earlier(db)
        db.execute_sql(f"PRAGMA user_version = {number}")
    Extension.create(number="100", name="Old", password="Abcdefgh12345678", voicemail_pin="1234")
    # in clear, as every schema before the secrets were sealed (appliance.model.sealed) stored them
    db.execute_sql("UPDATE extension SET password = 'Abcdefgh12345678', voicemail_pin = '1234'")
    return db


# The first Linebox with backups wrote schema 6; its database, as its own code made it with rows in every
# table, is kept as a dump (tests/data/make_schema6_database.py says how it was made).
SCHEMA6_DUMP = Path(__file__).parent / "data" / "schema6-database.sql"
SCHEMA6_VERSION = 6


def schema6_database(path: Path) -> Path:
    """A database file at ``path`` exactly as the schema-6 release left it (tables, columns and rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(SCHEMA6_DUMP.read_text(encoding="utf-8"))
    return path


def schema6_backup(output: Path, local: Iterable[tuple[str, tuple]] = ()) -> Path:
    """A backup archive as ``linebox backup`` of the schema-6 release wrote it (format 1: manifest first, then
    the database, its site file, the settings and the TLS pair, each with its SHA-256).

    ``local`` are SQL statements (with their parameters) run on the old database first: what a lab test
    changes so that the old box's site can run in the lab (its ports, a trunk's host name the lab cannot
    resolve, a music folder it does not have), never its schema."""
    from appliance.support import backup

    folder = output.with_name(output.name + ".d")
    database = schema6_database(folder / backup.DATABASE)
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        for statement, parameters in local:
            db.execute(statement, parameters)
    site = backup.read_site(database)
    (folder / backup.SITE).write_text(backup.site_text(site), encoding="utf-8")
    (folder / backup.SETTINGS).write_text(json.dumps({"database": "/var/lib/linebox/linebox.db"}))
    (folder / "tls").mkdir()
    (folder / "tls" / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIBold\n-----END CERTIFICATE-----\n")
    (folder / "tls" / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nMIIBold\n-----END PRIVATE KEY-----\n")
    names = [backup.DATABASE, backup.SITE, backup.SETTINGS, *backup.TLS_FILES]
    manifest = {
        "format": 1, "linebox_version": "0.1.0", "schema_version": SCHEMA6_VERSION,
        "created": "2025-11-23T08:32:52+00:00", "hostname": "old-box", "with_recordings": False,
        "counts": {k.plural: len(site.objects[name]) for name, k in KINDS.items()},
        "files": {name: {"sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(),
                         "size": (folder / name).stat().st_size} for name in names},
    }
    (folder / backup.MANIFEST).write_text(json.dumps(manifest, indent=1))
    with tarfile.open(output, "w:gz") as tar:
        for name in (backup.MANIFEST, *names):
            tar.add(folder / name, arcname=name, recursive=False)
    return output


def table_rows(path: Path) -> dict[str, list[dict]]:
    """Every row of every table of the database at ``path``, by table, as dictionaries in rowid order."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {table: [dict(row) for row in db.execute(f'SELECT * FROM "{table}" ORDER BY rowid')]
                for table in tables}
