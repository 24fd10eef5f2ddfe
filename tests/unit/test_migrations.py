"""Schema migrations: a database keeps its rows across re-opens, and a newer one is refused."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import peewee
import pytest

from appliance.model import migrations
from appliance.model.database import close_database, database, open_database
from appliance.model.models import AuditEntry, Extension, Ivr
from appliance.site import service
from tests.old_database import database_before


@pytest.fixture
def db_path(tmp_path):
    yield tmp_path / "data" / "linebox.db"
    close_database()


def user_version(path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def tables(path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def numbers() -> list[str]:
    return [e.number for e in service.list_objects("extension")]


def test_new_database_is_created_at_the_current_version(db_path):
    open_database(db_path)
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
    close_database()
    assert user_version(db_path) == migrations.CURRENT_VERSION
    assert {"extension", "trunk", "auditentry", "setting"} <= tables(db_path)


def test_rows_and_version_survive_close_and_reopen(db_path):
    open_database(db_path)
    service.save_object("extension", {"number": "100", "name": "Reception", "password": "Rcpt7fQ2mXw9LpA4"},
                        user="alice", create=True)
    service.save_object("trunk", {"name": "telco", "host": "sip.example.com"}, user="alice", create=True)
    service.save_settings({"sip_port": 5070}, user="alice")
    close_database()
    assert database.is_closed()

    open_database(db_path)
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
    assert [(e.number, e.name, e.password) for e in service.list_objects("extension")] == [
        ("100", "Reception", "Rcpt7fQ2mXw9LpA4")]
    assert [t.name for t in service.list_objects("trunk")] == ["telco"]
    assert service.load_settings().sip_port == 5070
    assert AuditEntry.select().count() == 3
    # Opening again runs no migration step: nothing is re-created or emptied.
    assert migrations.migrate(database.obj) == migrations.CURRENT_VERSION
    assert Extension.select().count() == 1


def test_database_newer_than_the_code_is_refused(db_path):
    db_path.parent.mkdir(parents=True)
    newer = migrations.CURRENT_VERSION + 1
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute("CREATE TABLE from_the_future (x)")
        conn.execute(f"PRAGMA user_version = {newer}")
        conn.commit()
    with pytest.raises(RuntimeError) as raised:
        open_database(db_path)
    message = str(raised.value)
    assert f"version {newer}" in message and f"({migrations.CURRENT_VERSION})" in message
    assert "newer than this Linebox" in message and "upgrade Linebox" in message
    close_database()
    # Refused before touching it: no table added, version unchanged.
    assert tables(db_path) == {"from_the_future"}
    assert user_version(db_path) == newer


def test_a_failing_step_leaves_the_database_at_its_previous_version(db_path, monkeypatch):
    open_database(db_path)
    service.save_object("extension", {"number": "100", "name": "Reception"}, user="alice", create=True)
    close_database()
    previous = migrations.CURRENT_VERSION

    def _next_broken(db: peewee.SqliteDatabase) -> None:
        db.execute_sql("CREATE TABLE half_done (x)")
        raise RuntimeError("step failed")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, _next_broken])
    monkeypatch.setattr(migrations, "CURRENT_VERSION", len(migrations.MIGRATIONS))
    with pytest.raises(RuntimeError, match="step failed"):
        open_database(db_path)
    close_database()
    assert user_version(db_path) == previous
    assert "half_done" not in tables(db_path)
    monkeypatch.undo()

    open_database(db_path)
    assert numbers() == ["100"]


def test_a_new_step_upgrades_an_old_database_and_keeps_its_rows(db_path, monkeypatch):
    open_database(db_path)
    service.save_object("extension", {"number": "100", "name": "Reception"}, user="alice", create=True)
    close_database()

    def _next_add_table(db: peewee.SqliteDatabase) -> None:
        db.execute_sql("CREATE TABLE example_new_table (name TEXT)")

    previous = migrations.CURRENT_VERSION
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, _next_add_table])
    monkeypatch.setattr(migrations, "CURRENT_VERSION", len(migrations.MIGRATIONS))
    open_database(db_path)
    assert migrations.schema_version(database.obj) == previous + 1
    assert numbers() == ["100"]
    close_database()
    assert "example_new_table" in tables(db_path)


def test_a_version_1_database_is_upgraded_to_the_current_version_keeping_its_rows(db_path, monkeypatch):
    """A database made by the first release (schema version 1) opens with today's code, rows intact."""
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    monkeypatch.setattr(migrations, "CURRENT_VERSION", 1)
    open_database(db_path)
    # Written through the model, as the first release's service functions knew only its own tables.
    Extension.create(number="100", name="Reception", password="Rcpt7fQ2mXw9LpA4", voicemail_pin="1234")
    AuditEntry.create(user="alice", action="create", kind="extension", key="100", before=None, after={})
    close_database()
    assert user_version(db_path) == 1
    monkeypatch.undo()

    open_database(db_path)
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
    assert [(e.number, e.password) for e in service.list_objects("extension")] == [("100", "Rcpt7fQ2mXw9LpA4")]
    assert AuditEntry.select().count() == 1


