"""A small AMI client on pyst2, with the two things an appliance needs that pyst2 lacks.

* Every action has a deadline: pyst2 waits for a response forever, and an
  apply that hangs on a stuck Asterisk is the complaint users of other PBXs
  make most.  Here a late response raises ``AmiTimeout`` naming the action.
* ``command()`` returns the CLI output: pyst2 keeps only the last of the
  repeated ``Output:`` headers Asterisk 22 sends, so the raw lines are read.
"""

from __future__ import annotations

import logging
import queue
import socket
from collections.abc import Callable

from asterisk import manager as pyst

log = logging.getLogger(__name__)


class AmiError(Exception):
    """Asterisk refused an action, or could not be reached."""


class AmiTimeout(AmiError):
    pass


class _DeadlineQueue(queue.Queue):
    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def get(self, block: bool = True, timeout: float | None = None):
        try:
            return super().get(block, timeout if timeout is not None else self.timeout)
        except queue.Empty:
            raise AmiTimeout(f"Asterisk did not answer within {self.timeout:.0f} s") from None


class _BufferedManager(pyst.Manager):
    """pyst2's Manager reading through a buffered socket file.

    pyst2 opens its socket file unbuffered, so every ``readline()`` costs one
    system call per byte: reading ``pjsip show endpoints`` for 10,000
    endpoints took 25 s that way, and well under a second buffered.
    """

    def connect(self, host: str, port: int = 5038):
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.settimeout(None)
        self.local_port = sock.getsockname()[1]
        self._sock = sock.makefile(mode="rwb", buffering=65536)
        sock.close()
        self._connected.set()
        self._running.set()
        self.message_thread.start()
        self.event_dispatch_thread.start()
        return self._response_queue.get()


class Ami:
    """One logged-in AMI session.  Use as a context manager."""

    def __init__(self, host: str, port: int, username: str, secret: str, timeout: float = 30):
        self.host, self.port, self.username, self.secret = host, port, username, secret
        self.timeout = timeout
        self._manager: pyst.Manager | None = None

    def __enter__(self) -> Ami:
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def connect(self) -> None:
        manager = _BufferedManager()
        manager._response_queue = _DeadlineQueue(self.timeout)
        try:
            manager.connect(self.host, self.port)
            manager.login(self.username, self.secret)
        except pyst.ManagerAuthException as error:
            manager.close()
            raise AmiError(f"AMI login as '{self.username}' refused: {error}") from None
        except (pyst.ManagerSocketException, OSError) as error:
            raise AmiError(f"cannot reach AMI at {self.host}:{self.port}: {error}") from None
        self._manager = manager
        # our end of the connection: Asterisk's security events name it (RemoteAddress)
        self.local_port: int = manager.local_port

    def close(self) -> None:
        if self._manager is not None:
            try:
                self._manager.close()
            except Exception:  # noqa: BLE001 - closing a dead link must not mask the real error
                log.debug("AMI close failed", exc_info=True)
            self._manager = None

    def action(self, name: str, **fields) -> pyst.ManagerMsg:
        if self._manager is None:
            raise AmiError("not connected to AMI")
        try:
            response = self._manager.send_action({"Action": name, **fields})
        except AmiTimeout as error:
            raise AmiTimeout(f"AMI action {name}: {error}") from None
        except pyst.ManagerException as error:
            raise AmiError(f"AMI action {name} failed: {error}") from None
        if response.get_header("Response") == "Error":
            output = " ".join(line[len("Output: "):].strip() for line in response.response
                              if line.startswith("Output: "))
            # pyst2 misses a header ended by a bare \n, as PJSIPShowContacts' "No Contacts found" is
            message = response.get_header("Message") or next(
                (line[len("Message:"):].strip() for line in response.response if line.startswith("Message:")), None)
            raise AmiError(f"AMI action {name}: {message}" + (f": {output}" if output else ""))
        return response

    def command(self, command: str) -> str:
        """Run a CLI command and return its output text."""
        response = self.action("Command", Command=command)
        lines = []
        for raw in response.response:
            if raw.startswith("Output: "):
                lines.append(raw[len("Output: "):].rstrip("\r\n"))
        if not lines and response.data:
            lines = response.data.replace("--END COMMAND--", "").splitlines()
        return "\n".join(lines)

    def on_event(self, name: str, callback: Callable) -> None:
        """Call ``callback(event, manager)`` for each event named ``name`` ('*' for all)."""
        if self._manager is None:
            raise AmiError("not connected to AMI")
        self._manager.register_event(name, callback)
