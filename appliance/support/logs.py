"""``linebox logs``: the Linebox services' and Asterisk's logs, wherever this box keeps them.

Under systemd every service logs to the journal, so the logs are ``journalctl`` for the units
(merged in time order, colour only on a terminal).  Elsewhere (a development machine, the lab)
they are files: Asterisk's ``messages.log`` from the install, and Linebox's own ``*.log`` files in
``<home>/logs`` when something writes them there.  Both ways take the same ``--since`` words.
"""

from __future__ import annotations

import grp
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from appliance.install import Install

UNITS = {
    "asterisk": "asterisk.service",
    "web": "linebox-web.service",
    "collector": "linebox-collector.service",
    "agi": "linebox-agi.service",
    "provision": "linebox-provision.service",
    "bans": "linebox-bans.service",
    "webhooks": "linebox-webhooks.service",
    "robot": "linebox-robot.service",
    "apply": "linebox-apply.service",
    "dahdi": "linebox-dahdi.service",
}
_RELATIVE = re.compile(r"^(\d+)\s*(s|sec|m|min|h|hour|hours|d|day|days)$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "hours": 3600, "d": 86400,
                 "day": 86400, "days": 86400}
# Asterisk's lines start "[2026-11-23 08:30:01.123]" (Linebox's logger.conf sets dateformat = %F %T.%3q)
_STAMP = re.compile(r"^\[?(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})")


class LogsError(Exception):
    pass


def under_systemd() -> bool:
    """True when this box runs systemd with a journal to read (not in a container or chroot)."""
    return Path("/run/systemd/system").is_dir() and shutil.which("journalctl") is not None


def unit_names(names: tuple[str, ...] | list[str]) -> list[str]:
    """``web``, ``linebox-web`` or ``linebox-web.service`` -> ``linebox-web.service``; none: all of them."""
    if not names:
        return list(UNITS.values())
    out = []
    for name in names:
        short = name.removesuffix(".service").removeprefix("linebox-")
        if short not in UNITS:
            raise LogsError(f"unknown unit '{name}' (known: {', '.join(UNITS)})")
        out.append(UNITS[short])
    return out


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'10m', '2h', '3d', 'today', 'yesterday', '2026-11-23' or '2026-11-23 08:00' -> a local time."""
    now = now or datetime.now()
    value = text.strip().lower()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if value == "today":
        return midnight
    if value == "yesterday":
        return midnight - timedelta(days=1)
    match = _RELATIVE.match(value)
    if match:
        return now - timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise LogsError(f"cannot read the time '{text}': use e.g. 10m, 2h, 1d, today, yesterday or 2026-11-23 08:00")


def journal_command(units: list[str], since: datetime | None, lines: int, follow: bool) -> list[str]:
    """The journalctl call for these units (short ISO times, never a pager)."""
    command = ["journalctl", "--no-pager", "--output=short-iso", "--lines", str(lines)]
    for unit in units:
        command += ["--unit", unit]
    if since is not None:
        command += ["--since", since.strftime("%Y-%m-%d %H:%M:%S")]
    if follow:
        command.append("--follow")
    return command


def journal_readable() -> bool:
    """Whether this user sees every unit's journal: root, or a member of systemd-journal or adm."""
    if os.geteuid() == 0:
        return True
    wanted = set()
    for name in ("systemd-journal", "adm"):
        try:
            wanted.add(grp.getgrnam(name).gr_gid)
        except KeyError:
            continue
    return bool(wanted & set(os.getgroups()))


def journal_env(colour: bool) -> dict[str, str]:
    return {**os.environ, "SYSTEMD_COLORS": "1" if colour else "0", "SYSTEMD_PAGER": ""}


# ---------------------------------------------------------------- files


@dataclass(frozen=True)
class LogFile:
    name: str
    path: Path


def log_files(install: Install, units: list[str]) -> list[LogFile]:
    """The files standing in for the journal: Asterisk's messages.log and Linebox's own logs."""
    files = []
    if "asterisk.service" in units and install.asterisk_log is not None:
        files.append(LogFile("asterisk", install.asterisk_log))
    if any(u.startswith("linebox-") for u in units):
        folder = install.home / "logs"
        wanted = {u.removesuffix(".service").removeprefix("linebox-") for u in units}
        for path in sorted(folder.glob("*.log")) if folder.is_dir() else []:
            stem = path.stem.removeprefix("linebox-")
            if stem in wanted or len(wanted) == len(UNITS) - 1 or stem == "linebox":
                files.append(LogFile(path.stem, path))
    return files


def stamp_of(line: str) -> datetime | None:
    match = _STAMP.match(line)
    if not match:
        return None
    try:
        return datetime.fromisoformat(match.group(1).replace("T", " "))
    except ValueError:
        return None


def tail(path: Path, lines: int, since: datetime | None = None, block: int = 65536) -> list[str]:
    """The last ``lines`` lines of ``path`` (newer than ``since``), reading only the end of a large file."""
    if not path.exists():
        return []
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        data = b""
        position = end
        while position > 0:
            position = max(0, position - block)
            handle.seek(position)
            data = handle.read(end - position)
            found = data.splitlines()
            enough = len(found) > lines
            if enough and since is not None:
                first = next((s for line in found[1:] if (s := stamp_of(line.decode(errors="replace")))), None)
                enough = first is not None and first < since
            if enough:
                break
    text = data.decode(errors="replace").splitlines()
    if position > 0:
        text = text[1:]  # the first line read may be cut in the middle
    if since is not None:
        kept, keep = [], False
        for line in text:
            stamp = stamp_of(line)
            if stamp is not None:
                keep = stamp >= since
            if keep:
                kept.append(line)
        text = kept
    return text[-lines:] if lines > 0 else []


def follow(files: list[LogFile], emit: Callable[[str, str], None], stop: Callable[[], bool],
           interval: float = 0.5) -> None:
    """Print what is appended to ``files`` until ``stop()`` says so; a rotated file is read anew."""
    state: dict[Path, tuple[int, int]] = {}
    for f in files:
        if f.path.exists():
            st = f.path.stat()
            state[f.path] = (st.st_ino, st.st_size)
    buffers: dict[Path, bytes] = {}
    while not stop():
        for f in files:
            for line in _new_lines(f.path, state, buffers):
                emit(f.name, line)
        time.sleep(interval)


def _new_lines(path: Path, state: dict[Path, tuple[int, int]], buffers: dict[Path, bytes]) -> Iterator[str]:
    if not path.exists():
        return
    st = path.stat()
    inode, offset = state.get(path, (st.st_ino, 0))
    if inode != st.st_ino or st.st_size < offset:
        offset = 0
    if st.st_size == offset:
        state[path] = (st.st_ino, offset)
        return
    with open(path, "rb") as handle:
        handle.seek(offset)
        chunk = buffers.pop(path, b"") + handle.read()
        state[path] = (st.st_ino, handle.tell())
    *whole, rest = chunk.split(b"\n")
    if rest:
        buffers[path] = rest
    for line in whole:
        yield line.decode(errors="replace")


def level_of(line: str) -> str | None:
    """'error' or 'warning' for lines a technician should see first (coloured on a terminal)."""
    if re.search(r"\b(ERROR|CRITICAL)\b", line):
        return "error"
    if re.search(r"\bWARNING\b", line):
        return "warning"
    return None
