"""dahdi_cfg as root on request: how an unprivileged apply gets DAHDI to load the live configuration.

On the appliance apply runs as the ``linebox`` user (the console, ``linebox apply``), which can neither
open ``/dev/dahdi/ctl`` nor use DAHDI's configuration ioctls (CAP_SYS_ADMIN).  Ansible (roles/dahdi)
installs, once, as root:

* the links ``/etc/dahdi/{system.conf,assigned-spans.conf,modules}`` and
  ``/etc/modprobe.d/linebox-dahdi.conf`` to ``/var/lib/linebox/asterisk/live/...``: apply's atomic swap
  of the ``live`` link (and its rollback) switches DAHDI's files without writing to ``/etc``;
* ``linebox-dahdi-reload.path``, watching ``/run/linebox-dahdi/request.*`` (a folder the linebox user
  may write, made by tmpfiles.d), which starts the oneshot ``linebox-dahdi-reload.service``: root with
  CAP_SYS_ADMIN only, it takes the requests, runs ``dahdi_cfg -c /etc/dahdi/system.conf`` and writes the
  answer to ``/run/linebox-dahdi-reload/status`` (a root-owned folder), see
  ``ansible/roles/dahdi/files/linebox-dahdi-reload``.

The protocol (:func:`request`): write ``request.<id>`` atomically; wait (bounded) for the status file
to name ``<id>`` among the requests its run took; read dahdi_cfg's exit status and its last lines.  A
request nobody takes within :attr:`Service.pickup_timeout` means the path unit is not watching: apply
removes it and says so.

Why a path unit and not a polkit rule allowing ``systemctl restart`` of one unit:

* least privilege, from both sides: the linebox user can only say *when* dahdi_cfg runs, never with
  which file or options; the root side never reads what the user wrote (only a file name matching
  ``[A-Za-z0-9_-]+``), and the user cannot plant a link where root writes (the answer's folder is
  root's);
* nothing more to install or run: polkitd (a daemon with a JavaScript engine) is not on the appliance,
  and a D-Bus client in the console would need the sandbox of linebox-web.service opened further;
* dahdi_cfg's own message comes back with the answer (a ``systemctl`` call returns only "failed", the
  words would have to be dug out of the journal);
* it works the same from the console (sandboxed, ``ProtectSystem=strict`` with ``/run/linebox-dahdi``
  writable) and from ``linebox apply`` on the serial console.

Apply's rollback asks for the reload the same way once the ``live`` link points at the old generation
again, so DAHDI is put back on the old files too.
"""

from __future__ import annotations

import os
import secrets
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

REQUESTS_DIR = Path("/run/linebox-dahdi")
STATUS_FILE = Path("/run/linebox-dahdi-reload/status")
SYSTEM_CONF = Path("/etc/dahdi/system.conf")
UNIT = "linebox-dahdi-reload.service"
PATH_UNIT = "linebox-dahdi-reload.path"
NOT_ANSWERED = f"DAHDI reload service did not answer: is {PATH_UNIT} active?"


class ReloadError(Exception):
    """The root service could not be reached, or did not answer in time (``taken``: it had the request)."""

    def __init__(self, message: str, taken: bool = False):
        self.taken = taken
        super().__init__(message)


class Refused(Exception):
    """dahdi_cfg ran and refused the configuration: ``status`` its exit status, ``said`` its last lines."""

    def __init__(self, status: int, said: list[str]):
        self.status, self.said = status, said
        super().__init__(f"exit {status}: {' / '.join(said)}")


@dataclass
class Service:
    """Where the root reload service takes requests and answers, and how long apply waits for it."""

    requests_dir: Path = REQUESTS_DIR
    status_file: Path = STATUS_FILE
    pickup_timeout: float = 10.0  # until the request is taken (the path unit reacts within milliseconds)
    answer_timeout: float = 150.0  # until dahdi_cfg's answer once taken (the unit's TimeoutStartSec)
    poll: float = 0.05


@dataclass
class Answer:
    requests: list[str]
    status: int
    finished: str
    said: list[str]


def parse_status(text: str) -> Answer:
    """The status file: ``requests: ...``, ``exit: N``, ``finished: ...``, a blank line, dahdi_cfg's lines."""
    head, _, body = text.partition("\n\n")
    fields = dict(line.split(":", 1) for line in head.splitlines() if ":" in line)
    try:
        status = int(fields["exit"].strip())
    except (KeyError, ValueError):
        raise ValueError(f"not a DAHDI reload status: {head[:200]!r}") from None
    return Answer(fields.get("requests", "").split(), status, fields.get("finished", "").strip(),
                  [line for line in body.splitlines() if line.strip()])


def _answer_for(service: Service, request_id: str) -> Answer | None:
    try:
        answer = parse_status(service.status_file.read_text(errors="replace"))
    except (OSError, ValueError):
        return None  # no answer yet (or one being replaced)
    return answer if request_id in answer.requests else None


def request(service: Service) -> Answer:
    """Ask the root service to run dahdi_cfg; return its answer, raise :class:`Refused` if dahdi_cfg refused.

    Raises :class:`ReloadError` when the request cannot be left, is not taken in time (the path unit is
    not active: the request is withdrawn), or is taken and not answered in time."""
    request_id = f"{os.getpid()}-{secrets.token_hex(6)}"
    path = service.requests_dir / f"request.{request_id}"
    tmp = service.requests_dir / f".request.{request_id}"
    try:
        tmp.write_text(f"linebox apply, pid {os.getpid()}\n")
        os.replace(tmp, path)  # the path unit sees the request whole
    except OSError as error:
        with suppress(OSError):
            tmp.unlink()
        raise ReloadError(f"cannot leave a DAHDI reload request in {service.requests_dir} ({error.strerror}): "
                          f"is roles/dahdi installed (tmpfiles.d/linebox-dahdi.conf)?") from error
    start = time.monotonic()
    deadline = start + service.pickup_timeout
    taken = False
    while True:
        answer = _answer_for(service, request_id)
        if answer is not None:
            if answer.status != 0:
                raise Refused(answer.status, answer.said[-3:])
            return answer
        if not taken and not path.exists():
            taken, deadline = True, time.monotonic() + service.answer_timeout
        if time.monotonic() > deadline:
            break
        time.sleep(service.poll)
    if not taken:
        with suppress(OSError):
            path.unlink()  # withdrawn: no stray dahdi_cfg once the unit comes back
        raise ReloadError(f"{NOT_ANSWERED} (request not taken within {service.pickup_timeout:.0f} s)")
    raise ReloadError(f"DAHDI reload service took the request but gave no answer within "
                      f"{service.answer_timeout:.0f} s: see journalctl -u {UNIT}", taken=True)


def describe(answer: Answer) -> str:
    last = f" ({answer.said[-1]})" if answer.said else ""
    return f"{UNIT}: dahdi_cfg -c {SYSTEM_CONF}: ok{last}"
