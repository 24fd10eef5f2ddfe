"""`linebox db migrate-to-postgresql`: a site with a row in every table moves from its SQLite file to a real
PostgreSQL server (tests/postgres.py) without losing a row, or, when anything fails, stays on SQLite as it was."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import date, datetime

import peewee
import pytest
from click.testing import CliRunner

from appliance.cli import main
from appliance.install import Install
from appliance.model import migrations, models
from appliance.model.database import close_database, database
from appliance.model.sealed import SealedField
from appliance.site import service
from appliance.support import backup, database_move

PASSWORD = "Rcpt7fQ2mXw9LpA4"


def _value(field: peewee.Field, made: dict[type, int]) -> object:
    """A value of the field's kind that tells the engines apart if a copy mangles it (accents and CJK,
    microseconds, more than 255 characters of text, a sealed secret)."""
    name = field.name
    if isinstance(field, peewee.ForeignKeyField):
        return made[field.rel_model]
    if isinstance(field, peewee.BooleanField):
        return True
    if isinstance(field, peewee.IntegerField):
        return 1234567
    if isinstance(field, peewee.FloatField):
        return 2.75
    if isinstance(field, peewee.DateTimeField):
        return datetime(2026, 12, 7, 10, 11, 12, 345678)
    if isinstance(field, peewee.DateField):
        return date(2026, 12, 7)
    if isinstance(field, models.JSONField):
        return [{"name": "Sales ü 销售", "n": 1}]
    if isinstance(field, SealedField):
        return f"secret {name} ü"
    if isinstance(field, peewee.TextField):
        return "long text ü 中文 " * 40
    if isinstance(field, peewee.CharField):
        return f"{name} ü 中"
    raise AssertionError(f"{field.model.__name__}.{name}: no test value for a {type(field).__name__}: add one")


def fill_every_table() -> None:
    """One more row in every table (after those it refers to), besides what the site service wrote."""
    made: dict[type, int] = {}
    for model in database_move.tables_in_order():
        values = {f.name: _value(f, made) for f in model._meta.sorted_fields if not isinstance(f, peewee.AutoField)}
        made[model] = model.insert(**values).execute()


@pytest.fixture
def filled_site(install):
    """A SQLite site with an extension saved through the site service (sealed password, audit rows) and a
    row in every table."""
    service.save_object("extension", {"number": "100", "name": "Reception", "password": PASSWORD},
                        user="alice", create=True)
    service.save_settings({"sip_port": 5070}, user="alice")
    fill_every_table()
    empty = [m._meta.table_name for m in models.BaseModel.__subclasses__() if not m.select().exists()]
    assert empty == [], f"tables with no row in the move's test site: {empty} (a new model needs a test value)"
    counts = {m._meta.table_name: m.select().count() for m in models.BaseModel.__subclasses__()}
    close_database()
    return install, counts


def _reopen(install: Install) -> Install:
    close_database()
    again = Install.load(install.home)
    again.open()
    return again


def test_a_site_with_a_row_in_every_table_moves_whole_and_runs_on_postgresql(filled_site, postgres_cluster):
    install, counts = filled_site
    url = postgres_cluster.new_database()
    try:
        lines: list[str] = []
        late: list[BaseException] = []

        def write_during_the_move() -> None:
            """A service still running on the SQLite file writes while the move holds its lock."""
            try:
                with closing(sqlite3.connect(install.database, timeout=60, isolation_level=None)) as old:
                    old.execute("INSERT INTO setting (key, value) VALUES ('late', 'write')")
            except BaseException as error:  # noqa: BLE001 - what the writer met is the test's subject
                late.append(error)

        writer = threading.Thread(target=write_during_the_move)

        def say(line: str) -> None:
            lines.append(line)
            if len(lines) == 1:
                writer.start()

        checks = database_move.migrate_to_postgresql(install, url, "cli", say=say)
        writer.join(60)
        assert {c.table: c.rows for c in checks} == counts
        assert len(lines) == len(counts)
        # the write waited for the move, then was refused: not copied, and not left unread in the old file
        assert len(late) == 1 and "moved to PostgreSQL" in str(late[0])

        moved = _reopen(install)
        assert moved.database_url == url and isinstance(database.obj, peewee.PostgresqlDatabase)
        assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
        for model in models.BaseModel.__subclasses__():
            expected = counts[model._meta.table_name] + (model is models.AuditEntry)  # + the move's own entry
            assert model.select().count() == expected, model._meta.table_name
        # the secrets still open with the key file beside the SQLite file
        assert models.Extension.get(models.Extension.number == "100").password == PASSWORD
        assert models.AuditEntry.select().where(models.AuditEntry.kind == "database").get().after["engine"] == \
            "postgresql"
        # the sequences run past the copied rows: new rows get new ids
        new = models.Extension.create(number="101", name="Sales", password=PASSWORD)
        assert new.id > max(e.id for e in models.Extension.select().where(models.Extension.number != "101"))
        models.AuditEntry.create(user="t", action="x", kind="y", key="z")
        # a backup would hold the SQLite file the site left: refused, saying what to use instead
        with pytest.raises(backup.BackupError, match="back it up with pg_dump"):
            backup.create_backup(moved, moved.home / "backup.tar.gz")
        assert not (moved.home / "backup.tar.gz").exists()
        close_database()

        # the SQLite file refuses writes now: a service still running on it fails instead of writing unread
        with closing(sqlite3.connect(install.database)) as old, pytest.raises(sqlite3.DatabaseError) as refused:
            old.execute("INSERT INTO setting (key, value) VALUES ('late', 'write')")
        assert "moved to PostgreSQL" in str(refused.value)
    finally:
        close_database()
        postgres_cluster.drop_database(url)


def test_a_failed_copy_drops_what_it_made_and_the_site_stays_on_sqlite(filled_site, postgres_cluster):
    """PostgreSQL refuses a value SQLite took (a name longer than the column's 255 characters): the move
    stops, the target is left empty, and the site keeps SQLite, writable, with every row."""
    install, counts = filled_site
    with closing(sqlite3.connect(install.database)) as db:
        db.execute("UPDATE extension SET name = ? WHERE number = '100'", ("x" * 300,))
        db.commit()
    url = postgres_cluster.new_database()
    try:
        result = CliRunner().invoke(main, ["--home", str(install.home), "db", "migrate-to-postgresql", url])
        assert result.exit_code == 1
        assert "nothing changed (the site stays on SQLite): PostgreSQL refused a row of table extension" in \
            result.output
        assert "Traceback" not in result.output

        target = peewee.PostgresqlDatabase(url)
        assert target.get_tables() == []
        target.close()
        stayed = _reopen(install)
        assert stayed.database_url == "" and isinstance(database.obj, peewee.SqliteDatabase)
        assert {m._meta.table_name: m.select().count() for m in models.BaseModel.__subclasses__()} == counts
        models.Extension.create(number="101", name="Sales", password=PASSWORD)  # no trigger refuses a write
    finally:
        close_database()
        postgres_cluster.drop_database(url)


def test_a_database_that_is_not_empty_or_not_postgresql_is_refused(filled_site, postgres_cluster):
    install, _counts = filled_site
    url = postgres_cluster.new_database()
    try:
        target = peewee.PostgresqlDatabase(url)
        target.execute_sql("CREATE TABLE theirs (x integer)")
        target.close()
        with pytest.raises(database_move.MoveError, match="is not empty"):
            database_move.migrate_to_postgresql(install, url, "cli")
        with pytest.raises(database_move.MoveError, match="not a PostgreSQL URL"):
            database_move.migrate_to_postgresql(install, "mysql://db/linebox", "cli")
        assert Install.load(install.home).database_url == ""
        target = peewee.PostgresqlDatabase(url)
        assert target.get_tables() == ["theirs"]
        target.close()
    finally:
        close_database()
        postgres_cluster.drop_database(url)


def test_the_checksum_tells_a_changed_value_a_lost_row_and_a_boolean_apart():
    """The comparison is not a formality: one changed value, one missing row or a flipped flag each change
    what the move compares; the engines' forms of the same values (0/1 and booleans, a time as text or as
    a datetime) do not."""
    model = models.User
    fields = model._meta.sorted_fields
    row = [_value(f, {}) for f in fields]
    check = database_move._check(model, [row, row])
    as_sqlite = [int(v) if isinstance(v, bool) else v.isoformat(" ") if isinstance(v, datetime) else v for v in row]
    assert as_sqlite != row
    assert database_move._check(model, [as_sqlite, row]) == check
    flipped = [not v if isinstance(v, bool) else v for v in row]
    changed = [v + "!" if isinstance(v, str) else v for v in row]
    assert database_move._check(model, [row, flipped]).checksum != check.checksum
    assert database_move._check(model, [row, changed]).checksum != check.checksum
    assert database_move._check(model, [row]).rows == 1
