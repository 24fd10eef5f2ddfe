"""The Debian packages a development machine needs are listed once (debian-packages.txt), and CI uses the list."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIST = ROOT / "debian-packages.txt"


def _packages() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    current = None
    for line in LIST.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line.strip("[]")
            groups[current] = []
        elif line and not line.startswith("#"):
            assert current, f"package {line} before any [group]"
            groups[current].append(line.split()[0])
    return groups


def test_the_list_has_the_run_and_test_groups_with_no_package_twice():
    groups = _packages()
    assert set(groups) == {"run", "test"}
    every = groups["run"] + groups["test"]
    assert len(every) == len(set(every))
    assert {"mmdebstrap", "python3-venv", "chromium", "tmux", "qemu-system-x86"} <= set(every)


def test_ci_holds_no_package_list_of_its_own_and_runs_the_readme_command():
    ci = (ROOT / ".ci" / "run").read_text()
    named = [p for p in _packages()["run"] + _packages()["test"] if p != "make" and f" {p}" in ci]
    assert named == [], f".ci/run names packages of debian-packages.txt: {named}"
    assert "make test" in ci
    assert "make test" in (ROOT / "README.md").read_text()


def test_make_test_and_make_run_install_their_groups_first():
    plan = subprocess.run(["make", "-n", "-C", str(ROOT), "test", "run"], capture_output=True, text=True).stdout
    assert "ensure-debian-packages run test" in plan and "ensure-debian-packages run\n" in plan, plan

