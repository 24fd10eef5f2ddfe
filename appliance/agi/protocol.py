"""The AGI protocol on one connection: read the environment Asterisk sends, send commands, read replies.

Asterisk opens the connection and sends ``agi_<name>: <value>`` lines ended by an empty line; the script
then sends one command a line (``SET VARIABLE name "value"``) and reads one reply a line
(``200 result=1``; ``520-...`` opens a multi-line usage message ended by ``520 End of proper usage.``;
``511`` when the channel is gone).  A line ``HANGUP`` may come at any time when the caller hangs up and
is skipped.  Every read has the socket's timeout, so a stuck peer costs a bounded time.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

MAX_LINE = 8192
MAX_ENVIRONMENT_LINES = 200
_REPLY = re.compile(r"^(\d{3})(?: result=(-?\d+))?(?: \((.*)\))?")


class AgiError(Exception):
    """The peer broke the protocol, went away, or did not answer in time."""


@dataclass(frozen=True)
class Reply:
    code: int
    result: int | None
    data: str
    line: str

    @property
    def ok(self) -> bool:
        return self.code == 200


def quote(value: str) -> str:
    """An AGI argument in double quotes: backslash and quote escaped, line breaks and controls dropped."""
    text = "".join(ch for ch in str(value) if ch.isprintable())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AgiConnection:
    """One FastAGI conversation over a connected socket (the server's side)."""

    def __init__(self, sock: socket.socket, timeout: float):
        sock.settimeout(timeout)
        self.sock = sock
        self._reader = sock.makefile("rb")
        self.env: dict[str, str] = {}

    def _readline(self) -> str:
        try:
            raw = self._reader.readline(MAX_LINE + 1)
        except (TimeoutError, OSError) as error:
            raise AgiError(f"no answer from Asterisk: {error or 'timed out'}") from None
        if not raw:
            raise AgiError("Asterisk closed the connection")
        if len(raw) > MAX_LINE:
            raise AgiError("line too long")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def read_environment(self) -> dict[str, str]:
        """The ``agi_*`` variables, up to the empty line that ends them."""
        for _ in range(MAX_ENVIRONMENT_LINES):
            line = self._readline()
            if not line:
                return self.env
            name, sep, value = line.partition(":")
            if not sep or not name.startswith("agi_"):
                raise AgiError(f"not an AGI environment line: {line[:80]!r}")
            self.env[name] = value.strip()
        raise AgiError("AGI environment too long")

    @property
    def script(self) -> str:
        """The script asked for: the path of ``agi://host:port/<script>`` without arguments or slashes."""
        return self.env.get("agi_network_script", "").split("?", 1)[0].strip("/")

    def command(self, text: str) -> Reply:
        """Send one command line and read its reply."""
        if "\n" in text or "\r" in text:
            raise ValueError("an AGI command is one line")
        try:
            self.sock.sendall(text.encode("utf-8") + b"\n")
        except OSError as error:
            raise AgiError(f"cannot send to Asterisk: {error}") from None
        line = self._readline()
        while line == "HANGUP":
            line = self._readline()
        if line.startswith("520-"):
            while not line.startswith("520 "):
                line = self._readline()
        m = _REPLY.match(line)
        if not m:
            raise AgiError(f"not an AGI reply: {line[:80]!r}")
        return Reply(int(m.group(1)), int(m.group(2)) if m.group(2) is not None else None, m.group(3) or "", line)

    def set_variable(self, name: str, value: str) -> Reply:
        return self.command(f"SET VARIABLE {name} {quote(value)}")

    def close(self) -> None:
        try:
            self._reader.close()
        finally:
            self.sock.close()
