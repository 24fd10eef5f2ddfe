"""Apply: render → check → diff → atomic swap → reload what changed → verify → (roll back).

This module is the orchestration, and the public face callers use (:func:`apply`, :func:`rollback`,
:class:`ApplyResult`, and the :class:`Target` and :class:`Step` they pass and receive); each step
has its own room:

* :mod:`.generations`: the kept generations and the ``live`` link Asterisk reads through; swapping
  is one ``rename()`` of that link, so Asterisk never sees half a configuration;
* :mod:`.dahdi`: DAHDI's files linked to the live generation and dahdi_cfg run when they changed
  (directly, or through the root service of :mod:`.dahdi_reload` on the appliance);
* :mod:`.reload`: only the modules whose files changed are reloaded, each by the command its
  record in :mod:`.files` names;
* :mod:`.verify` and :mod:`.locate`: the ERROR lines Asterisk logs and the objects it should hold,
  and the file, line and object at fault.

Each step is reported as it happens (:mod:`.steps`).  When Asterisk or DAHDI rejects something the
link goes back to the previous generation, the same modules are reloaded again, and the report says why.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.asterisk.ami import Ami, AmiError
from appliance.catalog import N_
from appliance.errors import Message, joined, problem_message
from appliance.provisioning import (
    dahdi,
    generations,
    live,
    manifest,
    projection,
    prompts,
    reload,
    render,
    sip_tls,
    sounds,
    verify,
)
from appliance.provisioning.generations import list_generations  # for ``linebox generations``
from appliance.provisioning.steps import ANSWERS, ApplyFailed, Run, Step
from appliance.provisioning.target import Target
from appliance.robot import calls as robot_calls
from appliance.site.checks import Site, check_site

__all__ = ["ApplyFailed", "ApplyResult", "Step", "Target", "apply", "diff_files", "list_generations", "redact",
           "rollback"]

SECRET_LINE = re.compile(r"^([+\- ]?\s*(password|password_digest|md5_cred|secret)\s*=\s*).+$", re.MULTILINE)
# voicemail.conf's mailbox lines, "200 => PIN,name,...": Asterisk's voicemail compares PINs in clear
MAILBOX_LINE = re.compile(r"^([+\- ]?\s*\d+\s*=>\s*)[^,\n]+", re.MULTILINE)


@dataclass
class ApplyResult:
    ok: bool
    steps: list[Step] = field(default_factory=list)
    diff: str = ""
    changed: list[str] = field(default_factory=list)
    generation: str | None = None
    error: str = ""
    rolled_back: bool = False


def redact(text: str) -> str:
    """Hide secrets from a config file, a diff or a report: passwords, digests and voicemail PINs."""
    return MAILBOX_LINE.sub(r"\1********", SECRET_LINE.sub(r"\1********", text))


def diff_files(old: dict[str, str], new: dict[str, str]) -> str:
    out: list[str] = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name, ""), new.get(name, "")
        if a != b:
            out.extend(difflib.unified_diff(
                redact(a).splitlines(keepends=True), redact(b).splitlines(keepends=True),
                fromfile=f"live/{name}", tofile=f"new/{name}",
            ))
    return "".join(out)


def apply(site: Site | Callable[[], Site], facts: render.InstallFacts, target: Target, user: str = "system",
          dry_run: bool = False, progress: Callable[[Step], None] | None = None,
          with_diff: bool = False) -> ApplyResult:
    """Apply the site to Asterisk; on any failure the previous generation stays (or is put back) live.

    The readable diff is computed for a dry run or when ``with_diff`` is set:
    on a large site it costs more than the rest of the apply before reload.  A real apply holds the
    install's one apply lock (:func:`.generations.locked`) from start to end; ``site`` may be the
    function that reads it (``service.snapshot``), so that an apply that waited for another one
    applies the site as it is then, not as it was before the other one.
    """
    run = Run(progress)
    result = ApplyResult(ok=False, steps=run.steps)
    target.generations_dir.mkdir(parents=True, exist_ok=True)
    if dry_run:
        _apply(run, result, site if isinstance(site, Site) else site(), facts, target, user, True, with_diff)
        return result
    try:
        with generations.locked(target, user, on_wait=lambda text: run.record(Step("lock", True, text))):
            _apply(run, result, site if isinstance(site, Site) else site(), facts, target, user, False, with_diff)
    except ApplyFailed as error:  # only the lock raises this far: each step's failure is handled inside
        run.record(Step(error.step, False, str(error)))
        result.error = error.summary()
    return result


def _with_sip_tls(site: Site, facts: render.InstallFacts, target: Target, dry_run: bool) -> render.InstallFacts:
    """The facts with the SIP certificate's and the trunks' CAs' digests (:mod:`.sip_tls`).  A real apply makes
    the certificate at the first apply (like the console's at its first start) and writes the CA file, both
    read by Asterisk from beside the generations; a dry run only reads what is there."""
    if dry_run:
        return dataclasses.replace(facts, sip_tls_fingerprint=sip_tls.current(target.config_root),
                                   sip_tls_cas=sip_tls.trunk_cas_digest(site.of("trunk")))
    try:
        fingerprint = sip_tls.ensure(target.config_root)
        cas = sip_tls.write_trunk_cas(target.config_root, site.of("trunk"))
    except (OSError, ValueError) as error:
        raise ApplyFailed("render", Message(N_("SIP certificate in %(folder)s: %(error)s"),
                                            folder=str(sip_tls.folder(target.config_root)), error=str(error))) \
            from None
    return dataclasses.replace(facts, sip_tls_fingerprint=fingerprint, sip_tls_cas=cas)


def _apply(run: Run, result: ApplyResult, site: Site, facts: render.InstallFacts, target: Target, user: str,
           dry_run: bool, with_diff: bool) -> None:
    # What Asterisk runs is the ``loaded`` generation: ``live`` differs from it only when an apply was
    # cut short after its swap, and then the files of both are reloaded (Asterisk may hold either).
    previous = target.live_generation()
    unsure: set[str] = set()
    cut = generations.interrupted(target)
    if cut is not None:
        never_loaded, loaded = cut
        old, new = generations.read_files(loaded), generations.read_files(never_loaded)
        unsure = {n for n in set(old) | set(new) if old.get(n) != new.get(n)}
        previous = loaded
    live_files = generations.read_files(previous)
    files: dict[str, str] = {}
    objects: manifest.Manifest = {}
    written: list[projection.Written] = []  # the extensions' rows this apply changed (:mod:`.projection`)
    try:
        if cut is not None and not dry_run:
            run.step("repair", lambda: generations.undo_interrupted(target, never_loaded, loaded))

        def check() -> str:
            problems = check_site(site)
            if problems:
                raise ApplyFailed("check", joined([problem_message(p) for p in problems], N_("%(before)s; %(after)s")))
            return Message(N_("%(count)s objects consistent"), count=sum(len(v) for v in site.objects.values()))
        run.step("check", check)

        sounds_dir = target.sounds_dir
        if sounds_dir is not None and not dry_run and sounds.needed(site.of("ivr"), site.of("robot")):
            def speak() -> str:
                # before the dialplan names them: a greeting's text is rendered once per text and voice
                try:
                    notes = sounds.prepare_for_site(site.of("ivr"), sounds_dir)
                    notes += sounds.prepare_robots(site.of("robot"), sounds_dir, prompts.VOICES,
                                                   robot_calls.NOT_UNDERSTOOD)
                except sounds.SoundError as error:
                    raise ApplyFailed("sounds", error.args[0]) from None
                return joined(notes, N_("%(before)s; %(after)s")) or Message(N_("greetings ready"))
            run.step("sounds", speak)

        place = target.prompts
        if place is not None and not dry_run:
            languages = tuple(sorted(set(prompts.languages_used(site.settings, site.of("ivr"), site.of("queue")))
                                     | set(prompts.recorded_languages(place))))
            if languages and not prompts.up_to_date(place, languages):
                def install_prompts() -> str:
                    # Mandarin prompts are spoken once per machine (cached by text), copied here when missing
                    try:
                        notes = prompts.install(place, languages)
                    except (prompts.PromptError, OSError) as error:
                        raise ApplyFailed("prompts", error.args[0] if isinstance(error, prompts.PromptError)
                                          else str(error)) from None
                    return joined(notes, N_("%(before)s; %(after)s")) or Message(N_("prompts ready (%(languages)s)"),
                                                       languages=", ".join(languages))
                run.step("prompts", install_prompts)

        def do_render() -> str:
            files.update(render.render_all(site, _with_sip_tls(site, facts, target, dry_run)))
            files.update(render.render_dahdi_files(site, dahdi.load_inventory(target)))
            verify.check_line_lengths(files)
            objects.update(manifest.expected(site))
            return Message(N_("%(count)s files, %(size)s KiB"), count=len(files),
                           size=sum(len(t) for t in files.values()) // 1024)
        run.step("render", do_render)

        def do_diff() -> str:
            result.changed = [n for n in files if live_files.get(n) != files[n] or n in unsure]
            if dry_run or with_diff:
                # the extensions' rows read as the sections they replace (:mod:`.projection`); a dry run lists
                # their file among the changed ones (a real apply writes them in its own step)
                old_rows = projection.as_text(projection.stored_rows(target.projection_file))
                new_rows = projection.as_text(projection.site_rows(site))
                result.diff = diff_files({**live_files, projection.FILE_NAME: old_rows},
                                         {**files, projection.FILE_NAME: new_rows})
                if dry_run and old_rows != new_rows:
                    result.changed.append(projection.FILE_NAME)
            return ", ".join(result.changed) if result.changed else Message(N_("no change"))
        run.step("diff", do_diff)
        if not dry_run:
            run.step("objects", lambda: _sync_objects(target, site, written))
        if dry_run or not result.changed:
            if written and written[0].count:
                _expire_or_note(run, target, written[0])
            result.ok = True
            return

        connect = target.connect
        if connect is not None:
            run.step("asterisk", lambda: _answers(connect, previous))

        new_dir = target.generations_dir / generations.next_id(target)
        run.step("stage", lambda: generations.stage(target, new_dir, files, user, result.changed,
                                                    {manifest.OBJECTS_FILE: manifest.dumps(objects)},
                                                    previous, live_files))
        result.generation = new_dir.name

        def swap() -> str:
            generations.point_live_at(target, new_dir)
            return _live(new_dir.name)
        run.step("swap", swap)
    except ApplyFailed as error:
        result.error = error.summary()
        _restore_objects(run, target, written)
        return

    try:
        dahdi.configure(run, target, files, result.changed, live_files)
    except ApplyFailed as error:
        result.error = error.summary()
        if previous is not None:
            _restore(run, target, previous, result.changed, dahdi_only=target.connect is None,
                     dahdi_untouched=error.dahdi_untouched)
            result.rolled_back = True
        else:
            generations.unlink_live(target)
            result.rolled_back = True
        _restore_objects(run, target, written)
        generations.mark_failed(new_dir, result.error)
        return

    if target.connect is None:
        result.ok = True
        unmanaged = Message(N_("Asterisk not managed here: it reads the new files when it starts"))
        run.record(Step("reload", True, unmanaged))
        generations.mark_loaded(target, new_dir)
        generations.prune(target)
        return
    try:
        notes = reload.reload_and_verify(run, target, result.changed, files, live_files, objects,
                                         manifest.read(previous))
        generations.mark_loaded(target, new_dir)  # only now: Asterisk took it
        if written and written[0].count:
            _expire_or_note(run, target, written[0])
        for note in notes:
            run.record(Step("note", True, note))
        result.ok = True
        generations.prune(target)
    except ApplyFailed as error:
        result.error = error.summary()
        if previous is not None:
            _restore(run, target, previous, result.changed)
            result.rolled_back = True
        _restore_objects(run, target, written)
        generations.mark_failed(new_dir, result.error)


def _sync_objects(target: Target, site: Site, written: list[projection.Written]) -> str:
    """The extensions' rows made equal to the site (before the reload: verify looks their endpoints up)."""
    previous = projection.revision(target.projection_file)
    done = projection.sync(target.projection_file, site, projection.database_revision())
    done.previous_revision = previous
    written.append(done)
    return (f"{done.count} extension rows changed" if done.count else "extension rows up to date") + \
        f", revision {projection.revision(target.projection_file)}"


def _expire_or_note(run: Run, target: Target, done: projection.Written, check: bool = True) -> None:
    """Sorcery's cache forgets the objects whose rows changed (a reload of pjsip.conf empties it too), and
    (``check``) a spread of them is looked up: an extension Asterisk refused fails the apply."""
    connect = target.connect
    if connect is None:
        return

    def forget() -> str:
        try:
            with connect() as ami:
                offset = verify.log_offset(target)
                live.expire(ami, done.sorcery_objects())
                if check:
                    live.verify_written(ami, target, offset, done)
        except AmiError:
            return Message(N_("Asterisk is not answering: it reads the rows when it starts"))
        except ApplyFailed as error:
            if error.step == "verify":
                raise
            return str(error)  # an Asterisk started before the rows existed: the files are applied
        count = len(done.sorcery_objects())
        return (Message(N_("%(count)s extension objects re-read, verified"), count=count) if check
                else Message(N_("%(count)s extension objects re-read"), count=count))
    run.step("expire", forget)


def _restore_objects(run: Run, target: Target, written: list[projection.Written]) -> None:
    """A failed apply puts the extensions' rows back as they were, as it puts the files back."""
    if not written or not written[0].count:
        return
    done = written[0]

    def put_back() -> str:
        projection.restore(target.projection_file, done, done.previous_revision)
        _expire_or_note(run, target, done, check=False)
        return Message(N_("%(count)s extension rows put back"), count=done.count)
    run.step("rollback: objects", put_back)


def _answers(connect: Callable[[], Ami], previous: Path | None) -> str:
    """Asterisk answers over AMI: checked before anything is written, so an apply while it is down
    changes nothing (what is live is what it loads when it starts)."""
    try:
        with connect():
            return ANSWERS
    except AmiError as error:
        stays = (Message(N_("generation %(generation)s stays live, and Asterisk loads it when it starts"),
                         generation=previous.name) if previous else Message(N_("no generation is live")))
        raise ApplyFailed("asterisk", Message(N_("Asterisk is not running or not answering (%(error)s): nothing "
                                                 "was applied; %(stays)s. Start Asterisk, then apply again"),
                                              error=str(error), stays=stays)) from None


def _live(generation: str) -> Message:
    return Message(N_("live -> %(generation)s"), generation=generation)


def _restore(run: Run, target: Target, generation: Path, changed: list[str], dahdi_only: bool = False,
             dahdi_untouched: bool = False) -> None:
    """Put ``generation`` back live; dahdi_cfg runs on its files again (the same way as forward, so
    through the root service on the appliance) unless DAHDI never read the new ones."""
    def swap_back() -> str:
        generations.point_live_at(target, generation)
        return _live(generation.name)
    try:
        run.step("rollback: swap", swap_back)
        old_files = generations.read_files(generation)
        if dahdi.dahdi_changed(changed) and dahdi.dahdi_in_use(old_files) and target.dahdi_managed:
            if dahdi_untouched:
                run.record(Step("rollback: dahdi_cfg", True, "not needed: DAHDI did not read the new files"))
            else:
                run.step("rollback: dahdi_cfg", lambda: dahdi.run_dahdi_cfg(target))
        if not dahdi_only and target.connect is not None:
            reload.reload_and_verify(run, target, changed, old_files, None)
        generations.mark_loaded(target, generation)
    except ApplyFailed as error:
        # already reported as a failed step; the link points at the previous generation
        if error.step == "connect":
            run.record(Step("rollback: note", True, f"Asterisk is not answering: generation {generation.name} is "
                                                    "live, and Asterisk loads it when it starts"))


def rollback(target: Target, generation_id: str | None = None,
             progress: Callable[[Step], None] | None = None, user: str = "system") -> ApplyResult:
    """Put a kept generation (default: the one before live) back live and reload what differs.

    Holds the same lock as :func:`apply`; when Asterisk does not take it, the generation it ran
    before is put back, as for an apply."""
    run = Run(progress)
    result = ApplyResult(ok=False, steps=run.steps)
    try:
        with generations.locked(target, user, on_wait=lambda text: run.record(Step("lock", True, text))):
            _rollback(run, result, target, generation_id)
    except ApplyFailed as error:  # only the lock raises this far: each step's failure is handled inside
        run.record(Step(error.step, False, str(error)))
        result.error = error.summary()
    return result


def _rollback(run: Run, result: ApplyResult, target: Target, generation_id: str | None) -> None:
    live = target.live_generation()
    running = target.loaded_generation() or live  # what Asterisk runs
    kept = [g["id"] for g in list_generations(target)
            if not (target.generations_dir / g["id"] / "FAILED").exists()]
    if generation_id is None:
        older = [g for g in kept if live is None or g < live.name]
        if not older:
            result.error = Message(N_("no earlier generation to roll back to"))
            return
        generation_id = older[0]
    folder = target.generations_dir / generation_id
    if not folder.is_dir():
        result.error = Message(N_("generation %(generation)s does not exist (kept: %(kept)s)"),
                               generation=generation_id, kept=", ".join(kept))
        return
    live_files, files = generations.read_files(running), generations.read_files(folder)
    unsure = set()
    if live is not None and running is not None and live != running:  # an apply cut short: reload both
        never = generations.read_files(live)
        unsure = {n for n in set(never) | set(live_files) if never.get(n) != live_files.get(n)}
    result.changed = [n for n in files if live_files.get(n) != files[n] or n in unsure]
    result.diff = diff_files(live_files, files)
    result.generation = generation_id
    connect = target.connect
    try:
        if connect is not None and result.changed:
            run.step("asterisk", lambda: _answers(connect, live))

        def swap() -> str:
            generations.point_live_at(target, folder)
            return _live(generation_id)
        run.step("swap", swap)
    except ApplyFailed as error:
        result.error = error.summary()
        return
    try:
        if dahdi.dahdi_changed(result.changed) and dahdi.dahdi_in_use(files) and target.dahdi_managed:
            run.step("dahdi_cfg", lambda: dahdi.run_dahdi_cfg(target))
        if connect is not None:
            reload.reload_and_verify(run, target, result.changed, files, None)
        generations.mark_loaded(target, folder)
        result.ok = True
    except ApplyFailed as error:
        result.error = error.summary()
        if running is not None and running != folder:
            _restore(run, target, running, result.changed)
            result.rolled_back = True


def repair_interrupted(target: Target, user: str = "system") -> str:
    """Before Asterisk starts (boot): an apply cut short after its swap left ``live`` on a generation
    Asterisk never took; put it back on the ``loaded`` one.  Returns what was done ("" if nothing)."""
    if generations.interrupted(target) is None:
        return ""
    with generations.locked(target, user):
        cut = generations.interrupted(target)
        if cut is None:
            return ""
        return generations.undo_interrupted(target, *cut)


def mark_loaded(target: Target, generation: Path) -> None:
    """Asterisk starts on ``generation`` (boot, before it starts): what it runs from now on."""
    with generations.locked(target, "boot"):
        generations.mark_loaded(target, generation)
