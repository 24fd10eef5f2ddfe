"""Disk full while Asterisk records and while the collector writes, on small file systems the test mounts.

The database (the install's home) and the recordings folder each sit on a tmpfs of a few MiB, mounted
before Asterisk starts so its private mount namespace holds them too, and unmounted after it stops,
whatever the test did.  With both full: calls still go through, ``linebox diag`` and the console's status
page say which file system is full and what is not being saved, the real collector (``linebox collect``)
says it cannot store call records and keeps running, and the database stays whole.  When space returns:
the collector stores every call record and queue event exactly once, and recording resumes.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from appliance.callcenter import collector, recordings
from appliance.model.database import close_database
from appliance.model.models import CallRecord, QueueEvent
from tests.conftest import Pbx
from tests.lab.test_callcenter import _live_support_site

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def small_fs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the duration (lazily unmounted even on failure)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "linebox-test-small", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the file system refuses another byte; the file, to delete when space returns."""
    filler = folder / ".filler"
    with open(filler, "wb", buffering=0) as handle:
        for block in (1 << 16, 1 << 12, 1 << 9, 1):
            while True:
                try:
                    handle.write(b"\0" * block)
                except OSError as error:
                    assert error.errno == errno.ENOSPC, error
                    break
    return filler


@pytest.fixture
def pbx(tmp_path, rootfs):
    """Overrides conftest's: the same pbx, with its database and its recordings on small file systems."""
    from lab.pbx import start_pbx
    with ExitStack() as mounts:
        home = mounts.enter_context(small_fs(tmp_path / "home-fs", "24m")) / "home"

        def mount_recordings(instance) -> None:
            mounts.enter_context(small_fs(instance.host_dir / "spool" / "monitor", "4m"))
        install, instance = start_pbx(home, rootfs, before_start=mount_recordings)
        try:
            yield Pbx(install, instance)
        finally:
            instance.stop()
            close_database()  # before the mounts go (ExitStack unwinds after this)


def linebox(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LINEBOX_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def wait_for(check, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.2)


def cdr_rows(pbx) -> int:
    cdr_db = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir).cdr_db
    if not cdr_db.exists():
        return 0
    with sqlite3.connect(f"file:{cdr_db}?mode=ro", uri=True) as cdr:
        return cdr.execute("SELECT count(*) FROM cdr").fetchone()[0]


def queue_log_events(pbx) -> int:
    path = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir).queue_log
    return len(collector.parse_events(path.read_text())) if path.exists() else 0


def finished_recording(folder: Path, after: set[str]) -> Path | None:
    """A new recording whose size has stopped changing and whose WAV header counts every byte written
    (Asterisk writes the header's sizes when it closes the file)."""
    for found in recordings.list_recordings(folder):
        path = folder / found.path
        if found.path in after:
            continue
        size = path.stat().st_size
        time.sleep(0.5)
        if size == path.stat().st_size and size > 44:
            try:
                with wave.open(str(path)) as w:
                    if w.getnframes() and w.getnframes() * w.getsampwidth() * w.getnchannels() + 44 == size:
                        return path
            except (wave.Error, EOFError):
                pass
    return None


def recorded_call(phones, tag: str) -> None:
    mark = phones.mark()
    phones.call("telco", "5553700", tag=tag, hold=12)  # the agent hangs up first, after 5 s of talk
    phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "201", since=mark, timeout=30)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == tag, since=mark, timeout=40)


