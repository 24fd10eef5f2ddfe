"""Open the appliance's SQLite database (WAL mode) and bring its schema up to date.

One process-wide peewee ``DatabaseProxy`` is bound to whichever file the
appliance, the CLI or a test opens, so the service functions never carry a
database handle around.  The proxy itself is defined with the models it serves
(``appliance.model.models``) and re-exported here, where everyone imports it:
this module opens files and migrates them, so it stands above the models and
the migrations, and neither of them imports it back.
"""

from __future__ import annotations

from pathlib import Path

import peewee

from appliance.model import migrations
from appliance.model.models import database

__all__ = ["PRAGMAS", "close_database", "database", "open_database"]

#: How long a writer waits for another process's write transaction before "database is locked".
BUSY_TIMEOUT_S = 10

PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": BUSY_TIMEOUT_S * 1000,
}


def open_database(path: Path | str) -> peewee.SqliteDatabase:
    """Open (creating if needed) the database at ``path`` and migrate it to the current schema."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    # Every transaction begins IMMEDIATE (takes the write lock up front, waiting up to the busy timeout):
    # a deferred BEGIN that reads and then writes cannot be upgraded once another process (console, CLI,
    # collector) has committed meanwhile, and SQLite then fails at once with "database is locked"
    # without ever calling the busy handler.
    db = peewee.SqliteDatabase(str(path), pragmas=PRAGMAS, check_same_thread=False, timeout=BUSY_TIMEOUT_S,
                               lock_type="IMMEDIATE")
    database.initialize(db)
    db.connect(reuse_if_open=True)
    migrations.migrate(db)
    return db


def close_database() -> None:
    if database.obj is not None and not database.is_closed():
        database.close()
