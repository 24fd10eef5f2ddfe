"""Recordings in the console: list, playback with an audit row per listen, retention."""

from __future__ import annotations

import wave
from datetime import UTC, datetime

from appliance.callcenter import recordings
from appliance.model.models import AuditEntry


def make_wav(path, seconds: float = 2.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x00" * int(8000 * seconds))


def test_list_play_and_audit(console, tmp_path):
    from tests.web.test_pages import login
    install = console.app.extensions["linebox.install"]
    install.asterisk_root = tmp_path
    folder = install.recordings_dir
    make_wav(folder / "2026/11/20/1763600000.12-queue700.wav", 3.0)
    make_wav(folder / "2026/11/21/1763690000.5-101.wav")
    supervisor = login(console, "supervisor")
    page = supervisor.get("/recordings")
    assert page.status == 200 and "1763600000.12" in page.body and "queue700" in page.body
    with supervisor.opener.open(f"{console.url}/recordings/file/2026/11/20/1763600000.12-queue700.wav") as audio:
        assert audio.status == 200 and audio.headers["Content-Type"] == "audio/wav"
        assert len(audio.read()) > 8000 * 2 * 3
    listen = AuditEntry.select().where(AuditEntry.action == "listen").get()
    assert listen.user == "supervisor1" and listen.key == "2026/11/20/1763600000.12-queue700.wav"
    assert supervisor.get("/recordings/file/2026/11/20/..%2F..%2F..%2Fetc.wav").status == 404
    assert login(console, "agent").get("/recordings").status == 403


def test_retention_deletes_only_old_days(tmp_path, install):
    make_wav(tmp_path / "2026/10/01/1.1-100.wav")
    make_wav(tmp_path / "2026/11/20/2.2-100.wav")
    deleted = recordings.purge(tmp_path, 30, now=datetime(2026, 11, 23, tzinfo=UTC))
    assert deleted == 1
    assert [r.path for r in recordings.list_recordings(tmp_path)] == ["2026/11/20/2.2-100.wav"]
    assert not (tmp_path / "2026/10").exists()
    assert recordings.purge(tmp_path, 0) == 0
