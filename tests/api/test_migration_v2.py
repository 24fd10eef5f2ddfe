"""Schema version 2 (API tokens): a version-1 database upgrades in place and keeps its rows."""

from __future__ import annotations

import sqlite3

import peewee
import pytest

from appliance.access import accounts, apitokens
from appliance.model import migrations
from appliance.model.database import PRAGMAS, close_database, database, open_database
from appliance.site import service


@pytest.fixture
def db_path(tmp_path):
    yield tmp_path / "linebox.db"
    close_database()


def tables(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def make_version_1(path) -> None:
    """A database as Linebox with schema version 1 left it: step 1 only, user_version 1, one extension."""
    db = peewee.SqliteDatabase(str(path), pragmas=PRAGMAS)
    database.initialize(db)
    db.connect()
    with db.atomic():
        migrations.MIGRATIONS[0](db)
        db.execute_sql("PRAGMA user_version = 1")
    for column in ("permitted_networks", "accepted_risks"):  # added by schema 17: not in a version 1 table
        db.execute_sql(f"ALTER TABLE extension DROP COLUMN {column}")
    db.execute_sql("INSERT INTO extension (number, name, password, voicemail, voicemail_pin, email, recording, "
                   "ring_seconds, options) VALUES ('100', 'Reception', 'Abcdefgh12345678', 0, '1234', '', "
                   "'never', 25, '{}')")
    db.close()


def extensions() -> list[tuple]:
    return [(e.number, e.name, e.password, e.voicemail_pin) for e in service.list_objects("extension")]


def test_version_1_database_upgrades_to_2_keeping_its_rows(db_path, monkeypatch):
    make_version_1(db_path)
    assert "apitoken" not in tables(db_path)

    # a Linebox whose newest step is 2 upgrades it to exactly 2
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
    monkeypatch.setattr(migrations, "CURRENT_VERSION", 2)
    open_database(db_path)
    assert migrations.schema_version(database.obj) == 2
    assert "apitoken" in tables(db_path)
    # read as version 2 has it (today's model names columns later steps add)
    rows = database.obj.execute_sql("SELECT number, name, password, voicemail_pin FROM extension").fetchall()
    assert rows == [("100", "Reception", "Abcdefgh12345678", "1234")]
    accounts.create_user("alice", "a long test password", "admin", "test")
    token = apitokens.create_token("alice", "ci", "test")
    assert apitokens.user_for_token(token).username == "alice"
    close_database()
    monkeypatch.undo()

    # and this Linebox carries it on to its current version, rows and token intact
    open_database(db_path)
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION >= 2
    assert extensions() == [("100", "Reception", "Abcdefgh12345678", "1234")]
    assert apitokens.user_for_token(token).username == "alice"


def test_version_1_database_upgrades_straight_to_current(db_path):
    make_version_1(db_path)
    open_database(db_path)
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
    assert "apitoken" in tables(db_path)
    assert extensions() == [("100", "Reception", "Abcdefgh12345678", "1234")]
