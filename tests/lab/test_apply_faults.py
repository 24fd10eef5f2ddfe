"""Apply under faults, against the lab's real Asterisk: Asterisk down, Asterisk dying mid-apply, an apply
killed right after its swap, and a line Asterisk's parser skips."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from appliance.provisioning import apply, generations, verify
from appliance.site import schemas, service
from lab import instance as lab
from tests.lab.helpers import add

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]


def linebox(home: Path, *args: str) -> subprocess.CompletedProcess:
    """This tree's ``linebox`` command, as a process of its own."""
    env = {**os.environ, "LINEBOX_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=180)


def kill_asterisk(pbx) -> None:
    pbx.instance.process.kill()
    pbx.instance.process.wait(timeout=30)


# An extension whose change touches two files, as these tests need: free endpoint options keep it in
# pjsip.conf, and its number (2XX) opens a range in extensions.conf (others are rows: provisioning.projection).
IN_FILES = {"options": {"language": "fr"}}


def endpoints(pbx) -> str:
    return pbx.cli("pjsip show endpoints")


def test_apply_while_asterisk_is_down_changes_nothing_and_says_why(pbx):
    add("extension", number="100", name="Alice")
    pbx.apply()
    target = pbx.install.target()
    before = target.live_generation()
    kill_asterisk(pbx)

    add("extension", number="201", name="Bob", **IN_FILES)
    result = linebox(pbx.install.home, "apply")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "apply failed at asterisk: Asterisk is not running or not answering (cannot reach AMI" in result.stderr
    assert f"nothing was applied; generation {before.name} stays live" in result.stderr
    assert target.live_generation() == target.loaded_generation() == before
    assert max(g["id"] for g in generations.list_generations(target)) == before.name  # none staged

    lab.start(pbx.instance)  # as systemd would: it starts on the live generation
    assert "Endpoint:  201" not in endpoints(pbx)
    again = linebox(pbx.install.home, "apply")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Endpoint:  201" in endpoints(pbx)


def test_asterisk_dying_mid_apply_rolls_back_without_a_traceback(pbx):
    add("extension", number="100", name="Alice")
    pbx.apply()
    target = pbx.install.target()
    before = target.live_generation()
    add("extension", number="201", name="Bob", **IN_FILES)

    def die_after_swap(step: apply.Step) -> None:
        if step.name == "swap":
            kill_asterisk(pbx)
    result = apply.apply(service.snapshot(), pbx.install.facts(), target, user="test", progress=die_after_swap)
    assert not result.ok and result.rolled_back
    assert result.error.startswith("connect: cannot reach AMI"), result.error
    assert target.live_generation() == target.loaded_generation() == before
    notes = [s.detail for s in result.steps if s.name == "rollback: note"]
    assert notes == [f"Asterisk is not answering: generation {before.name} is live, and Asterisk loads it when "
                     "it starts"]
    assert (target.generations_dir / result.generation / "FAILED").exists()

    lab.start(pbx.instance)
    assert "Endpoint:  100" in endpoints(pbx) and "Endpoint:  201" not in endpoints(pbx)
    pbx.apply()
    assert "Endpoint:  201" in endpoints(pbx)


KILLED_AFTER_SWAP = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from appliance.install import Install
    from appliance.provisioning import apply
    from appliance.site import service
    install = Install.load(Path(sys.argv[1]))
    install.open()
    def progress(step):
        print(step, flush=True)
        if step.name == "swap":
            os.kill(os.getpid(), signal.SIGKILL)
    apply.apply(service.snapshot, install.facts(), install.target(), user="killed", progress=progress)
""")


def test_an_apply_killed_after_its_swap_is_seen_and_repaired_by_the_next_apply(pbx):
    add("extension", number="100", name="Alice")
    pbx.apply()
    target = pbx.install.target()
    before = target.live_generation()
    add("extension", number="201", name="Bob", **IN_FILES)
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_SWAP, str(pbx.install.home)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    never_loaded = target.live_generation()
    assert never_loaded != before and "Endpoint:  201" not in endpoints(pbx)

    status = linebox(pbx.install.home, "status")
    assert f"Config:   {never_loaded.name} live but Asterisk runs {before.name}" in status.stdout, status.stdout
    diag = linebox(pbx.install.home, "diag")
    assert diag.returncode == 2 and f"{never_loaded.name} live but Asterisk runs {before.name}" in diag.stdout

    repaired = linebox(pbx.install.home, "apply")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "nothing to apply" not in repaired.stdout
    assert "[ok  ] repair" in repaired.stdout and f"live -> {before.name}" in repaired.stdout
    assert "Endpoint:  201" in endpoints(pbx)
    live = target.live_generation()
    assert live == target.loaded_generation() and live not in (before, never_loaded)
    assert "interrupted" in (never_loaded / "FAILED").read_text()
    status = linebox(pbx.install.home, "status")
    assert f"Config:   generation {live.name} live and loaded" in status.stdout, status.stdout
    assert "nothing to apply" in linebox(pbx.install.home, "apply").stdout


def test_a_line_asterisk_skips_fails_verify_and_is_rolled_back(pbx, monkeypatch):
    """Should a line still be too long for Asterisk (a limit Linebox did not know), the WARNING
    Asterisk logs while skipping it fails the apply, naming the file and line: not a success and a
    ring group that only hangs up."""
    add("extension", number="100", name="Alice")
    pbx.apply()
    target = pbx.install.target()
    before = target.live_generation()
    monkeypatch.setattr(schemas, "CONFIG_LINE_MAX", 10**6)
    monkeypatch.setattr(verify, "CONFIG_LINE_MAX", 10**6)
    members = [f"{10000000 + i}" for i in range(600)]  # 600 x 'PJSIP/1000xxxx&': a 9,000-character Dial()
    for number in members:
        add("extension", number=number, name=f"Agent {number}")
    add("ring_group", number="600", name="Everyone", members=members)
    result = pbx.apply(expect_ok=False)
    assert not result.ok and result.rolled_back
    assert result.error.startswith("verify: Asterisk rejected the configuration: Line "), result.error
    assert "too long, skipping" in result.error and "([ext-ringgroups] exten 600)" in result.error
    assert target.live_generation() == target.loaded_generation() == before


KILLED_AT_STEP = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from appliance.install import Install
    from appliance.provisioning import apply
    from appliance.site import service
    install = Install.load(Path(sys.argv[1]))
    install.open()
    def progress(step):
        print(step, flush=True)
        if step.name.startswith(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)
    apply.apply(service.snapshot, install.facts(), install.target(), user="killed", progress=progress)
""")


