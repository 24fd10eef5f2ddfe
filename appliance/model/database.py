"""Open the appliance's SQLite database (WAL mode) and bring its schema up to date.

One process-wide peewee ``DatabaseProxy`` is bound to whichever file the
appliance, the CLI or a test opens, so the service functions never carry a
database handle around.  The proxy itself is defined with the models it serves
(``appliance.model.models``) and re-exported here, where everyone imports it:
this module opens files and migrates them, so it stands above the models and
the migrations, and neither of them imports it back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee

from appliance.model import migrations, sealed
from appliance.model.models import database

__all__ = ["PRAGMAS", "close_database", "database", "open_database", "storage_trouble"]

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


class _SqliteDatabase(peewee.SqliteDatabase):
    """peewee's SQLite database, with a rollback that does not hide the error that caused it."""

    def rollback(self) -> None:
        # SQLite rolls the whole transaction back by itself on some errors (disk full, I/O error);
        # peewee's ROLLBACK then fails with "cannot rollback - no transaction is active", and that
        # error replaces "database or disk is full" in what the console, the CLI and the collector say.
        if not self.is_closed() and not self.connection().in_transaction:
            return
        super().rollback()


def open_database(path: Path | str, ring: sealed.KeyRing | None = None) -> peewee.SqliteDatabase:
    """Open (creating if needed) the database at ``path`` and migrate it to the current schema.

    Its secret columns are sealed with ``ring``; by default the key file beside it (``appliance.model.sealed``).
    """
    sealed.use(ring or sealed.ring_for(path))
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    # Every transaction begins IMMEDIATE (takes the write lock up front, waiting up to the busy timeout):
    # a deferred BEGIN that reads and then writes cannot be upgraded once another process (console, CLI,
    # collector) has committed meanwhile, and SQLite then fails at once with "database is locked"
    # without ever calling the busy handler.
    db = _SqliteDatabase(str(path), pragmas=PRAGMAS, check_same_thread=False, timeout=BUSY_TIMEOUT_S,
                               lock_type="IMMEDIATE")
    database.initialize(db)
    db.connect(reuse_if_open=True)
    migrations.migrate(db)
    return db


def close_database() -> None:
    if database.obj is not None and not database.is_closed():
        database.close()


def storage_trouble(error: BaseException) -> str:
    """What to tell a user when the database refused a write for a reason of the box, not of the input
    ("" for any other error): the disk is full, or another process held the database past the busy timeout."""
    if not isinstance(error, peewee.OperationalError | sqlite3.OperationalError):
        return ""
    text = str(error)
    if "disk is full" in text:
        return ("Nothing was saved: the disk holding the database is full. Delete old recordings or "
                "backups to free space ('linebox diag' shows each disk), then try again.")
    if "database is locked" in text:
        return f"Nothing was saved: the database stayed busy for {BUSY_TIMEOUT_S} s. Try again in a moment."
    return ""
