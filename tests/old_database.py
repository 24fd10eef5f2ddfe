"""An install's database as it was before a migration step: for the tests that each step keeps old rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import peewee

from appliance.model import migrations
from appliance.model.database import database
from appliance.model.models import Extension


def database_before(step: Callable, path: Path) -> peewee.SqliteDatabase:
    """A database at ``path`` migrated up to (not including) ``step``, holding one extension 100 written as
    that schema version would have; closed, ready for ``open_database`` to migrate the rest."""
    db = peewee.SqliteDatabase(str(path))
    database.initialize(db)
    for number, earlier in enumerate(migrations.MIGRATIONS[:migrations.MIGRATIONS.index(step)], start=1):
        earlier(db)
        db.execute_sql(f"PRAGMA user_version = {number}")
    Extension.create(number="100", name="Old", password="Abcdefgh12345678", voicemail_pin="1234")
    return db
