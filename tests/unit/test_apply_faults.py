"""Apply under faults, without Asterisk: durable generations, one lock for every apply, an interrupted
apply repaired at boot, and lines Asterisk would skip refused before anything is written.

The same faults with a real Asterisk (down, dying, an apply killed after its swap, a skipped line)
are in ``tests/lab/test_apply_faults.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from appliance.errors import SiteError
from appliance.model.database import close_database
from appliance.provisioning import apply, generations, projection
from appliance.services import boot
from appliance.site import schemas, service

U = "test"
ROOT = Path(__file__).resolve().parents[2]
LINEBOX = [sys.executable, "-m", "appliance.cli"]  # this tree's code, whatever the installed command runs


def run(install, target=None, **kw) -> apply.ApplyResult:
    return apply.apply(service.snapshot, install.facts(), target or install.target(), user=U, **kw)


def test_generation_files_and_folders_reach_the_disk_before_the_swap(install, monkeypatch):
    """A power cut after the swap must find whole files: every file, its folders and the link's folder
    are fsynced, the generation's before the link points at it."""
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)
    monkeypatch.setattr(os, "fsync", recording_fsync)
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    result = run(install)
    assert result.ok, result.error
    target = install.target()
    generation = target.generations_dir / result.generation
    staged = [p for p in synced if "/.staging-" in p]
    # the files and the folder were synced while staged (before the rename), then the folders holding
    # the new generation and the replaced links
    for name in ("pjsip.conf", "extensions.conf", "meta.json"):
        assert any(p.endswith(f"/{name}") for p in staged), name
    assert any(Path(p).name.startswith(".staging-") for p in staged)
    assert str(target.generations_dir) in synced
    assert synced.count(str(target.config_root)) >= 2  # after the live link, after the loaded link
    assert synced.index(str(target.generations_dir)) < synced.index(str(target.config_root))
    assert "exten => _1XX," in (generation / "extensions.conf").read_text()  # the dialplan's range of 100


def _apply_script(home: Path, number: str) -> str:
    return textwrap.dedent(f"""
        import fcntl
        from pathlib import Path
        from appliance.install import Install
        from appliance.provisioning import apply
        from appliance.site import service
        install = Install.load(Path({str(home)!r}))
        install.open()
        with open({str(home / "test-writes.lock")!r}, "w") as writes:  # the saves one by one (SQLite)
            fcntl.flock(writes, fcntl.LOCK_EX)
            service.save_object("extension", {{"number": {number!r}, "name": "E{number}"}}, "p{number}", create=True)
        result = apply.apply(service.snapshot, install.facts(), install.target(), user="p{number}")
        print("OK" if result.ok else "FAILED " + result.error)
    """)


def test_concurrent_applies_from_several_processes_each_get_a_whole_generation(install):
    """Six processes (console, API, CLI alike) each store a change and apply at the same moment: one
    at a time, none fails, no generation is written twice, no staging folder is left."""
    numbers = [f"2{i:02d}" for i in range(6)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _apply_script(install.home, n)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in numbers]
    outputs = [p.communicate(timeout=240) for p in procs]
    for (out, err), proc in zip(outputs, procs, strict=True):
        assert proc.returncode == 0 and out.strip() == "OK", out + err
    target = install.target()
    ids = sorted(g["id"] for g in generations.list_generations(target))
    assert ids == [f"{i:06d}" for i in range(1, len(ids) + 1)]
    assert not list(target.generations_dir.glob(".staging-*"))
    live = target.live_generation()
    assert live == target.loaded_generation() and live is not None and live.name == ids[-1]
    # the extensions' rows (appliance.provisioning.projection) hold them all
    with projection.connect(target.projection_file) as db:
        assert set(numbers) <= set(projection.read_rows(db)["ps_endpoints"])
    # every change reached a generation: the last one holds them all, and a new apply finds nothing
    assert run(install).changed == []


