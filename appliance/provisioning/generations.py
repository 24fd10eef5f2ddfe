"""The generation store: every applied configuration kept whole, and the ``live`` link to the one in use.

Generations live under ``config_root/generations/NNNNNN`` (their files, a ``meta.json`` saying
when, who and what changed, and ``FAILED`` when Asterisk or DAHDI refused them), and Asterisk reads
the one the ``live`` symlink points at (its ``astetcdir``).  Swapping is one ``rename()`` of that
link, so Asterisk never sees half a configuration; a generation is written aside and moved into
place whole for the same reason.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from appliance.provisioning.files import DAHDI_SUBDIRS
from appliance.provisioning.target import Target


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


def stage(target: Target, new_dir: Path, files: dict[str, str], user: str, changed: list[str]) -> str:
    """Write a generation's files and its meta file beside the others, then move it into place whole."""
    staging = target.generations_dir / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, text in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_text(text)
    meta = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "user": user,
            "changed": changed}
    (staging / "meta.json").write_text(json.dumps(meta, indent=1))
    os.replace(staging, new_dir)
    return new_dir.name


def replace_link(link: Path, to: Path | str) -> None:
    """Make ``link`` point ``to``, atomically: a reader sees the old link or the new one, never none."""
    tmp = link.parent / f".{link.name}.linebox-{os.getpid()}"
    with suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(to)
    os.replace(tmp, link)


def point_live_at(target: Target, generation: Path) -> None:
    replace_link(target.live_link, os.path.relpath(generation, target.config_root))


def unlink_live(target: Target) -> None:
    """A first apply that failed: no earlier generation to go back to, so nothing stays live."""
    with suppress(FileNotFoundError):
        target.live_link.unlink()


def prune(target: Target) -> None:
    """Keep the newest ``target.keep`` generations, and the live one whatever its age."""
    live = target.live_generation()
    folders = sorted(target.generations_dir.glob("[0-9]*"), reverse=True)
    for folder in folders[target.keep:]:
        if live is None or folder.resolve() != live:
            shutil.rmtree(folder, ignore_errors=True)