def test_disk_full_under_recording_and_collector_then_space_returns(pbx, carrier, tmp_path):
    from appliance.access import accounts
    from appliance.services.http_server import make_server
    from appliance.web.app import create_app
    from tests.web.conftest import Browser

    phones = _live_support_site(pbx, carrier, escalate_after=60, recording="always")
    phones.set_behaviour("201", "answer", hold=5)
    accounts.create_user("admin2", "Admin-pass-123", "admin", actor="test")
    server = make_server(create_app(pbx.install), "127.0.0.1", 0)
    server.start()
    browser = Browser(f"http://127.0.0.1:{server.port}")
    assert browser.login("admin2", "Admin-pass-123").status in (302, 303)
    log = open(tmp_path / "collector.log", "w")  # noqa: SIM115 - closed in the finally below
    collect = subprocess.Popen([sys.executable, "-m", "appliance.cli", "collect"], cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "LINEBOX_HOME": str(pbx.install.home), "PYTHONPATH": str(ROOT)})
    try:
        fillers = [fill(pbx.install.recordings_dir), fill(pbx.install.database.parent)]

        # full: the call still goes through; everything says which disk is full and what is not saved
        recorded_call(phones, "while-full")
        diag = linebox(pbx.install.home, "diag")
        assert diag.returncode == 2, diag.stdout + diag.stderr
        assert "FAIL Disk      database: 0 B free of 24.0 MiB (0%)" in diag.stdout, diag.stdout
        assert "FAIL Disk      recordings: 0 B free of 4.0 MiB (0%)" in diag.stdout, diag.stdout
        assert "-> call records not saved: delete old recordings/backups" in diag.stdout
        assert "-> recordings not saved: delete old recordings/backups" in diag.stdout
        page = browser.get("/")
        assert page.status == 200, page.body[:2000]
        assert "Disk full: database: 0 B free of 24.0 MiB" in page.body
        assert "Disk full: recordings: 0 B free of 4.0 MiB" in page.body
        saved = browser.submit("/contacts/new", {"name": "Written on a full disk", "numbers": "+441234500000"})
        assert saved.status == 503 and "the disk holding the database is full" in saved.body, saved.body[-2000:]
        wait_for(lambda: "cannot store call records" in (tmp_path / "collector.log").read_text(),
                 "the collector saying it cannot store call records")
        said = (tmp_path / "collector.log").read_text()
        assert "database or disk is full; nothing is lost" in said, said
        assert collect.poll() is None, "the collector keeps running, retrying"
        assert cdr_rows(pbx) > CallRecord.select().count()  # Asterisk has records the database could not take

        # space returns: the collector catches up exactly once, the next call is recorded whole
        for filler in fillers:
            filler.unlink()
        wait_for(lambda: "storing call records again" in (tmp_path / "collector.log").read_text(),
                 "the collector storing again", timeout=60)
        wait_for(lambda: CallRecord.select().count() == cdr_rows(pbx)
                 and QueueEvent.select().count() == queue_log_events(pbx), "every record collected")
        before = {r.path for r in recordings.list_recordings(pbx.install.recordings_dir)}
        records = CallRecord.select().count()
        recorded_call(phones, "after-space-returns")
        wait_for(lambda: CallRecord.select().count() == cdr_rows(pbx) > records
                 and QueueEvent.select().count() == queue_log_events(pbx), "the new call collected")
        path = wait_for(lambda: finished_recording(pbx.install.recordings_dir, before), "a finished recording")
        with wave.open(str(path)) as w:
            seconds = w.getnframes() / w.getframerate()
            samples = memoryview(w.readframes(w.getnframes())).cast("h")
        assert seconds >= 3 and max(abs(s) for s in samples) > 1000, "the call's audio, not silence"
        # exactly once: no duplicates of what was collected while full, nothing missing
        assert CallRecord.select().count() == cdr_rows(pbx)
        assert QueueEvent.select().count() == queue_log_events(pbx)
        diag = linebox(pbx.install.home, "diag")
        assert "FAIL Disk" not in diag.stdout and "WARN Disk" not in diag.stdout, diag.stdout
        assert "Disk full" not in browser.get("/").body
        saved = browser.submit("/contacts/new", {"name": "Written on a full disk", "numbers": "+441234500000"})
        assert saved.status in (302, 303), saved.body[-2000:]  # the same save works once space returns
    finally:
        collect.send_signal(signal.SIGTERM)
        try:
            collect.wait(timeout=20)
        except subprocess.TimeoutExpired:
            collect.kill()
            collect.wait()
        log.close()
        server.close()
    with sqlite3.connect(pbx.install.database) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
