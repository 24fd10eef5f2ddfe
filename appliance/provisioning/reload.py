"""Reload what changed: each changed file's module by its own command, then verify Asterisk took it.

The command for each file is its record's in :mod:`.files` (none: the file is read only when Asterisk
starts, and the report says so).  chan_dahdi is loaded or restarted when DAHDI's files changed, and a
trunk whose credentials changed registers again at once.  Verification is :mod:`.verify`'s.
"""

from __future__ import annotations

import re
from contextlib import ExitStack

from appliance.asterisk.ami import Ami
from appliance.catalog import N_
from appliance.errors import Message
from appliance.provisioning import manifest, verify
from appliance.provisioning.dahdi import dahdi_changed, dahdi_in_use
from appliance.provisioning.files import BY_NAME, CHAN_DAHDI, DAHDI_SUBDIRS
from appliance.provisioning.steps import ANSWERS, ApplyFailed, Run
from appliance.provisioning.target import Target


def reload_and_verify(run: Run, target: Target, changed: list[str], files: dict[str, str],
                      old_files: dict[str, str] | None, objects: manifest.Manifest | None = None,
                      old_objects: manifest.Manifest | None = None) -> list[str]:
    """Reload the changed files' modules, then check Asterisk took them; return notes.

    ``objects`` (the render's list, :mod:`.manifest`) and ``old_objects`` (the previous generation's):
    the objects looked up after the reload; a rollback gives none and checks Asterisk's log only."""
    notes: list[str] = []
    commands = []
    for name in changed:
        if name == CHAN_DAHDI or name.split("/")[0] in DAHDI_SUBDIRS:
            continue  # chan_dahdi is reloaded below; DAHDI's own files were handled by dahdi_cfg
        entry = BY_NAME.get(name)
        command = entry.reload if entry else None
        if command is None:
            notes.append(Message(N_("%(file)s changed: takes effect when Asterisk restarts"), file=name))
        elif command not in commands:
            commands.append(command)
    reload_dahdi = dahdi_changed(changed) and dahdi_in_use(files)
    if not commands and not reload_dahdi:
        return notes
    connect = target.connect
    assert connect is not None, "callers reload only where Asterisk is managed"
    with ExitStack() as session:
        opened: list[Ami] = []

        def open_session() -> str:
            opened.append(session.enter_context(connect()))
            return ANSWERS
        # a step: an Asterisk that died (or never ran) fails the apply, which rolls back, and fails a
        # rollback's own reload the same way, never with a traceback
        run.step("connect", open_session)
        ami = opened[0]
        offset = verify.log_offset(target)
        if reload_dahdi:
            loaded = "chan_dahdi.so" in ami.command("module show like chan_dahdi")
            commands.append("dahdi restart" if loaded else "module load chan_dahdi.so")

        def load_module(module: str) -> str:
            """AMI refuses "module load" as a command (it has its own action, class system)."""
            if target.connect_module_loader is None:
                response = ami.action("ModuleLoad", Module=module, LoadType="load")
            else:
                with target.connect_module_loader() as loader:
                    response = loader.action("ModuleLoad", Module=module, LoadType="load")
            message = response.get_header("Message") or ""
            if response.get_header("Response") != "Success":
                raise ApplyFailed(f"module load {module}", Message(N_("Asterisk answered: %(answer)s"), answer=message))
            return f"Module '{module}' loaded: {message}"
        for command in commands:
            def reload(command=command) -> str:
                if command.startswith("module load "):
                    return load_module(command.removeprefix("module load "))
                output = ami.command(command).strip()
                module = command.removeprefix("module reload ")
                if module != command and output.lower().startswith("no such module"):
                    # a module a Linebox upgrade took off modules.conf's noload list, its file new:
                    # loaded now rather than at Asterisk's next start
                    output = load_module(module)
                if any(word in output.lower() for word in ("no such", "failed", "error", "not found")):
                    raise ApplyFailed(command, Message(N_("Asterisk answered: %(answer)s"), answer=output))
                return output.splitlines()[0] if output else ""
            run.step(f"reload: {command}", reload)

        if old_files is not None and "pjsip.conf" in changed:
            if objects is not None and old_objects is not None:
                registrations = changed_objects(objects, old_objects, "registration")
            else:  # the previous generation has no list of objects (written before lists were kept)
                registrations = changed_registrations(files.get("pjsip.conf", ""), old_files.get("pjsip.conf", ""))
            for name in registrations:
                def register(name: str = name) -> str:
                    return ami.command(f"pjsip send register {name}")
                run.step(f"re-register: {name}", register)

        run.step("verify", lambda: verify.after_reload(ami, target, offset, files, changed, objects, old_objects))
    return notes


def changed_objects(objects: manifest.Manifest, old_objects: manifest.Manifest, kind: str) -> list[str]:
    """Objects of ``kind`` in both lists whose site object changed (from the render's lists, no parsing)."""
    before = old_objects.get(kind, {})
    return [name for name, fingerprint in objects.get(kind, {}).items() if before.get(name) not in (None, fingerprint)]


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
