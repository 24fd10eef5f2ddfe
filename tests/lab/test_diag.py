"""`linebox diag` on a real pbx, read from a tmux screen the size of a serial console."""

from __future__ import annotations

import time

import pytest

from tests.lab.helpers import add
from tests.lab.screen import run_on_screen

pytestmark = pytest.mark.lab


def test_diag_fits_one_screen_and_names_the_dead_trunk(pbx, carrier, tmp_path):
    add("extension", number="100", name="Alice")
    pbx.apply()
    carrier()  # registers extension 100
    from lab.instance import free_port
    add("trunk", name="deadline", host="127.0.0.1", port=free_port(), qualify_seconds=1)
    pbx.apply()
    # the qualify finds the trunk dead (nothing listens on its port): wait until Asterisk says so
    deadline = time.monotonic() + 30
    while "Unavail" not in next((line for line in pbx.cli("pjsip show contacts").splitlines()
                                  if "deadline" in line), ""):
        assert time.monotonic() < deadline, pbx.cli("pjsip show contacts")
        time.sleep(0.3)

    status, lines = run_on_screen(pbx.install.home, "diag", tmp_path)
    screen = "\n".join(lines)
    assert status == 1, screen  # warnings, no fault
    assert any(line.startswith("WARN Trunk") and "deadline" in line for line in lines), screen
    assert any("ok Asterisk" in line and "22." in line for line in lines), screen
    assert any("1 of 1 extension(s) registered" in line for line in lines), screen
    assert lines[-1].startswith("Linebox diag: warnings")
    # Asterisk started on Linebox's files with no ERROR in its log (a missing module file would show here)
    assert not any(line.startswith("WARN Log") for line in lines), screen