def kill_apply_at(pbx, step: str) -> str:
    """Run an apply that SIGKILLs itself once the first step named ``step...`` is done; its output."""
    killed = subprocess.run([sys.executable, "-c", KILLED_AT_STEP, str(pbx.install.home), step], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert f"] {step}" in killed.stdout, killed.stdout  # it did get that far
    return killed.stdout


def assert_whole_generation(target, generation: Path) -> None:
    """``live`` is one whole generation: a finished folder (never a staging one) with every file."""
    assert generation.parent == target.generations_dir and generation.name.isdigit(), generation
    assert (generation / "meta.json").exists()
    files = generations.read_files(generation)
    assert {"pjsip.conf", "extensions.conf"} <= set(files) and all(files.values())


def dialplan_has(pbx, number: str) -> bool:
    """The number's range pattern (``_2XX``: extensions are not listed one by one) is in the dialplan."""
    return f"'_{number[0]}{'X' * (len(number) - 1)}' =>" in pbx.cli(f"dialplan show {number}@ext-local")


@pytest.mark.parametrize("step", ["render", "stage"])
def test_an_apply_killed_before_its_swap_leaves_the_running_generation_live(pbx, step):
    """Killed after rendering, or after writing the new generation's folder: nothing reached ``live``,
    Asterisk and ``linebox status`` agree on the old generation, and the next apply makes it live."""
    add("extension", number="100", name="Alice")
    pbx.apply()
    target = pbx.install.target()
    before = target.live_generation()
    add("extension", number="201", name="Bob", **IN_FILES)
    kill_apply_at(pbx, step)

    assert target.live_generation() == target.loaded_generation() == before
    assert_whole_generation(target, before)
    assert "Endpoint:  201" not in endpoints(pbx)
    status = linebox(pbx.install.home, "status")
    assert f"Config:   generation {before.name} live and loaded" in status.stdout, status.stdout

    again = linebox(pbx.install.home, "apply")
    assert again.returncode == 0, again.stdout + again.stderr
    live = target.live_generation()
    assert live not in (None, before) and live == target.loaded_generation()
    assert_whole_generation(target, live)
    assert not list(target.generations_dir.glob(".staging-*"))
    assert "Endpoint:  201" in endpoints(pbx) and dialplan_has(pbx, "201")
    status = linebox(pbx.install.home, "status")
    assert f"Config:   generation {live.name} live and loaded" in status.stdout, status.stdout


def test_an_apply_killed_mid_reload_is_seen_and_the_next_apply_reloads_everything(pbx):
    """Killed between two module reloads: Asterisk holds part of the new generation.  ``live`` is the
    new generation whole, status and diag say the apply was cut short, and the next apply reloads every
    file that differs from the last generation Asterisk took whole, so Asterisk ends on one generation."""
    add("extension", number="100", name="Alice")
    pbx.apply()
    target = pbx.install.target()
    before = target.live_generation()
    add("extension", number="201", name="Bob", **IN_FILES)  # pjsip.conf and extensions.conf: two reloads
    output = kill_apply_at(pbx, "reload: ")
    assert output.count("] reload: ") == 1, output  # killed after the first of them

    cut = target.live_generation()
    assert cut != before and target.loaded_generation() == before
    assert_whole_generation(target, cut)
    status = linebox(pbx.install.home, "status")
    assert f"Config:   {cut.name} live but Asterisk runs {before.name}" in status.stdout, status.stdout
    assert "an apply was cut short" in status.stdout
    diag = linebox(pbx.install.home, "diag")
    assert diag.returncode == 2 and "an apply was cut short: run linebox apply" in diag.stdout, diag.stdout

    repaired = linebox(pbx.install.home, "apply")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "[ok  ] repair" in repaired.stdout
    live = target.live_generation()
    assert live == target.loaded_generation() and live not in (before, cut)
    assert_whole_generation(target, live)
    assert "Endpoint:  201" in endpoints(pbx) and dialplan_has(pbx, "201")
    status = linebox(pbx.install.home, "status")
    assert f"Config:   generation {live.name} live and loaded" in status.stdout, status.stdout
