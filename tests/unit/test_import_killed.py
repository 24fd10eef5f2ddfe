"""A bulk import killed (SIGKILL, as a power cut or the OOM killer would) in the middle of writing leaves
a database that passes SQLite's integrity check and holds none of the import: all or nothing.

The kill is proven to land mid-write, not guessed: the test waits until the importing process holds
SQLite's write lock and has already spilled uncommitted pages into the write-ahead log (the WAL file has
grown), then kills it.  After the kill those frames are still in the WAL, and SQLite's recovery ignores
them because no commit frame follows.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from appliance.model.database import close_database
from appliance.phonebook import contacts

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = 1000
NOTE = "x" * 980  # long notes: the import outgrows SQLite's 2 MiB page cache and spills pages to the WAL early


def site_file(path: Path, count: int) -> Path:
    lines = ["linebox: 1", "contacts:"]
    for i in range(count):
        lines += [f"- name: Customer {i:05d}", f"  company: Acme {i % 50}", f"  note: {NOTE}{i}",
                  f"  numbers: ['+4420{i:08d}']"]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_lock_held(db: Path) -> bool:
    """Another process holds SQLite's write lock on ``db`` (our ``BEGIN IMMEDIATE`` cannot get it)."""
    with sqlite3.connect(db, timeout=0, isolation_level=None) as probe:
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if "locked" in str(error):
                return True
            raise
        probe.execute("ROLLBACK")
        return False


def test_config_import_killed_mid_write_stores_nothing_and_the_database_is_whole(install, tmp_path):
    contacts.create_contact({"name": "Kept", "numbers": ["+441234567890"]}, "test")
    close_database()
    db = install.database
    wal = Path(f"{db}-wal")
    big = site_file(tmp_path / "big.yaml", CONTACTS)
    env = {**os.environ, "LINEBOX_HOME": str(install.home), "PYTHONPATH": str(ROOT)}
    importer = subprocess.Popen([sys.executable, "-m", "appliance.cli", "config", "import", str(big)], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while not (wal.exists() and wal.stat().st_size > 0 and write_lock_held(db)):
            assert importer.poll() is None, "the import ended before it was seen writing: " + importer.stdout.read()
            assert time.monotonic() < deadline, "the import never began writing"
            time.sleep(0.02)
        importer.send_signal(signal.SIGKILL)
        importer.wait(timeout=30)
    finally:
        if importer.poll() is None:
            importer.kill()
            importer.wait()
    assert importer.returncode == -signal.SIGKILL
    assert wal.stat().st_size > 0  # the uncommitted frames are still there for recovery to discard

    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        names = [row[0] for row in check.execute("SELECT name FROM contact ORDER BY name")]
    assert names == ["Kept"]  # nothing of the killed import; what was there before is intact

    # the box works on: the next import (the same file, cut short to keep the test quick) is stored whole
    again = subprocess.run([sys.executable, "-m", "appliance.cli", "config", "import",
                            str(site_file(tmp_path / "small.yaml", 20))], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert check.execute("SELECT count(*) FROM contact").fetchone() == (20,)
