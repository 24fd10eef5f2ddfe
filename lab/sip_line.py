"""A carrier's SIP line that the lab can kill: it answers the pbx's qualify until told to die.

Failover is only worth measuring from a trunk the pbx still believes is up: a line that answered
every ``OPTIONS`` a moment ago and then stopped.  This line is a UDP socket on loopback that
answers ``OPTIONS`` with ``200 OK`` (so Asterisk marks the trunk's contact reachable) and then dies
in one of the two ways a real line dies:

* ``silent``: the socket stays bound and reads and discards everything, as a hung process, a
  firewall dropping packets or a cut link do: the pbx hears nothing back, not even an error;
* ``refused``: the socket is closed, so the kernel answers each packet with ICMP port
  unreachable, as a crashed process on a host that is still up does.
"""

from __future__ import annotations

import socket
import threading

from lab import instance as lab

DEATHS = ("silent", "refused")


class SipLine:
    def __init__(self) -> None:
        self.port = lab.free_port(socket.SOCK_DGRAM)
        self.answered = 0  # OPTIONS answered: the pbx has seen this line up
        self.dropped = 0  # requests read and ignored after a silent death
        self._open()

    def _open(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.settimeout(0.2)
        self._alive = True
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(self._sock, self._stopped), daemon=True)
        self._thread.start()

    def _serve(self, sock: socket.socket, stopped: threading.Event) -> None:
        while not stopped.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._alive:
                self.dropped += 1
                continue
            reply = _ok(data.decode(errors="replace"))
            if reply is not None:
                sock.sendto(reply.encode(), peer)
                self.answered += 1

    def die(self, how: str) -> None:
        """Stop answering, as ``how`` says (one of ``DEATHS``)."""
        if how not in DEATHS:
            raise ValueError(f"a line dies {' or '.join(DEATHS)}, not {how!r}")
        self._alive = False
        if how == "refused":
            self.close()

    def revive(self) -> None:
        """Answer again, on the same port (for measuring the same trunk's death more than once)."""
        if self._stopped.is_set():
            self._open()
        self._alive = True

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)
        self._sock.close()


def _ok(request: str) -> str | None:
    """``200 OK`` to an ``OPTIONS`` request (the headers RFC 3261 says a response copies), else None."""
    head = request.split("\r\n\r\n", 1)[0].split("\r\n")
    if not head or not head[0].startswith("OPTIONS "):
        return None
    copied = [line for line in head[1:]
              if line.split(":", 1)[0].strip().lower() in ("via", "v", "from", "f", "call-id", "i", "cseq")]
    to = next((line for line in head[1:] if line.split(":", 1)[0].strip().lower() in ("to", "t")), "To: <sip:x>")
    if ";tag=" not in to:
        to += ";tag=lab-line"
    return "\r\n".join(["SIP/2.0 200 OK", *copied, to, "Content-Length: 0", "", ""])
