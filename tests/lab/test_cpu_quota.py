"""The capacity benchmark's CPU quota on running processes (lab.cpu_quota), on this machine's cgroups."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from lab.cpu_quota import cpu_quota, session_pids

pytestmark = pytest.mark.lab


def test_a_busy_process_is_held_to_its_share_and_the_group_is_gone_afterwards():
    busy = subprocess.Popen(["sh", "-c", "while :; do :; done"], start_new_session=True)
    try:
        with cpu_quota(session_pids(busy.pid), 0.2, "test") as quota:
            assert str(busy.pid) in (quota.path / "cgroup.procs").read_text().split()
            used, started = quota.usage_s(), time.monotonic()
            # the share is measured over 2 s at least, and until the kernel has throttled the group once
            while time.monotonic() - started < 2 or not quota.throttled():
                assert time.monotonic() - started < 60, "the group was never throttled"
                time.sleep(0.1)
            share = (quota.usage_s() - used) / (time.monotonic() - started)
            assert 0 < share < 0.3, share  # at most a fifth of a core (and its period), not the whole one
            assert quota.throttled() > 0
            group = quota.path
        assert not group.exists()
        assert group.name not in Path(f"/proc/{busy.pid}/cgroup").read_text()
    finally:
        busy.kill()
        busy.wait()


def test_a_share_of_nothing_is_refused_before_any_group_is_made():
    with pytest.raises(ValueError, match="share 0"), cpu_quota([], 0):
        pass
