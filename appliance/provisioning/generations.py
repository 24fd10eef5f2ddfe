"""The generation store: every applied configuration kept whole, and the ``live`` link to the one in use.

Generations live under ``config_root/generations/NNNNNN`` (their files, a ``meta.json`` saying
when, who and what changed, and ``FAILED`` when Asterisk or DAHDI refused them), and Asterisk reads
the one the ``live`` symlink points at (its ``astetcdir``).  Swapping is one ``rename()`` of that
link, so Asterisk never sees half a configuration; a generation is written aside, flushed to disk
and moved into place whole for the same reason (a power cut after the swap must not leave empty
files live).  The ``loaded`` link points at the generation Asterisk was last seen to take: it
differs from ``live`` only when an apply was cut short between its swap and its verify.

One apply or rollback at a time, whatever started it (console, API, CLI, boot): :func:`locked`
holds an ``flock`` on a file beside the generations, which works across processes and threads and
is released by the kernel when its holder dies.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from appliance.catalog import N_
from appliance.errors import Message
from appliance.provisioning.files import DAHDI_SUBDIRS
from appliance.provisioning.steps import ApplyFailed
from appliance.provisioning.target import Target

LOCK_FILE = ".apply.lock"
INTERRUPTED = "interrupted: the apply stopped before Asterisk took this generation"


@contextmanager
def locked(target: Target, user: str, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the one apply lock of this install, waiting up to ``target.lock_wait`` seconds for it.

    The lock file names its holder (pid, user, since when), so the one who waits is told who runs.
    """
    target.generations_dir.mkdir(parents=True, exist_ok=True)
    path = target.generations_dir / LOCK_FILE
    try:
        handle = open(path, "a+")  # noqa: SIM115 - closed below, after the lock is released
    except PermissionError:  # made by another user (root): a read-only handle can hold the lock too
        handle = open(path)  # noqa: SIM115
    with handle:
        deadline = time.monotonic() + target.lock_wait
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(path)
                if time.monotonic() >= deadline:
                    raise ApplyFailed("lock", Message(
                        N_("another apply or rollback is running (%(holder)s) and did not finish within "
                           "%(seconds)s s; nothing was changed: try again when it has finished"),
                        holder=holder, seconds=f"{target.lock_wait:.0f}")) from None
                if on_wait and not told:
                    on_wait(f"waiting for another apply or rollback to finish ({holder})")
                    told = True
                time.sleep(0.05)
        with suppress(OSError):
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, by {user}, since {datetime.now().astimezone():%H:%M:%S}\n")
            handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holder(path: Path) -> str:
    with suppress(OSError):
        return path.read_text().strip() or "starting"
    return "unknown"


def read_files(folder: Path | None) -> dict[str, str]:
    """A generation's files by name (DAHDI's as ``sub/name``); none for no generation."""
    if folder is None or not folder.is_dir():
        return {}
    files = {p.name: p.read_text() for p in sorted(folder.glob("*.conf"))}
    for sub in DAHDI_SUBDIRS:
        files.update({f"{sub}/{p.name}": p.read_text() for p in sorted((folder / sub).glob("*")) if p.is_file()})
    return files


def list_generations(target: Target) -> list[dict]:
    """Kept generations, newest first, with when/who/what from their meta file."""
    live = target.live_generation()
    out = []
    for folder in sorted(target.generations_dir.glob("[0-9]*"), reverse=True):
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        out.append({"id": folder.name, "live": live == folder.resolve(), **meta})
    return out


def next_id(target: Target) -> str:
    """The id the next generation gets: one more than the highest kept."""
    existing = [int(p.name) for p in target.generations_dir.glob("[0-9]*") if p.name.isdigit()]
    return f"{max(existing, default=0) + 1:06d}"


def stage(target: Target, new_dir: Path, files: dict[str, str], user: str, changed: list[str],
          beside: dict[str, str] | None = None, previous: Path | None = None,
          previous_files: dict[str, str] | None = None) -> str:
    """Write a generation's files and its meta file (and ``beside``'s, such as the list of objects verify
    reads) beside the others, flush them to disk, then move the folder into place whole.  Called under
    :func:`locked`: a staging folder left by an apply that was killed is removed here.

    A file the same as in ``previous`` (whose files are ``previous_files``) is a hard link to that one: a
    generation's files never change once written, and this one is already on disk (an apply that changes one
    file writes and flushes one file, not 28)."""
    for stale in target.generations_dir.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    # mkdir (not tempfile.mkdtemp, whose folder is 0700): the folder gets the process's umask like the
    # generations before it, so Asterisk's group and DAHDI's root reload script can read it
    staging = target.generations_dir / f".staging-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    folders = {staging}
    meta = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "user": user,
            "changed": changed}
    same = previous_files or {}
    for name, text in [*files.items(), *(beside or {}).items(), ("meta.json", json.dumps(meta, indent=1))]:
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        folders.add(path.parent)
        if previous is not None and name in files and same.get(name) == text:
            try:
                os.link(previous / name, path)
                continue
            except OSError:  # gone, or a file system without hard links: written as any other
                pass
        with open(path, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    for folder in sorted(folders, reverse=True):  # sub-folders' entries, then the generation's own
        fsync_dir(folder)
    os.replace(staging, new_dir)
    fsync_dir(target.generations_dir)
    return new_dir.name


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (new files, renames) durable: fsync of the files alone does not."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_link(link: Path, to: Path | str) -> None:
    """Make ``link`` point ``to``, atomically and durably: a reader sees the old link or the new one,
    never none, and after a power cut the link is the one this call made."""
    tmp = link.parent / f".{link.name}.linebox-{os.getpid()}"
    with suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(to)
    os.replace(tmp, link)
    fsync_dir(link.parent)


def point_live_at(target: Target, generation: Path) -> None:
    replace_link(target.live_link, os.path.relpath(generation, target.config_root))


def mark_loaded(target: Target, generation: Path) -> None:
    """Asterisk took ``generation`` (verified after its reload, or it reads it when it starts)."""
    replace_link(target.loaded_link, os.path.relpath(generation, target.config_root))


def unlink_live(target: Target) -> None:
    """A first apply that failed: no earlier generation to go back to, so nothing stays live."""
    with suppress(FileNotFoundError):
        target.live_link.unlink()


def mark_failed(generation: Path, reason: str) -> None:
    """Keep a refused or interrupted generation, marked so: rollback and ``diag`` skip or name it."""
    with suppress(OSError):
        (generation / "FAILED").write_text(reason + "\n")


def interrupted(target: Target) -> tuple[Path, Path] | None:
    """(live, loaded) when an apply was cut short between its swap and its verify, else None."""
    live, loaded = target.live_generation(), target.loaded_generation()
    if live is not None and loaded is not None and live != loaded and loaded.is_dir():
        return live, loaded
    return None


def prune(target: Target) -> None:
    """Keep the newest ``target.keep`` generations, and the live and loaded ones whatever their age."""
    keep = {target.live_generation(), target.loaded_generation()}
    folders = sorted(target.generations_dir.glob("[0-9]*"), reverse=True)
    for folder in folders[target.keep:]:
        if folder.resolve() not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def undo_interrupted(target: Target, never_loaded: Path, loaded: Path) -> str:
    """Put ``live`` back on the generation Asterisk runs, and mark the one it never took."""
    point_live_at(target, loaded)
    mark_failed(never_loaded, INTERRUPTED)
    return (f"generation {never_loaded.name} was made live by an apply cut short before Asterisk took it: "
            f"live -> {loaded.name}, the last one Asterisk took")
