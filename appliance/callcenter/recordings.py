"""Call recordings: where MixMonitor leaves them, what they are, and the retention policy.

Asterisk writes recordings under its spool's ``monitor`` folder in dated
sub-folders (``YYYY/MM/DD/<uniqueid>-<who>.wav``), as the dialplan and
queues.conf Linebox renders tell it.  Listing reads the folder; playback
is served by the console, which audits every listen; retention deletes
recordings older than the site's ``recording_retention_days``.
"""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.model import audit
from appliance.robot import calls as robot_calls
from appliance.site import localtime

NAME_RE = re.compile(r"^(?P<uniqueid>[0-9]+\.[0-9]+)-(?P<who>[A-Za-z0-9_-]+)\.wav$")


@dataclass(frozen=True)
class Recording:
    path: str  # relative to the recordings folder: YYYY/MM/DD/name.wav
    day: str
    uniqueid: str
    who: str
    size: int
    seconds: float


def _duration(file: Path) -> float:
    try:
        with wave.open(str(file)) as w:
            return round(w.getnframes() / float(w.getframerate() or 8000), 1)
    except (wave.Error, EOFError, OSError):
        return 0.0


def list_recordings(folder: Path, day: str | None = None) -> list[Recording]:
    """Recordings, newest day first; ``day`` (YYYY-MM-DD) narrows to one day."""
    pattern = f"{day.replace('-', '/')}/*.wav" if day else "*/*/*/*.wav"
    found = []
    for file in folder.glob(pattern):
        match = NAME_RE.match(file.name)
        if not match:
            continue
        rel = file.relative_to(folder).as_posix()
        found.append(Recording(path=rel, day="-".join(rel.split("/")[:3]), uniqueid=match["uniqueid"],
                               who=match["who"], size=file.stat().st_size, seconds=_duration(file)))
    return sorted(found, key=lambda r: (r.day, r.uniqueid), reverse=True)


def resolve(folder: Path, relative: str) -> Path:
    """The file for a listed recording path; refuses anything outside the recordings folder."""
    if not re.fullmatch(r"[0-9]{4}/[0-9]{2}/[0-9]{2}/[A-Za-z0-9._-]+\.wav", relative):
        raise FileNotFoundError(relative)
    file = (folder / relative).resolve()
    if folder.resolve() not in file.parents or not file.is_file():
        raise FileNotFoundError(relative)
    return file


def record_listen(user: str, relative: str) -> None:
    """Every playback or download is in the audit log: who listened to which call, when."""
    audit.record(user, "listen", "recording", relative, None, None)


def purge(folder: Path, keep_days: int, user: str = "retention", now: datetime | None = None) -> int:
    """Delete recordings of days older than ``keep_days`` (0 keeps everything); return how many.

    Days are the site's local days, as the dialplan files recordings by (``STRFTIME`` in the site's time
    zone): with 90 days kept, the folder of the 91st local day back goes at the site's midnight."""
    if keep_days <= 0:
        return 0
    today = (now or datetime.now(UTC)).astimezone(localtime.site_zone()).date()
    cutoff = (today - timedelta(days=keep_days)).strftime("%Y-%m-%d")
    # the voice robots' transcripts follow the same policy (from the same local midnight)
    start_of_cutoff = datetime.combine(today - timedelta(days=keep_days), datetime.min.time(),
                                       tzinfo=localtime.site_zone())
    transcripts = robot_calls.purge_before(start_of_cutoff.timestamp())
    if transcripts:
        audit.record(user, "purge", "robot_transcript", f"before {cutoff}", {"deleted": transcripts}, None)
    if not folder.exists():
        return 0
    deleted = 0
    for rec in list_recordings(folder):
        if rec.day < cutoff:
            (folder / rec.path).unlink(missing_ok=True)
            deleted += 1
    for day_dir in sorted(folder.glob("*/*/*"), reverse=True):
        for empty in (day_dir, day_dir.parent, day_dir.parent.parent):
            if empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()
    if deleted:
        audit.record(user, "purge", "recording", f"before {cutoff}", {"deleted": deleted}, None)
    return deleted