def test_ivrs_left_with_the_missing_default_invalid_sound_get_one_debian_ships(db_path):
    """Schema 10: the old default 'option-is-invalid' (no such file in Debian's sounds) becomes 'invalid';
    a sound the admin chose stays."""
    db_path.parent.mkdir(parents=True)
    db = database_before(migrations._v10_ivr_invalid_sound, db_path)
    Ivr.create(name="main", invalid_sound="option-is-invalid")
    Ivr.create(name="night", invalid_sound="custom/wrong-key")
    db.close()
    open_database(db_path)
    assert {i.name: i.invalid_sound for i in Ivr.select()} == {"main": "invalid", "night": "custom/wrong-key"}
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION


def test_trunks_of_an_older_database_get_the_default_failover_time(db_path):
    """Schema 11: trunks stored before the failover time existed get the default (2 s), so a primary that dies
    between two qualifies no longer holds callers for SIP's 32 s; their other settings are kept."""
    db_path.parent.mkdir(parents=True)
    db = database_before(migrations._v11_trunk_failover_seconds, db_path)
    db.execute_sql("ALTER TABLE trunk DROP COLUMN failover_seconds")  # as the older schema made the table
    db.execute_sql("ALTER TABLE trunk DROP COLUMN accepted_risks")  # (added by schema 17)
    db.execute_sql("INSERT INTO trunk (name, registration, host, port, username, password, codecs, max_channels,"
                   " match, qualify_seconds, options) VALUES ('primary', 0, 'sip.example.net', 5060, '', '',"
                   " '[\"alaw\"]', 4, '[]', 15, '{}')")
    db.close()
    open_database(db_path)
    trunk = service.get_object("trunk", "primary")
    assert (trunk.failover_seconds, trunk.qualify_seconds, trunk.max_channels) == (2.0, 15, 4)
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION


def test_ivrs_of_an_older_database_keep_their_retries_as_both_counts(db_path):
    """Schema 12: an IVR's one ``retries`` (wrong keys and no keys together) becomes the two counts, each with
    the old value; new IVRs can be stored afterwards (the old NOT NULL column is gone)."""
    db_path.parent.mkdir(parents=True)
    db = database_before(migrations._v12_ivr_retry_counts, db_path)
    db.execute_sql("ALTER TABLE ivr DROP COLUMN invalid_retries")  # as the older schema made the table
    db.execute_sql("ALTER TABLE ivr DROP COLUMN timeout_retries")
    db.execute_sql("ALTER TABLE ivr DROP COLUMN language")  # added later still
    db.execute_sql("ALTER TABLE ivr ADD COLUMN retries INTEGER NOT NULL DEFAULT 2")
    db.execute_sql("INSERT INTO ivr (name, greeting, greeting_text, greeting_voice, options, timeout_seconds,"
                   " retries, invalid_sound, direct_dial, timeout_destination, invalid_destination)"
                   " VALUES ('main', 'beep', '', 'en', '[]', 5, 4, 'invalid', 0, 'hangup', 'hangup')")
    db.close()
    open_database(db_path)
    ivr = service.get_object("ivr", "main")
    assert (ivr.invalid_retries, ivr.timeout_retries, ivr.greeting) == (4, 4, "beep")
    service.save_object("ivr", {"name": "night", "greeting": "beep"}, user="alice", create=True)
    assert service.get_object("ivr", "night").invalid_retries == 2


