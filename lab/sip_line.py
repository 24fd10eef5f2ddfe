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


class SipRelay:
    """A carrier's line reached through a relay the lab can cut: a registering trunk that really works, then dies.

    ``SipLine`` only answers qualifies, so a trunk pointed at it can neither register nor carry a call.
    This relay forwards every datagram the pbx sends it to the carrier's line and the carrier's replies
    back (the carrier answers the address a request came from), so a trunk pointed at it registers,
    qualifies and carries calls to the carrier; ``die`` then drops everything, silently, as a carrier
    site that went down does.  Calls the carrier places come straight from its own port, as they would
    from a real carrier.
    """

    def __init__(self) -> None:
        self.port = lab.free_port(socket.SOCK_DGRAM)
        self.target: tuple[str, int] | None = None  # the carrier's line, once ``connect`` names it
        self.dropped: list[str] = []  # the first line of each datagram discarded (it was dead, or not connected)
        self._pbx: tuple[str, int] | None = None  # whoever last sent us a datagram that is not the carrier's
        self._alive = True
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def connect(self, port: int) -> None:
        """Relay to the carrier's line on ``port`` (until then, what arrives is dropped)."""
        self.target = ("127.0.0.1", port)

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                data, peer = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._alive or self.target is None:
                self.dropped.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))
                continue
            if peer == self.target:
                if self._pbx is not None:
                    self._sock.sendto(data, self._pbx)
            else:
                self._pbx = peer
                self._sock.sendto(data, self.target)

    def die(self) -> None:
        """Drop everything from now on, both ways, without a word (as a carrier site that went down)."""
        self._alive = False

    def revive(self) -> None:
        self._alive = True

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)
        self._sock.close()
