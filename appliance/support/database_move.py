"""Move a site's data from its SQLite file to PostgreSQL (``linebox db migrate-to-postgresql``).

The move is all or nothing.  The SQLite file is held with its write lock for the whole move, so the
console, the collector and the CLI wait (or retry their round) and no row is written behind the copy's
back.  On the target, an empty PostgreSQL database, the schema is made by the same migrations, every
table is copied in dependency order, the row-number sequences are set past the copied rows, and each
table's row count and a checksum of its rows are compared on both sides.  Only then does the install
switch to PostgreSQL (``appliance.json``'s ``database_url``), and the SQLite file gets triggers that
refuse any further write, so a service still running on it fails loudly instead of writing where no one
reads (restart the services after the move).  If anything fails, the tables made on the target are
dropped, and the site keeps SQLite as it was.

Secrets stay sealed: the sealed columns are copied as they are stored, and the key file stays beside
the SQLite file, where the install reads it on either engine.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee
import psycopg2

from appliance.catalog import N_
from appliance.errors import Message
from appliance.install import Install
from appliance.model import audit, engine, migrations, models
from appliance.model.database import close_database, database

BATCH = 1000


class MoveError(Exception):
    """The move failed; the site is still on SQLite, and the message says why."""


@dataclass
class TableCheck:
    table: str
    rows: int
    checksum: str


def tables_in_order() -> list[type[peewee.Model]]:
    """Every model, each after the tables it refers to (foreign keys)."""
    return peewee.sort_models(models.BaseModel.__subclasses__())


def _normal(field: peewee.Field, value: Any) -> Any:
    """A stored value as both engines give it back alike: booleans as 0/1, times as ISO text."""
    if value is None:
        return None
    if isinstance(field, peewee.BooleanField):
        return int(bool(value))
    if isinstance(field, peewee.DateTimeField):
        if isinstance(value, str):
            value = peewee.format_date_time(value, field.formats)
        return value.isoformat(" ") if isinstance(value, datetime) else str(value)
    if isinstance(field, peewee.FloatField):
        return repr(float(value))
    return value


def _check(model: type[peewee.Model], rows: Any) -> TableCheck:
    """Row count and an order-free checksum (the sum of each row's SHA-256) of one table's rows."""
    fields = model._meta.sorted_fields
    total, count = 0, 0
    for row in rows:
        text = json.dumps([_normal(f, v) for f, v in zip(fields, row, strict=True)], default=str)
        total = (total + int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")) % (1 << 256)
        count += 1
    return TableCheck(model._meta.table_name, count, f"{total:064x}")


def _select(model: type[peewee.Model]) -> str:
    columns = ", ".join(f'"{f.column_name}"' for f in model._meta.sorted_fields)
    return f'SELECT {columns} FROM "{model._meta.table_name}"'  # noqa: S608 (the models' own names)


def _target_tables(target: peewee.Database) -> list[str]:
    ours = {m._meta.table_name for m in models.BaseModel.__subclasses__()}
    return [t for t in target.get_tables() if t in ours or t == engine.VERSION_TABLE]


def _drop(target: peewee.Database) -> None:
    """Drop what the move made on the target (it was empty before)."""
    for table in _target_tables(target):
        target.execute_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')


def _copy(source: sqlite3.Connection, target: peewee.Database, say: Callable[[str], None]) -> list[TableCheck]:
    checks = []
    for model in tables_in_order():
        meta, fields = model._meta, model._meta.sorted_fields
        columns = ", ".join(f'"{f.column_name}"' for f in fields)
        insert = f'INSERT INTO "{meta.table_name}" ({columns}) VALUES ({", ".join("%s" for _ in fields)})'
        booleans = [isinstance(f, peewee.BooleanField) for f in fields]
        cursor = source.execute(_select(model))
        try:
            with target.atomic():
                raw = target.connection().cursor()
                while batch := cursor.fetchmany(BATCH):
                    raw.executemany(insert, [tuple(bool(v) if b and v is not None else v
                                                   for b, v in zip(booleans, row, strict=True)) for row in batch])
                if isinstance(meta.primary_key, peewee.AutoField):
                    name, table = meta.primary_key.column_name, meta.table_name
                    raw.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{name}'),"
                                f' COALESCE(MAX("{name}"), 1), MAX("{name}") IS NOT NULL) FROM "{table}"')
        except psycopg2.Error as error:
            raise MoveError(Message(N_("the move failed and nothing changed (the site stays on SQLite): "
                                       "PostgreSQL refused a row of table %(table)s: %(error)s"),
                                    table=meta.table_name, error=str(error).strip())) from error
        expected = _check(model, source.execute(_select(model)))
        copied = _check(model, _rows(target, model))
        if (copied.rows, copied.checksum) != (expected.rows, expected.checksum):
            raise MoveError(Message(N_("table %(table)s differs after the copy: %(source)s rows in SQLite, "
                                       "%(target)s in PostgreSQL, or their contents differ"),
                                    table=meta.table_name, source=expected.rows, target=copied.rows))
        say(Message(N_("%(table)s: %(rows)s rows copied, checksum %(checksum)s"), table=meta.table_name,
                    rows=expected.rows, checksum=expected.checksum[:16]))
        checks.append(expected)
    return checks


def _rows(target: peewee.Database, model: type[peewee.Model]) -> list[tuple]:
    cursor = target.connection().cursor()
    cursor.execute(_select(model))
    return cursor.fetchall()


def _refuse_writes(source: sqlite3.Connection, url_shown: str) -> None:
    """Triggers on every table of the SQLite file that refuse a write: the site lives in PostgreSQL now."""
    reason = f"this site's database moved to PostgreSQL ({url_shown}): restart Linebox's services"
    for model in tables_in_order():
        table = model._meta.table_name
        for verb in ("INSERT", "UPDATE", "DELETE"):
            source.execute(f'CREATE TRIGGER IF NOT EXISTS "moved_{verb.lower()}_{table}" BEFORE {verb}'
                           f' ON "{table}" BEGIN SELECT RAISE(ABORT, \'{reason.replace(chr(39), "")}\'); END')


def migrate_to_postgresql(install: Install, url: str, user: str,
                          say: Callable[[str], None] = lambda _text: None) -> list[TableCheck]:
    """Copy the site from its SQLite file into the empty PostgreSQL database at ``url`` and switch the
    install to it; on any failure drop what was made there and keep SQLite (``MoveError`` says why)."""
    if install.database_url:
        raise MoveError(Message(N_("this site is already on PostgreSQL (%(url)s)"),
                                url=engine.shown_url(install.database_url)))
    if not engine.is_url(url):
        raise MoveError(Message(N_("%(url)s is not a PostgreSQL URL (postgresql://user@host:port/database)"),
                                url=engine.shown_url(url)))
    close_database()
    install.open()  # the SQLite file at the current schema, as the copy expects
    close_database()
    try:
        target = engine.connect(url)
    except peewee.DatabaseError as error:
        raise MoveError(Message(N_("cannot connect to %(url)s: %(error)s"), url=engine.shown_url(url),
                                error=str(error).strip())) from error
    try:
        if target.get_tables():
            raise MoveError(Message(N_("the PostgreSQL database %(url)s is not empty: give an empty one"),
                                    url=engine.shown_url(url)))
        with closing(sqlite3.connect(install.database, timeout=engine.BUSY_TIMEOUT_S,
                                     isolation_level=None)) as source:
            source.execute("BEGIN IMMEDIATE")  # no one writes the file until the move is done or undone
            try:
                database.initialize(target)
                migrations.migrate(target)
                checks = _copy(source, target, say)
                audit.record(user, "move", "database", "postgresql", {"engine": "sqlite"},
                             {"engine": "postgresql", "url": engine.shown_url(url), "tables": len(checks),
                              "rows": sum(c.rows for c in checks)})
                _refuse_writes(source, engine.shown_url(url))
                install.database_url = url
                install.save()
            except BaseException:
                source.execute("ROLLBACK")
                raise
            try:
                source.execute("COMMIT")
            except BaseException:
                install.database_url = ""
                install.save()
                raise
    except BaseException as error:
        try:
            _drop(target)
        finally:
            target.close()
            database.initialize(None)
        if isinstance(error, MoveError):
            raise
        if isinstance(error, peewee.DatabaseError | psycopg2.Error | sqlite3.Error | OSError):
            raise MoveError(Message(N_("the move failed and nothing changed (the site stays on SQLite): "
                                       "%(error)s"), error=str(error).strip())) from error
        raise
    target.close()
    database.initialize(None)
    return checks
