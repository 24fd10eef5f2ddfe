"""Put running processes under a CPU quota for a while (the capacity benchmark's fixed share of a core).

A figure such as "calls one box carries" only means something when the CPU the PBX may use is fixed:
on a shared 2-core machine the other engineers' load would otherwise decide it.  The processes (the
lab's Asterisk) are already running, so ``systemd-run --scope`` (which starts a new command) does not
fit; the kernel's cgroup file system does, with or without systemd as PID 1:

* cgroup v2 (``/sys/fs/cgroup/cgroup.controllers``): a child group of the root with ``cpu.max``;
* cgroup v1 (``/sys/fs/cgroup/cpu/``): a group in the cpu hierarchy with ``cpu.cfs_quota_us``.

The group is removed afterwards (the processes moved back to the root group first), even on failure.
Root only, as the lab is.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


@dataclass
class Quota:
    """A group holding processes under ``share`` of one CPU; ``usage_s`` and ``throttled`` read its counters."""
    path: Path
    version: int
    share: float

    def usage_s(self) -> float:
        """CPU seconds the group's processes used since it was made."""
        if self.version == 2:
            stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
        for accounting in (self.path / "cpuacct.usage", CGROUP / "cpuacct" / self.path.name / "cpuacct.usage"):
            if not accounting.exists():
                continue
            return int(accounting.read_text()) / 1e9
        return float("nan")

    def throttled(self) -> int:
        """Periods in which the group hit its quota (the kernel held it back until the next period)."""
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        return int(stat.get("nr_throttled", 0))


def _version() -> int:
    if (CGROUP / "cgroup.controllers").exists():
        return 2
    if (CGROUP / "cpu" / "cpu.cfs_quota_us").exists():
        return 1
    raise RuntimeError("no cgroup cpu controller found under /sys/fs/cgroup (neither v2 nor v1)")


def _move(pids: list[int], procs: Path) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # ended meanwhile: nothing to move
            procs.write_text(f"{pid}\n")


@contextmanager
def cpu_quota(pids: list[int], share: float, name: str = "") -> Iterator[Quota]:
    """Hold ``pids`` (and what they start meanwhile) to ``share`` of one CPU (0.5: half a core) inside."""
    if not 0 < share <= 64:
        raise ValueError(f"share {share}: give a fraction of one CPU above 0")
    version = _version()
    group = f"linebox-{name or 'quota'}-{os.getpid()}"
    quota_us = max(1000, int(share * PERIOD_US))
    if version == 2:
        controllers = (CGROUP / "cgroup.subtree_control").read_text().split()
        if "cpu" not in controllers:
            (CGROUP / "cgroup.subtree_control").write_text("+cpu\n")
        path = CGROUP / group
        path.mkdir()
        accounting = None
        root_procs = CGROUP / "cgroup.procs"
    else:
        path = CGROUP / "cpu" / group
        path.mkdir()
        accounting = CGROUP / "cpuacct" / group if (CGROUP / "cpuacct").is_dir() and not (
            CGROUP / "cpuacct").samefile(CGROUP / "cpu") else None
        if accounting is not None:
            accounting.mkdir()
        root_procs = CGROUP / "cpu" / "cgroup.procs"
    try:
        if version == 2:
            (path / "cpu.max").write_text(f"{quota_us} {PERIOD_US}\n")
        else:
            (path / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
            (path / "cpu.cfs_quota_us").write_text(f"{quota_us}\n")
        _move(pids, path / "cgroup.procs")
        if accounting is not None:
            _move(pids, accounting / "cgroup.procs")
        yield Quota(path, version, share)
    finally:
        for group_path, back in ((path, root_procs),
                                 *(((accounting, CGROUP / "cpuacct" / "cgroup.procs"),) if accounting else ())):
            if group_path.exists():
                left = [int(p) for p in (group_path / "cgroup.procs").read_text().split()]
                _move(left, back)
                group_path.rmdir()


def session_pids(session: int) -> list[int]:
    """Every process of the session ``session`` (a lab Asterisk runs in the session of the unshare it started)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(after[3]) == session:
            found.append(int(stat.parent.name))
    return found
