"""Apply: render → check → diff → atomic swap → reload what changed → verify → (roll back).

Generations live under ``config_root/generations/NNNNNN`` and Asterisk reads
the one the ``live`` symlink points at (its ``astetcdir``).  Swapping is one
``rename()`` of that link, so Asterisk never sees half a configuration.
Only the modules whose files changed are reloaded, each by its own command,
and each step is reported as it happens.  When Asterisk rejects something
(a reload error, an ERROR line it logs while reloading, an object missing
afterwards) the link goes back to the previous generation, the same modules
are reloaded again, and the report names the file, line and object at fault.

DAHDI's files live in the generations too; ``/etc/dahdi/*`` link to them through the ``live`` link
(made by Ansible on the appliance, by apply itself in the lab), and dahdi_cfg runs either directly or,
on the appliance where apply is not root, by request to a root service (:mod:`.dahdi_reload`).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from appliance.asterisk.ami import Ami, AmiError
from appliance.provisioning import dahdi_reload, render, sounds
from appliance.provisioning.files import BY_NAME, CHAN_DAHDI, DAHDI_SUBDIRS
from appliance.site.checks import Site, check_site
from hardware import detect

SECRET_LINE = re.compile(r"^(\s*(password|secret)\s*=\s*).+$", re.MULTILINE)
ERROR_LINE = re.compile(r"\] ERROR\[\d+\][^:]*: (.*)$")


@dataclass
class Target:
    """Where a configuration is applied: its folders and how to reach its Asterisk."""

    config_root: Path
    log_file: Path | None = None
    connect: Callable[[], Ami] | None = None
    keep: int = 10
    sounds_dir: Path | None = None  # where spoken IVR greetings are rendered (None: not here, e.g. a dry run)
    # DAHDI: where its files are linked from (None: they stay in the generation, e.g. the lab), the
    # modprobe.d folder, the dahdi_cfg command (None: not run here) and the last hardware scan.
    dahdi_root: Path | None = None
    modprobe_dir: Path | None = None
    dahdi_cfg: tuple[str, ...] | None = None
    inventory_file: Path | None = None
    # The appliance: the links were made by root (Ansible) and apply only checks them (dahdi_link False),
    # and dahdi_cfg runs in the root reload service, asked through dahdi_service (instead of dahdi_cfg).
    dahdi_link: bool = True
    dahdi_service: dahdi_reload.Service | None = None

    @property
    def dahdi_managed(self) -> bool:
        """Whether apply gets dahdi_cfg run here (itself or through the root service)."""
        return self.dahdi_service is not None or self.dahdi_cfg is not None

    @property
    def generations_dir(self) -> Path:
        return self.config_root / "generations"

    @property
    def live_link(self) -> Path:
        return self.config_root / "live"

    def live_generation(self) -> Path | None:
        if self.live_link.is_symlink():
            return self.live_link.resolve()
        return None


@dataclass
class Step:
    name: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0

    def __str__(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        detail = f": {self.detail}" if self.detail else ""
        return f"[{mark}] {self.name} ({self.seconds * 1000:.0f} ms){detail}"


@dataclass
class ApplyResult:
    ok: bool
    steps: list[Step] = field(default_factory=list)
    diff: str = ""
    changed: list[str] = field(default_factory=list)
    generation: str | None = None
    error: str = ""
    rolled_back: bool = False


class ApplyFailed(Exception):
    """A step failed.  ``dahdi_untouched``: DAHDI never read the new files (no dahdi_cfg to undo)."""

    def __init__(self, step: str, message: str, dahdi_untouched: bool = False):
        self.step = step
        self.dahdi_untouched = dahdi_untouched
        super().__init__(message)


def redact(text: str) -> str:
    """Hide secrets from a diff or a report."""
    return SECRET_LINE.sub(r"\1********", text)


def _read_files(folder: Path | None) -> dict[str, str]:
    if folder is None or not folder.is_dir():
        return {}
    files = {p.name: p.read_text() for p in sorted(folder.glob("*.conf"))}
    for sub in DAHDI_SUBDIRS:
        files.update({f"{sub}/{p.name}": p.read_text() for p in sorted((folder / sub).glob("*")) if p.is_file()})
    return files


def dahdi_in_use(files: dict[str, str]) -> bool:
    """Whether a generation configures any DAHDI channel (chan_dahdi.conf has a ``channel =>`` line)."""
    return re.search(r"^channel =>", files.get(CHAN_DAHDI, ""), re.MULTILINE) is not None


def _dahdi_changed(changed: list[str]) -> bool:
    return any(name == CHAN_DAHDI or name.split("/")[0] in DAHDI_SUBDIRS for name in changed)


LINKS_FIX = "the Ansible playbook with linebox_dahdi: true makes them, as root (roles/dahdi)"


def dahdi_links(target: Target, files: dict[str, str]) -> list[tuple[Path, Path]]:
    """(link, where it must point) for each DAHDI file of a generation: through the ``live`` link."""
    links = []
    for name in sorted(files):
        sub, _, base = name.partition("/")
        root = {"dahdi": target.dahdi_root, "modprobe.d": target.modprobe_dir}.get(sub) if base else None
        if root is not None:
            links.append((root / base, target.live_link / sub / base))
    return links


def _points_right(path: Path, wanted: Path) -> bool:
    return path.is_symlink() and Path(os.readlink(path)) == wanted


def _what_is_at(path: Path) -> str:
    if path.is_symlink():
        return f"links to {os.readlink(path)}"
    return "is a file" if path.exists() else "is missing"


def _link_dahdi(target: Target, files: dict[str, str]) -> str:
    """Point DAHDI's config files at the live generation, once: afterwards every swap of the ``live``
    link swaps them too, so DAHDI's files change with Asterisk's, atomically, and roll back with them.
    A file found in the way (the package's sample) is kept as ``NAME.linebox-orig``.

    Links that already point right are left alone (on the appliance Ansible made them as root and
    apply never writes to ``/etc``); with ``target.dahdi_link`` False a wrong one is reported, not fixed."""
    linked, wrong = [], []
    for path, wanted in dahdi_links(target, files):
        if _points_right(path, wanted):
            continue
        if not target.dahdi_link:
            wrong.append(f"{path} {_what_is_at(path)}")
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and not path.is_symlink():
                os.replace(path, path.with_name(path.name + ".linebox-orig"))
            _replace_link(path, wanted)
        except PermissionError as error:
            raise ApplyFailed("dahdi: link files", f"cannot link {path} to {wanted} ({error.strerror}): "
                              f"{LINKS_FIX}", dahdi_untouched=True) from error
        linked.append(str(path))
    if wrong:
        raise ApplyFailed("dahdi: link files", f"DAHDI would not read Linebox's files: {'; '.join(wrong)}, "
                          f"not a link to {target.live_link}/...: {LINKS_FIX}", dahdi_untouched=True)
    return f"linked {', '.join(linked)}" if linked else "already linked to the live generation"


def _refused(status: int, said: list[str]) -> ApplyFailed:
    return ApplyFailed("dahdi_cfg", f"dahdi_cfg refused system.conf (exit {status}): " + " / ".join(said))


def _run_dahdi_cfg(target: Target) -> str:
    """Run dahdi_cfg on the live generation's system.conf (or have the root service run it); its own
    words on failure."""
    if target.dahdi_service is not None:
        try:
            return dahdi_reload.describe(dahdi_reload.request(target.dahdi_service))
        except dahdi_reload.Refused as refused:
            raise _refused(refused.status, refused.said) from None
        except dahdi_reload.ReloadError as error:
            raise ApplyFailed("dahdi_cfg", str(error), dahdi_untouched=not error.taken) from None
    system_conf = target.live_link / "dahdi" / "system.conf"
    command = [*target.dahdi_cfg, "-c", str(system_conf)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ApplyFailed("dahdi_cfg", f"{' '.join(command)}: {error}") from error
    if done.returncode != 0:
        raise _refused(done.returncode, (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:])
    return f"{' '.join(command)}: ok"


def _apply_dahdi(run: _Run, target: Target, files: dict[str, str], changed: list[str],
                 old_files: dict[str, str]) -> None:
    """After a swap: link DAHDI's files and run dahdi_cfg when they changed and the site uses DAHDI.

    A site that never had a port or span says nothing about DAHDI; one whose last port or span was
    just removed is told what happens to the channels still configured."""
    if not _dahdi_changed(changed):
        return
    if not dahdi_in_use(files):
        if dahdi_in_use(old_files):
            run._record(Step("dahdi", True, "no analog ports or spans any more: dahdi_cfg not run; DAHDI keeps its "
                                            "channels and chan_dahdi stays loaded until the next restart"))
        return
    if target.dahdi_root is not None or target.modprobe_dir is not None:
        run.step("dahdi: link files", lambda: _link_dahdi(target, files))
    if not target.dahdi_managed:
        run._record(Step("dahdi_cfg", True, "DAHDI not managed here: dahdi_cfg not run"))
        return
    run.step("dahdi_cfg", lambda: _run_dahdi_cfg(target))


def _load_inventory(target: Target) -> detect.Inventory | None:
    if target.inventory_file is None or not target.inventory_file.exists():
        return None
    try:
        return detect.load(target.inventory_file)
    except (OSError, ValueError):
        return None  # a damaged scan only costs the drivers list; a new scan rewrites it


def diff_files(old: dict[str, str], new: dict[str, str]) -> str:
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name, ""), new.get(name, "")
        if a != b:
            out.extend(difflib.unified_diff(
                redact(a).splitlines(keepends=True), redact(b).splitlines(keepends=True),
                fromfile=f"live/{name}", tofile=f"new/{name}",
            ))
    return "".join(out)


def list_generations(target: Target) -> list[dict]:
    """Kept generations, newest first, with when/who/what from their meta file."""
    live = target.live_generation()
    out = []
    for folder in sorted(target.generations_dir.glob("[0-9]*"), reverse=True):
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        out.append({"id": folder.name, "live": live == folder.resolve(), **meta})
    return out


class _Run:
    """One apply or rollback in progress: times and reports each step."""

    def __init__(self, progress: Callable[[Step], None] | None):
        self.steps: list[Step] = []
        self.progress = progress

    def step(self, name: str, action: Callable[[], str | None]) -> str | None:
        start = time.monotonic()
        try:
            detail = action()
        except ApplyFailed as error:
            self._record(Step(name, False, str(error), time.monotonic() - start))
            raise
        except (AmiError, OSError) as error:
            self._record(Step(name, False, str(error), time.monotonic() - start))
            raise ApplyFailed(name, str(error)) from error
        self._record(Step(name, True, detail or "", time.monotonic() - start))
        return detail

    def _record(self, step: Step) -> None:
        self.steps.append(step)
        if self.progress:
            self.progress(step)


def _next_generation_id(target: Target) -> str:
    existing = [int(p.name) for p in target.generations_dir.glob("[0-9]*") if p.name.isdigit()]
    return f"{max(existing, default=0) + 1:06d}"


def _replace_link(link: Path, to: Path | str) -> None:
    """Make ``link`` point ``to``, atomically: a reader sees the old link or the new one, never none."""
    tmp = link.parent / f".{link.name}.linebox-{os.getpid()}"
    with suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(to)
    os.replace(tmp, link)


def _point_live_at(target: Target, generation: Path) -> None:
    _replace_link(target.live_link, os.path.relpath(generation, target.config_root))


def _log_offset(target: Target) -> int:
    if target.log_file and target.log_file.exists():
        return target.log_file.stat().st_size
    return 0


def _new_errors(target: Target, offset: int) -> list[str]:
    if not (target.log_file and target.log_file.exists()):
        return []
    with open(target.log_file, errors="replace") as handle:
        handle.seek(offset)
        text = handle.read()
    return [m.group(1).strip() for line in text.splitlines() if (m := ERROR_LINE.search(line))]


def locate(errors: list[str], files: dict[str, str]) -> str:
    """Turn Asterisk's error lines into 'file, line, object' for the report."""
    notes = []
    for message in errors:
        where = ""
        obj = re.search(r"with id '([^']+)' from configuration file '([^']+)'", message)
        line = re.search(r"at line (\d+) of\s*(\S*)", message)
        if obj:
            name, fname = obj.group(1), obj.group(2)
            where = f"{fname}: section [{name}] ({_owner(files.get(fname, ''), name)})"
        elif line and line.group(2):
            fname = line.group(2)
            where = f"{fname} line {line.group(1)} ({_owner_at(files.get(fname, ''), int(line.group(1)))})"
        notes.append(f"{message}" + (f" -> {where}" if where else ""))
    return "; ".join(notes)


def _owner(text: str, section: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f"[{section}]":
            return _owner_at(text, i + 1)
    return "unknown object"


def _owner_at(text: str, lineno: int) -> str:
    """The Linebox object that produced a line: the nearest '; <kind> <key>' comment above it."""
    lines = text.splitlines()[:lineno]
    for line in reversed(lines):
        m = re.match(r"^; (extension|trunk) (\S+)$", line)
        if m:
            return f"{m.group(1)} {m.group(2)}"
    return "site settings"


def _reload_and_verify(run: _Run, target: Target, changed: list[str], files: dict[str, str],
                       old_files: dict[str, str] | None) -> list[str]:
    """Reload the changed files' modules, then check Asterisk took them; return notes."""
    notes = []
    commands = []
    for name in changed:
        if name == CHAN_DAHDI or name.split("/")[0] in DAHDI_SUBDIRS:
            continue  # chan_dahdi is reloaded below; DAHDI's own files were handled by dahdi_cfg
        entry = BY_NAME.get(name)
        command = entry.reload if entry else None
        if command is None:
            notes.append(f"{name} changed: takes effect when Asterisk restarts")
        elif command not in commands:
            commands.append(command)
    reload_dahdi = _dahdi_changed(changed) and dahdi_in_use(files)
    if not commands and not reload_dahdi:
        return notes
    with target.connect() as ami:
        offset = _log_offset(target)
        if reload_dahdi:
            loaded = "chan_dahdi.so" in ami.command("module show like chan_dahdi")
            commands.append("dahdi restart" if loaded else "module load chan_dahdi.so")
        for command in commands:
            def reload(command=command) -> str:
                output = ami.command(command).strip()
                if any(word in output.lower() for word in ("no such", "failed", "error", "not found")):
                    raise ApplyFailed(command, f"Asterisk answered: {output}")
                return output.splitlines()[0] if output else ""
            run.step(f"reload: {command}", reload)

        if old_files is not None:
            for name in changed_registrations(files.get("pjsip.conf", ""), old_files.get("pjsip.conf", "")):
                run.step(f"re-register: {name}", lambda name=name: ami.command(f"pjsip send register {name}"))

        def verify() -> str:
            time.sleep(0.2)
            errors = _new_errors(target, offset)
            if errors:
                raise ApplyFailed("verify", "Asterisk rejected the configuration: " + locate(errors, files))
            if old_files is None:
                return "no errors logged"
            checked = _verify_objects(ami, files, old_files)
            return f"{checked} changed objects present, no errors logged"
        run.step("verify", verify)
    return notes


def endpoint_sections(text: str) -> dict[str, str]:
    """pjsip.conf endpoints by name, each with the text of all its same-named sections."""
    sections: dict[str, list[str]] = {}
    for block in re.split(r"^(?=\[)", text, flags=re.MULTILINE):
        m = re.match(r"\[([^\]]+)\]", block)
        if m:
            sections.setdefault(m.group(1), []).append(block)
    return {name: "".join(blocks) for name, blocks in sections.items()
            if any(re.search(r"^type = endpoint$", b, re.MULTILINE) for b in blocks)}


def object_blocks(text: str) -> dict[str, str]:
    """pjsip.conf split into the blocks each Linebox object wrote (they start '; <kind> <key>')."""
    blocks: dict[str, str] = {}
    for block in re.split(r"^(?=; (?:extension|trunk) \S+$)", text, flags=re.MULTILINE):
        m = re.match(r"; (extension|trunk) (\S+)\n", block)
        if m:
            blocks[f"{m.group(1)} {m.group(2)}"] = block
    return blocks


def changed_registrations(new_text: str, old_text: str) -> list[str]:
    """Registrations to send again: Asterisk keeps a registration whose own section did not change,
    even when its credentials did, until it expires; a trunk whose password was changed must
    re-register now, or it would fail silently minutes after a successful apply."""
    old = object_blocks(old_text)
    names = []
    for label, block in object_blocks(new_text).items():
        if old.get(label) not in (None, block):
            names += re.findall(r"^\[([^\]]+)\]\ntype = registration$", block, re.MULTILINE)
    return names


# Endpoints queried one by one after a reload.  Beyond this many changes a spread-out sample is
# queried: Asterisk's own error lines (checked first) already catch every object it refused, and
# listing 10,000 endpoints costs Asterisk seconds.
_VERIFY_SAMPLE = 12


def _sample(names: list[str], size: int) -> list[str]:
    if len(names) <= size:
        return names
    step = (len(names) - 1) / (size - 1)
    return [names[round(i * step)] for i in range(size)]


def _verify_objects(ami: Ami, files: dict[str, str], old_files: dict[str, str]) -> int:
    """Check that every endpoint this apply added or changed, and the main contexts, are in Asterisk."""
    new, old = endpoint_sections(files.get("pjsip.conf", "")), endpoint_sections(old_files.get("pjsip.conf", ""))
    changed = sorted(name for name, text in new.items() if old.get(name) != text)
    checked = _sample(changed, _VERIFY_SAMPLE)
    missing = [name for name in checked if not _endpoint_loaded(ami, name)]
    if missing:
        raise ApplyFailed("verify", f"endpoints missing in Asterisk after reload: {', '.join(missing[:10])}")
    contexts = ["from-internal", "from-trunk", "ext-local"]
    for context in contexts:
        out = ami.command(f"dialplan show {context}")
        if "no existence" in out.lower() or "there is no" in out.lower():
            raise ApplyFailed("verify", f"dialplan context '{context}' missing in Asterisk after reload")
    return len(checked) + len(contexts)


def _endpoint_loaded(ami: Ami, name: str) -> bool:
    out = ami.command(f"pjsip show endpoint {name}")
    return re.search(rf"^\s*Endpoint:\s+{re.escape(name)}[/\s]", out, re.MULTILINE) is not None


def apply(site: Site, facts: render.InstallFacts, target: Target, user: str = "system",
          dry_run: bool = False, progress: Callable[[Step], None] | None = None,
          with_diff: bool = False) -> ApplyResult:
    """Apply the site to Asterisk; on any failure the previous generation stays (or is put back) live.

    The readable diff is computed for a dry run or when ``with_diff`` is set:
    on a large site it costs more than the rest of the apply before reload.
    """
    run = _Run(progress)
    result = ApplyResult(ok=False, steps=run.steps)
    target.generations_dir.mkdir(parents=True, exist_ok=True)
    previous = target.live_generation()
    live_files = _read_files(previous)
    files: dict[str, str] = {}
    try:
        def check() -> str:
            problems = check_site(site)
            if problems:
                raise ApplyFailed("check", "; ".join(str(p) for p in problems))
            return f"{sum(len(v) for v in site.objects.values())} objects consistent"
        run.step("check", check)

        if target.sounds_dir is not None and not dry_run and sounds.needed(site.of("ivr")):
            def speak() -> str:
                # before the dialplan names them: a greeting's text is rendered once per text and voice
                try:
                    notes = sounds.prepare_for_site(site.of("ivr"), target.sounds_dir)
                except sounds.SoundError as error:
                    raise ApplyFailed("sounds", str(error)) from None
                return "; ".join(notes) or "greetings ready"
            run.step("sounds", speak)

        def do_render() -> str:
            files.update(render.render_all(site, facts))
            files.update(render.render_dahdi_files(site, _load_inventory(target)))
            return f"{len(files)} files, {sum(len(t) for t in files.values()) // 1024} KiB"
        run.step("render", do_render)

        def do_diff() -> str:
            result.changed = [n for n in files if live_files.get(n) != files[n]]
            if dry_run or with_diff:
                result.diff = diff_files(live_files, files)
            return ", ".join(result.changed) if result.changed else "no change"
        run.step("diff", do_diff)
        if dry_run or not result.changed:
            result.ok = True
            return result

        new_dir = target.generations_dir / _next_generation_id(target)
        def stage() -> str:
            staging = target.generations_dir / f".staging-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            for name, text in files.items():
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                (staging / name).write_text(text)
            meta = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "user": user,
                    "changed": result.changed}
            (staging / "meta.json").write_text(json.dumps(meta, indent=1))
            os.replace(staging, new_dir)
            return new_dir.name
        run.step("stage", stage)
        result.generation = new_dir.name

        run.step("swap", lambda: _point_live_at(target, new_dir) or f"live -> {new_dir.name}")
    except ApplyFailed as error:
        result.error = f"{error.step}: {error}"
        return result

    try:
        _apply_dahdi(run, target, files, result.changed, live_files)
    except ApplyFailed as error:
        result.error = f"{error.step}: {error}"
        if previous is not None:
            _restore(run, target, previous, result.changed, dahdi_only=target.connect is None,
                     dahdi_untouched=error.dahdi_untouched)
            result.rolled_back = True
        else:
            _unlink_live(target)
            result.rolled_back = True
        with suppress(OSError):
            (new_dir / "FAILED").write_text(result.error + "\n")
        return result

    if target.connect is None:
        result.ok = True
        run._record(Step("reload", True, "Asterisk not managed here: it reads the new files when it starts"))
        _prune(target)
        return result
    try:
        notes = _reload_and_verify(run, target, result.changed, files, live_files)
        for note in notes:
            run._record(Step("note", True, note))
        result.ok = True
        _prune(target)
    except ApplyFailed as error:
        result.error = f"{error.step}: {error}"
        if previous is not None:
            _restore(run, target, previous, result.changed)
            result.rolled_back = True
        with suppress(OSError):
            (new_dir / "FAILED").write_text(result.error + "\n")
    return result


def _restore(run: _Run, target: Target, generation: Path, changed: list[str], dahdi_only: bool = False,
             dahdi_untouched: bool = False) -> None:
    """Put ``generation`` back live; dahdi_cfg runs on its files again (the same way as forward, so
    through the root service on the appliance) unless DAHDI never read the new ones."""
    def swap_back() -> str:
        _point_live_at(target, generation)
        return f"live -> {generation.name}"
    try:
        run.step("rollback: swap", swap_back)
        old_files = _read_files(generation)
        if _dahdi_changed(changed) and dahdi_in_use(old_files) and target.dahdi_managed:
            if dahdi_untouched:
                run._record(Step("rollback: dahdi_cfg", True, "not needed: DAHDI did not read the new files"))
            else:
                run.step("rollback: dahdi_cfg", lambda: _run_dahdi_cfg(target))
        if not dahdi_only and target.connect is not None:
            _reload_and_verify(run, target, changed, old_files, None)
    except ApplyFailed:
        pass  # already reported as a failed step; the link points at the previous generation


def _unlink_live(target: Target) -> None:
    """A first apply that failed: no earlier generation to go back to, so nothing stays live."""
    with suppress(FileNotFoundError):
        target.live_link.unlink()


def rollback(target: Target, generation_id: str | None = None,
             progress: Callable[[Step], None] | None = None) -> ApplyResult:
    """Put a kept generation (default: the one before live) back live and reload what differs."""
    run = _Run(progress)
    result = ApplyResult(ok=False, steps=run.steps)
    live = target.live_generation()
    kept = [g["id"] for g in list_generations(target) if not (target.generations_dir / g["id"] / "FAILED").exists()]
    if generation_id is None:
        older = [g for g in kept if live is None or g < live.name]
        if not older:
            result.error = "no earlier generation to roll back to"
            return result
        generation_id = older[0]
    folder = target.generations_dir / generation_id
    if not folder.is_dir():
        result.error = f"generation {generation_id} does not exist (kept: {', '.join(kept)})"
        return result
    live_files, files = _read_files(live), _read_files(folder)
    result.changed = [n for n in files if live_files.get(n) != files[n]]
    result.diff = diff_files(live_files, files)
    result.generation = generation_id
    try:
        run.step("swap", lambda: _point_live_at(target, folder) or f"live -> {generation_id}")
        if _dahdi_changed(result.changed) and dahdi_in_use(files) and target.dahdi_managed:
            run.step("dahdi_cfg", lambda: _run_dahdi_cfg(target))
        if target.connect is not None:
            _reload_and_verify(run, target, result.changed, files, None)
        result.ok = True
    except ApplyFailed as error:
        result.error = f"{error.step}: {error}"
    return result


def _prune(target: Target) -> None:
    live = target.live_generation()
    folders = sorted(target.generations_dir.glob("[0-9]*"), reverse=True)
    for folder in folders[target.keep:]:
        if live is None or folder.resolve() != live:
            shutil.rmtree(folder, ignore_errors=True)
