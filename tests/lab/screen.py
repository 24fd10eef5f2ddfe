"""An 80×24 terminal screen (tmux) running one ``linebox`` command, as a technician on a serial console sees it.

Each screen has its own tmux server (its own socket, ``tmux -L``), killed when the screen closes: tests
that share tmux's default server race each other (one test's kill-session ends the server while the
next one's new-session is starting: "server exited unexpectedly").  The command's exit status is
written to a file under a temporary name and renamed, so it is never read half-written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.lab.test_cli import LINEBOX


class Screen:
    """One command in an 80×24 tmux session on a tmux server of its own."""

    def __init__(self, home: Path, command: str, tmp_path: Path, linger: int = 120):
        assert shutil.which("tmux"), "tmux is needed (Debian package tmux)"
        self.socket = f"lbx-{os.getpid()}-{time.monotonic_ns()}"
        self.status_file = tmp_path / f"{self.socket}.status"
        part = f"{self.status_file}.part"
        shell = (f"env LINEBOX_HOME={home} TERM=vt100 {LINEBOX} {command}; "
                 f"echo $? > {part} && mv {part} {self.status_file}; sleep {linger}")
        self._tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "screen", shell)

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check)

    def text(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "screen", check=False).stdout

    def lines(self) -> list[str]:
        return [line for line in self.text().splitlines() if line.strip()]

    def wait_for(self, words: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.text()
            if words in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"'{words}' never appeared on the screen:\n{self.text()}")

    def type(self, keys: str) -> None:
        self._tmux("send-keys", "-t", "screen", keys, "Enter")

    def exit_status(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.status_file.exists():
            time.sleep(0.2)
        assert self.status_file.exists(), f"the command did not finish:\n{self.text()}"
        return int(self.status_file.read_text().strip())

    def close(self) -> None:
        self._tmux("kill-server", check=False)


def run_on_screen(home: Path, command: str, tmp_path: Path) -> tuple[int, list[str]]:
    """Run ``linebox command`` to its end on a fresh screen; its exit status and the non-blank lines shown.

    Fails if the output does not fit the 80×24 screen."""
    screen = Screen(home, command, tmp_path)
    try:
        status = screen.exit_status()
        lines = screen.lines()
    finally:
        screen.close()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines), "\n".join(lines)
    return status, lines
