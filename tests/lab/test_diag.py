"""`linebox diag` on a real pbx, read from a tmux screen the size of a serial console."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.lab.helpers import add
from tests.lab.test_cli import LINEBOX

pytestmark = pytest.mark.lab


def test_diag_fits_one_screen_and_names_the_dead_trunk(pbx, carrier, tmp_path):
    assert shutil.which("tmux"), "tmux is needed (Debian package tmux)"
    add("extension", number="100", name="Alice")
    pbx.apply()
    carrier()  # registers extension 100
    from lab.instance import free_port
    add("trunk", name="deadline", host="127.0.0.1", port=free_port(), qualify_seconds=1)
    pbx.apply()
    time.sleep(4)  # let the qualify find the trunk dead

    session = f"diag{os.getpid()}"
    status_file = tmp_path / "status"
    env = f"LINEBOX_HOME={pbx.install.home}"
    subprocess.run(["tmux", "new-session", "-d", "-x", "80", "-y", "24", "-s", session,
                    f"env {env} TERM=vt100 {LINEBOX} diag; echo $? > {status_file}; sleep 30"], check=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not status_file.exists():
            time.sleep(0.2)
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                text=True).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    lines = [line for line in screen.splitlines() if line.strip()]
    assert status_file.read_text().strip() == "1", screen  # warnings, no fault
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    assert any(line.startswith("WARN Trunk") and "deadline" in line for line in lines), screen
    assert any("ok Asterisk" in line and "22." in line for line in lines), screen
    assert any("1 of 1 extension(s) registered" in line for line in lines), screen
    assert lines[-1].startswith("Linebox diag: warnings")
    # Asterisk started on Linebox's files with no ERROR in its log (a missing module file would show here)
    assert not any(line.startswith("WARN Log") for line in lines), screen
