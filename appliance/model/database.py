"""Open the appliance's database (an SQLite file in WAL mode, or PostgreSQL) and bring its schema up to date.

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

from appliance.model import engine, migrations, sealed
from appliance.model.engine import BUSY_TIMEOUT_S, PRAGMAS
from appliance.model.models import database

__all__ = ["BUSY_TIMEOUT_S", "PRAGMAS", "close_database", "database", "open_database", "storage_trouble"]



def open_database(target: Path | str, ring: sealed.KeyRing | None = None) -> peewee.Database:
    """Open the database ``target`` (an SQLite file, created if needed, or a ``postgresql://`` URL) and
    migrate it to the current schema.

    Its secret columns are sealed with ``ring``; by default the key file beside the SQLite file
    (``appliance.model.sealed``; a PostgreSQL site names its install's ring).
    """
    if ring is None and engine.is_url(target):
        raise ValueError("a PostgreSQL database is opened with its install's key ring")
    sealed.use(ring or sealed.ring_for(target))
    db = engine.connect(target)
    database.initialize(db)
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
    if "disk is full" in text or "No space left on device" in text:  # SQLite's words, PostgreSQL's
        return ("Nothing was saved: the disk holding the database is full. Delete old recordings or "
                "backups to free space ('linebox diag' shows each disk), then try again.")
    if "database is locked" in text:
        return f"Nothing was saved: the database stayed busy for {BUSY_TIMEOUT_S} s. Try again in a moment."
    return ""
