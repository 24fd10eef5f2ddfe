"""The two database engines Linebox runs on, SQLite and PostgreSQL, and every difference between them.

SQLite (one file, WAL mode) is the embedded default; PostgreSQL serves large and multi-node sites that
several servers share.  The peewee models and the migrations are the same on both; what differs is here
and nowhere else:

* the connection (``connect``: a file path or a ``postgresql://`` URL),
* where the schema version is kept (SQLite's ``user_version``; a one-row table on PostgreSQL),
* the SQL the services write by hand in SQLite's dialect: on PostgreSQL each statement is translated as it
  is executed (``?`` parameters, ``INSERT OR IGNORE`` / ``INSERT OR REPLACE``), and the few SQLite
  functions the reports use (``strftime(..., 'unixepoch')``, ``substr`` over a time, ``SUM`` over a
  comparison) are defined on the server as functions of the same name (``POSTGRES_COMPATIBILITY``),
  so a report's query is one text for both engines.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import peewee
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator

#: How long a writer waits for another process's write transaction before "database is locked".
BUSY_TIMEOUT_S = 10

PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": BUSY_TIMEOUT_S * 1000,
    # deleted or replaced content is overwritten with zeros, not left in the file's free space: an old
    # password, a deleted contact or a row sealed by the migration (appliance.model.sealed) is gone for good
    "secure_delete": 1,
}

URL_PREFIXES = ("postgresql://", "postgres://")


def is_url(target: Path | str) -> bool:
    """Whether ``target`` names a PostgreSQL server (a ``postgresql://`` URL) rather than an SQLite file."""
    return str(target).startswith(URL_PREFIXES)


def shown_url(url: str) -> str:
    """The URL without its password, as messages and the audit log show it."""
    head, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, host = rest.rsplit("@", 1)
        return f"{head}{sep}{credentials.split(':', 1)[0]}@{host}"
    return url


def is_postgres(db: peewee.Database) -> bool:
    return isinstance(db, peewee.PostgresqlDatabase)


class SqliteDatabase(peewee.SqliteDatabase):
    """peewee's SQLite database, with a rollback that does not hide the error that caused it."""

    def rollback(self) -> None:
        # SQLite rolls the whole transaction back by itself on some errors (disk full, I/O error);
        # peewee's ROLLBACK then fails with "cannot rollback - no transaction is active", and that
        # error replaces "database or disk is full" in what the console, the CLI and the collector say.
        if not self.is_closed() and not self.connection().in_transaction:
            return
        super().rollback()


_PLACEHOLDER_OR_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")
_JSON_VALUES = re.compile(r"SELECT\s+value\s+FROM\s+json_each\(\?\)", re.IGNORECASE)
_JSON_EACH = re.compile(r"json_each\(\?\)", re.IGNORECASE)
_IS_NOT = re.compile(r"\bIS\s+NOT\s+(?!NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.IGNORECASE)
_INSERT_OR = re.compile(r"^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\s+(\w+|\"\w+\")\s*\(([^)]*)\)", re.IGNORECASE)


def to_postgres(sql: str, conflict_keys: dict[str, list[str]]) -> str:
    """One statement written in SQLite's dialect, as PostgreSQL reads it.  Statements that peewee built
    for PostgreSQL have no ``?`` and pass unchanged."""
    if "?" in sql:
        # a JSON array given as one parameter, the list of an IN: its elements as text, or as JSON values
        sql = _JSON_VALUES.sub("SELECT value FROM json_array_elements_text(?::json)", sql)
        sql = _JSON_EACH.sub("json_array_elements(?::json)", sql)
        sql = _IS_NOT.sub("IS DISTINCT FROM ", sql)  # SQLite's IS NOT compares any two values
        sql = _PLACEHOLDER_OR_LITERAL.sub(
            lambda m: "%s" if m.group() == "?" else m.group().replace("%", "%%"), sql)
    match = _INSERT_OR.match(sql)
    if match:
        verb, table, columns = match.group(1).upper(), match.group(2), match.group(3)
        sql = f"INSERT INTO {table} ({columns})" + sql[match.end():]
        if verb == "IGNORE":
            sql += " ON CONFLICT DO NOTHING"
        else:
            keys = conflict_keys[table.strip('"')]
            names = [c.strip().strip('"') for c in columns.split(",")]
            updates = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n not in keys)
            target = ", ".join(f'"{k}"' for k in keys)
            sql += f" ON CONFLICT ({target}) DO " + (f"UPDATE SET {updates}" if updates else "NOTHING")
    return sql


class _Cursor:
    """A psycopg2 cursor that reads SQLite's dialect and, like sqlite3's, returns itself from ``execute``
    (the collector chains ``cursor.execute(...).fetchone()``)."""

    def __init__(self, cursor: Any, conflict_keys: dict[str, list[str]]):
        self._cursor, self._keys = cursor, conflict_keys

    def execute(self, sql: str, params: Any = None) -> _Cursor:
        # no parameters: None, so that psycopg2 reads a '%' in the text as itself (LIKE 'secret.%');
        # psycopg2's errors as peewee's, as a statement peewee runs raises them (a server gone away is an
        # OperationalError, which the collector waits out like SQLite's "database is locked")
        with peewee.__exception_wrapper__:
            self._cursor.execute(to_postgres(sql, self._keys), tuple(params) if params else None)
        return self

    def executemany(self, sql: str, rows: Any) -> _Cursor:
        with peewee.__exception_wrapper__:
            self._cursor.executemany(to_postgres(sql, self._keys), [tuple(r) for r in rows])
        return self

    def __iter__(self):
        return iter(self._cursor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    @property
    def lastrowid(self) -> Any:
        return self._cursor.lastrowid


class PostgresDatabase(peewee.PostgresqlDatabase):
    """peewee's PostgreSQL database, reading the SQL the services write in SQLite's dialect."""

    # SQLite's REAL is 8 bytes; PostgreSQL's is 4, and an epoch (CEL's event times) would lose its seconds
    field_types = {**peewee.PostgresqlDatabase.field_types, "FLOAT": "DOUBLE PRECISION"}

    def cursor(self, named_cursor: Any = None) -> Any:
        return _Cursor(super().cursor(named_cursor), _conflict_keys())

    def conflict_statement(self, on_conflict: Any, query: Any) -> Any:
        return None

    def conflict_update(self, oc: Any, query: Any) -> Any:
        # SQLite's INSERT OR REPLACE (peewee's Model.replace): on PostgreSQL, an upsert on the key it replaces by
        if (oc._action or "").lower() == "replace":
            model = query.model
            target = _replace_target(model)
            rest = [f for f in model._meta.sorted_fields if f.column_name not in target]
            oc = peewee.OnConflict("update" if rest else "nothing", conflict_target=target, preserve=rest or None)
        return super().conflict_update(oc, query)


def _replace_target(model: Any) -> list[str]:
    """The columns an ``INSERT OR REPLACE`` into ``model``'s table replaces a row by: its primary key, or,
    where that is a row number the insert does not give, its first unique index."""
    meta = model._meta
    if not isinstance(meta.primary_key, peewee.AutoField):
        return [f.column_name for f in meta.get_primary_keys()]
    for fields, unique in meta.indexes:
        if unique:
            return [meta.fields[name].column_name for name in fields]
    return [meta.primary_key.column_name]


@functools.cache
def _conflict_keys() -> dict[str, list[str]]:
    """Each table's ``_replace_target``, by table name (the models are all defined once this is first
    asked: a statement is running)."""
    from appliance.model import models  # the models bind to the proxy this engine serves

    return {model._meta.table_name: _replace_target(model) for model in models.BaseModel.__subclasses__()}


#: SQLite's functions that Linebox's hand-written SQL uses, defined on PostgreSQL under the same names, so
#: that a report's query is one text: ``strftime(format, epoch, 'unixepoch')``, ``substr`` over a time
#: (SQLite keeps times as text), and ``SUM`` over a comparison (SQLite's booleans are 0 and 1).
POSTGRES_COMPATIBILITY = (
    """CREATE OR REPLACE FUNCTION strftime(format text, epoch bigint, modifier text) RETURNS text
       LANGUAGE sql IMMUTABLE AS $$
       SELECT to_char(to_timestamp(epoch) AT TIME ZONE 'UTC',
                      replace(replace(replace(replace(replace(replace(format, '%Y', 'YYYY'), '%m', 'MM'),
                              '%d', 'DD'), '%H', 'HH24'), '%M', 'MI'), '%S', 'SS')) $$""",
    """CREATE OR REPLACE FUNCTION substr(moment timestamp, start integer, length integer) RETURNS text
       LANGUAGE sql IMMUTABLE AS $$ SELECT substr(to_char(moment, 'YYYY-MM-DD HH24:MI:SS'), start, length) $$""",
    """CREATE OR REPLACE FUNCTION linebox_sum_bool(total bigint, value boolean) RETURNS bigint
       LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(total, 0) + coalesce(value::integer, 0) $$""",
    """DO $$ BEGIN
         CREATE AGGREGATE sum(boolean) (SFUNC = linebox_sum_bool, STYPE = bigint);
       EXCEPTION WHEN duplicate_function THEN NULL; END $$""",
)

VERSION_TABLE = "linebox_schema_version"


def schema_version(db: peewee.Database) -> int:
    """The number of migration steps this database has seen."""
    if not is_postgres(db):
        return db.execute_sql("PRAGMA user_version").fetchone()[0]
    if not db.table_exists(VERSION_TABLE):
        return 0
    row = db.execute_sql(f"SELECT version FROM {VERSION_TABLE}").fetchone()
    return row[0] if row else 0


def set_schema_version(db: peewee.Database, version: int) -> None:
    if not is_postgres(db):
        db.execute_sql(f"PRAGMA user_version = {int(version)}")
        return
    db.execute_sql(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version integer NOT NULL)")
    db.execute_sql(f"DELETE FROM {VERSION_TABLE}")
    db.execute_sql(f"INSERT INTO {VERSION_TABLE} (version) VALUES ({int(version)})")


def prepare(db: peewee.Database) -> None:
    """What an engine needs before the first migration step: PostgreSQL's SQLite-compatible functions."""
    if is_postgres(db):
        with db.atomic():
            for statement in POSTGRES_COMPATIBILITY:
                db.execute_sql(statement)


def compact(db: peewee.Database) -> None:
    """Rewrite the storage so no free page keeps a deleted value (after secrets were sealed in place)."""
    if not is_postgres(db) and not db.in_transaction():
        db.execute_sql("VACUUM")
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def migrator(db: peewee.Database) -> SchemaMigrator:
    return PostgresqlMigrator(db) if is_postgres(db) else SqliteMigrator(db)


def connect(target: Path | str) -> peewee.Database:
    """An open connection to ``target``: a ``postgresql://`` URL, or the path of an SQLite file (created
    with its folder if needed)."""
    if is_url(target):
        url = str(target)
        db: peewee.Database = PostgresDatabase("postgresql://" + url.split("://", 1)[1])
        db.connect(reuse_if_open=True)
        return db
    path = Path(target)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    # Every transaction begins IMMEDIATE (takes the write lock up front, waiting up to the busy timeout):
    # a deferred BEGIN that reads and then writes cannot be upgraded once another process (console, CLI,
    # collector) has committed meanwhile, and SQLite then fails at once with "database is locked"
    # without ever calling the busy handler.
    db = SqliteDatabase(str(path), pragmas=PRAGMAS, check_same_thread=False, timeout=BUSY_TIMEOUT_S,
                        lock_type="IMMEDIATE")
    db.connect(reuse_if_open=True)
    return db