def test_queues_of_an_older_database_get_the_service_level_they_were_reported_with(db_path):
    """The step that makes each queue's service-level threshold and target settings keeps existing queues
    at the 20 s and 80 % that were fixed before it, so their figures do not change with the upgrade."""
    db_path.parent.mkdir(parents=True)
    db = database_before(migrations._v13_queue_service_level, db_path)
    for column in ("service_level_seconds", "service_level_target", "language"):  # the table as the older schema had it
        db.execute_sql(f"ALTER TABLE queue DROP COLUMN {column}")
    db.execute_sql("INSERT INTO queue (number, name, strategy, members, escalation, agent_ring_seconds, "
                   "wrapup_seconds, max_wait_seconds, max_callers, overflow, announce_position, "
                   "announce_every_seconds, moh_class, exit_voicemail, recording, autopause_after_missed) "
                   "VALUES ('700', 'Support', 'rrmemory', '[]', '[]', 15, 10, 300, 0, 'hangup', 1, 60, 'default', "
                   "'', 'never', 0)")
    db.close()
    open_database(db_path)
    (queue,) = service.list_objects("queue")
    assert (queue.number, queue.service_level_seconds, queue.service_level_target) == ("700", 20, 80)
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION


@pytest.fixture
def postgres_url(postgres_cluster, tmp_path):
    url = postgres_cluster.new_database()
    yield url
    close_database()
    postgres_cluster.drop_database(url)


def test_on_postgresql_a_new_database_is_made_at_the_current_version_and_keeps_its_rows(postgres_url, tmp_path):
    """The same steps make PostgreSQL's schema, its version kept in a table; opening again runs none."""
    from appliance.model import engine, sealed

    ring = sealed.ring_for(tmp_path / "linebox.db")
    open_database(postgres_url, ring)
    assert isinstance(database.obj, peewee.PostgresqlDatabase)
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
    assert {"extension", "trunk", "auditentry", "setting", engine.VERSION_TABLE} <= set(database.obj.get_tables())
    service.save_object("extension", {"number": "100", "name": "Reception", "password": "Rcpt7fQ2mXw9LpA4"},
                        user="alice", create=True)
    close_database()
    open_database(postgres_url, ring)
    assert [(e.number, e.password) for e in service.list_objects("extension")] == [("100", "Rcpt7fQ2mXw9LpA4")]
    assert migrations.migrate(database.obj) == migrations.CURRENT_VERSION
    # stored sealed, as on SQLite: the clear text is nowhere in the table
    (stored,) = database.obj.execute_sql("SELECT password FROM extension").fetchone()
    assert stored.startswith(sealed.PREFIX) and "Rcpt7fQ2mXw9LpA4" not in stored


def test_on_postgresql_a_newer_database_is_refused_and_a_failing_step_changes_nothing(postgres_url, tmp_path,
                                                                                     monkeypatch):
    from appliance.model import engine, sealed

    ring = sealed.ring_for(tmp_path / "linebox.db")
    open_database(postgres_url, ring)
    db = database.obj
    engine.set_schema_version(db, migrations.CURRENT_VERSION + 1)
    close_database()
    with pytest.raises(RuntimeError, match="newer than this Linebox"):
        open_database(postgres_url, ring)
    close_database()

    db = engine.connect(postgres_url)
    engine.set_schema_version(db, migrations.CURRENT_VERSION)
    db.close()

    def broken(db):
        db.execute_sql("CREATE TABLE half_made (x integer)")
        raise RuntimeError("step failed")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    monkeypatch.setattr(migrations, "CURRENT_VERSION", len(migrations.MIGRATIONS))
    with pytest.raises(RuntimeError, match="step failed"):
        open_database(postgres_url, ring)
    close_database()
    db = engine.connect(postgres_url)
    assert engine.schema_version(db) == migrations.CURRENT_VERSION - 1  # the step's DDL rolled back with it
    assert "half_made" not in db.get_tables()
    db.close()
