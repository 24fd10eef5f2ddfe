"""DAHDI's part of an apply: its files linked to the live generation, dahdi_cfg run when they changed.

DAHDI's files live in the generations too; ``/etc/dahdi/*`` link to them through the ``live`` link
(made by Ansible on the appliance, by apply itself in the lab), so they swap and roll back with
Asterisk's.  dahdi_cfg runs either directly or, on the appliance where apply is not root, by request
to a root service (:mod:`.dahdi_reload`).  The last hardware scan tells the renderer which drivers to load.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from appliance.catalog import N_
from appliance.errors import Message
from appliance.provisioning import dahdi_reload, generations
from appliance.provisioning.files import CHAN_DAHDI, DAHDI_SUBDIRS
from appliance.provisioning.steps import ApplyFailed, Run, Step
from appliance.provisioning.target import Target
from hardware import detect


def dahdi_in_use(files: dict[str, str]) -> bool:
    """Whether a generation configures any DAHDI channel (chan_dahdi.conf has a ``channel =>`` line)."""
    return re.search(r"^channel =>", files.get(CHAN_DAHDI, ""), re.MULTILINE) is not None


def dahdi_changed(changed: list[str]) -> bool:
    """Whether any of DAHDI's files (chan_dahdi.conf, or one under a DAHDI sub-folder) changed."""
    return any(name == CHAN_DAHDI or name.split("/")[0] in DAHDI_SUBDIRS for name in changed)


LINKS_FIX = N_("the Ansible playbook with linebox_dahdi: true makes them, as root (roles/dahdi)")


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


def link_files(target: Target, files: dict[str, str]) -> str:
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
            generations.replace_link(path, wanted)
        except PermissionError as error:
            cannot = Message(N_("cannot link %(path)s to %(wanted)s (%(error)s): %(fix)s"), path=path, wanted=wanted,
                             error=error.strerror, fix=Message(LINKS_FIX))
            raise ApplyFailed("dahdi: link files", cannot, dahdi_untouched=True) from error
        linked.append(str(path))
    if wrong:
        raise ApplyFailed("dahdi: link files", Message(N_("DAHDI would not read Linebox's files: %(files)s, not a link "
                                                          "to %(live)s/...: %(fix)s"), files="; ".join(wrong),
                                                       live=target.live_link, fix=Message(LINKS_FIX)),
                          dahdi_untouched=True)
    return (Message(N_("linked %(files)s"), files=", ".join(linked)) if linked
            else Message(N_("already linked to the live generation")))


def _refused(status: int, said: list[str]) -> ApplyFailed:
    return ApplyFailed("dahdi_cfg", Message(N_("dahdi_cfg refused system.conf (exit %(status)s): %(said)s"),
                                            status=status, said=" / ".join(said)))


def run_dahdi_cfg(target: Target) -> str:
    """Run dahdi_cfg on the live generation's system.conf (or have the root service run it); its own
    words on failure."""
    if target.dahdi_service is not None:
        try:
            return dahdi_reload.describe(dahdi_reload.request(target.dahdi_service))
        except dahdi_reload.Refused as refused:
            raise _refused(refused.status, refused.said) from None
        except dahdi_reload.ReloadError as error:
            raise ApplyFailed("dahdi_cfg", str(error), dahdi_untouched=not error.taken) from None
    assert target.dahdi_cfg is not None, "apply runs dahdi_cfg only when dahdi_managed"
    system_conf = target.live_link / "dahdi" / "system.conf"
    command = [*target.dahdi_cfg, "-c", str(system_conf)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ApplyFailed("dahdi_cfg", Message(N_("%(field)s: %(message)s"), field=" ".join(command),
                                               message=str(error))) from error
    if done.returncode != 0:
        raise _refused(done.returncode, (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:])
    return f"{' '.join(command)}: ok"


def configure(run: Run, target: Target, files: dict[str, str], changed: list[str],
              old_files: dict[str, str]) -> None:
    """After a swap: link DAHDI's files and run dahdi_cfg when they changed and the site uses DAHDI.

    A site that never had a port or span says nothing about DAHDI; one whose last port or span was
    just removed is told what happens to the channels still configured."""
    if not dahdi_changed(changed):
        return
    if not dahdi_in_use(files):
        if dahdi_in_use(old_files):
            run.record(Step("dahdi", True, "no analog ports or spans any more: dahdi_cfg not run; DAHDI keeps its "
                                           "channels and chan_dahdi stays loaded until the next restart"))
        return
    if target.dahdi_root is not None or target.modprobe_dir is not None:
        run.step("dahdi: link files", lambda: link_files(target, files))
    if not target.dahdi_managed:
        run.record(Step("dahdi_cfg", True, Message(N_("DAHDI not managed here: dahdi_cfg not run"))))
        return
    run.step("dahdi_cfg", lambda: run_dahdi_cfg(target))


def load_inventory(target: Target) -> detect.Inventory | None:
    if target.inventory_file is None or not target.inventory_file.exists():
        return None
    try:
        return detect.load(target.inventory_file)
    except (OSError, ValueError):
        return None  # a damaged scan only costs the drivers list; a new scan rewrites it