def test_cli_apply_waits_for_an_apply_running_elsewhere(install):
    """The CLI takes the same lock as the console and the API: while another holds it, it says who and
    waits, and applies only once it is free."""
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    target = install.target()
    env = {**os.environ, "LINEBOX_HOME": str(install.home), "PYTHONPATH": str(ROOT)}
    with generations.locked(target, "console-admin"):
        cli = subprocess.Popen([*LINEBOX, "apply"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        assert cli.stdout is not None
        first = cli.stdout.readline()
        assert "waiting for another apply or rollback to finish" in first and "by console-admin" in first, first
        time.sleep(0.5)  # it keeps waiting: nothing is written while the lock is held
        assert cli.poll() is None
        assert not list(target.generations_dir.glob("[0-9]*"))
    rest, _ = cli.communicate(timeout=120)
    assert cli.returncode == 0, rest
    assert "applied generation 000001" in rest


def test_an_apply_that_cannot_get_the_lock_says_who_holds_it_and_changes_nothing(install):
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    target = install.target()
    target.lock_wait = 0.3
    with generations.locked(target, "api-admin"):
        result = run(install, target)
    assert not result.ok and result.error.startswith("lock: another apply or rollback is running")
    assert "by api-admin" in result.error and "nothing was changed" in result.error
    assert target.live_generation() is None and not list(target.generations_dir.glob("[0-9]*"))


def test_boot_puts_live_back_on_the_generation_asterisk_took_after_an_interrupted_apply(install):
    """An apply killed between its swap and its verify: at the next boot Asterisk starts on the last
    generation it took, the other one is marked, and ``linebox diag`` would have said so."""
    from appliance.support.diagnostics import check_config

    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    first = run(install)
    target = install.target()
    # a new number range: the dialplan changes, so a new generation
    service.save_object("extension", {"number": "201", "name": "Desk 2"}, U, create=True)
    second = run(install)
    assert first.ok and second.ok
    # what an apply killed right after its swap leaves: live moved, loaded not
    generations.mark_loaded(target, target.generations_dir / first.generation)
    finding = check_config(install)
    assert finding.level == "fail" and f"{second.generation} live but Asterisk runs {first.generation}" in finding.text
    close_database()
    assert boot.ensure_live(install.home) == 0
    assert target.live_generation() == target.loaded_generation() == target.generations_dir / first.generation
    assert "interrupted" in (target.generations_dir / second.generation / "FAILED").read_text()
    install.open()
    after = check_config(install)  # the change that was cut short is still to apply
    assert after.level == "warn" and f"{first.generation} live" in after.text and "interrupted" in after.advice


def test_a_ring_all_group_too_long_for_one_dialplan_line_is_refused_naming_the_field(install):
    for i in range(700):
        service.save_object("extension", {"number": f"{10000 + i}", "name": f"Agent {i}"}, U, create=True)
    members = [f"{10000 + i}" for i in range(700)]
    with pytest.raises(SiteError) as raised:
        service.save_object("ring_group", {"number": "600", "name": "Everyone", "members": members}, U, create=True)
    text = str(raised.value)
    assert "members" in text and "8,190 characters per line" in text and "700 members" in text
    assert service.list_objects("ring_group") == []
    # the same members one after the other (hunt) are one line each: accepted
    service.save_object("ring_group", {"number": "600", "name": "Everyone", "members": members,
                                       "strategy": "hunt"}, U, create=True)


def test_a_rendered_line_asterisk_would_skip_fails_the_apply_before_anything_is_written(install, monkeypatch):
    """The net under the validation: whatever makes a line too long is refused at render, naming the
    file, the line and the dialplan extension, and nothing is staged."""
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    assert run(install).ok
    target = install.target()
    monkeypatch.setattr(schemas, "CONFIG_LINE_MAX", 10**6)  # a limit the validation did not know
    members = [f"{10000 + i}" for i in range(700)]
    for number in members:
        service.save_object("extension", {"number": number, "name": f"Agent {number}"}, U, create=True)
    service.save_object("ring_group", {"number": "600", "name": "Everyone", "members": members}, U, create=True)
    result = run(install)
    assert not result.ok and result.error.startswith("render: extensions.conf line ")
    assert "([ext-ringgroups] exten 600)" in result.error and "at most 8,190 characters" in result.error
    assert [g["id"] for g in generations.list_generations(target)] == ["000001"]


def test_a_new_generation_folder_is_readable_by_the_group_as_the_umask_allows(install):
    """Asterisk's group and DAHDI's root reload script read the live generation through its link: the
    folder must follow the process's umask (0027 on the appliance: 0750), not a private 0700."""
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    old = os.umask(0o027)
    try:
        result = run(install)
    finally:
        os.umask(old)
    assert result.ok, result.error
    generation = install.target().generations_dir / result.generation
    assert generation.stat().st_mode & 0o777 == 0o750
