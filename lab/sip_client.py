"""A small SIP user agent over UDP for the lab: REGISTER, INVITE and OPTIONS with digest authentication.

It plays both sides of a ban test: the password guesser and account scanner (hundreds of requests a
second, each with a wrong password or to an unknown account) and the real phone that must keep
registering and calling while the guesser is banned.  It speaks just enough SIP for that (RFC 3261
requests, RFC 2617 MD5 digest), so a test controls exactly what is sent, from which address and when.
A request that gets no answer within its timeout returns ``None``: that is what a dropped packet
looks like from outside.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import time
from dataclasses import dataclass

SDP = ("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
       "m=audio {rtp} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str


def _digest(method: str, uri: str, user: str, password: str, challenge: str) -> str:
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = fields.get("realm", ""), fields.get("nonce", "")
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    if "auth" in fields.get("qop", "").split(","):
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
                f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"')
    response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{response}", '
            'algorithm=MD5')


class SipClient:
    """One UDP socket at ``local_ip`` talking to the pbx at ``server`` (host, port).

    Open it from inside the namespace it should send from (``lab.netns.entered``)."""

    def __init__(self, local_ip: str, server: tuple[str, int], timeout: float = 1.0) -> None:
        self.local_ip, self.server, self.timeout = local_ip, server, timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((local_ip, 0))
        self.port = self.sock.getsockname()[1]
        self.cseq = 0

    def close(self) -> None:
        self.sock.close()

    def _request(self, method: str, uri: str, user: str, to_user: str, call_id: str, tag: str,
                 extra: str = "", body: str = "") -> Response | None:
        self.cseq += 1
        host, port = self.server
        branch = "z9hG4bK" + secrets.token_hex(8)
        content = "Content-Type: application/sdp\r\n" if body else ""
        message = (
            f"{method} {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {self.local_ip}:{self.port};branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:{user}@{host}>;tag={tag}\r\n"
            f"To: <sip:{to_user}@{host}>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: {self.cseq} {method}\r\n"
            f"Contact: <sip:{user}@{self.local_ip}:{self.port}>\r\n"
            f"User-Agent: linebox-lab\r\n{extra}{content}"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        )
        self.sock.sendto(message.encode(), (host, port))
        return self._final(call_id, message.encode())

    def _final(self, call_id: str, resend: bytes | None = None) -> Response | None:
        """The first final (>= 200) response of this call, skipping provisional ones and strays.

        ``resend``: the request, sent again until it is answered as a phone does over UDP (RFC 3261's
        timers: after 0.5 s, then doubling up to 4 s), so that a datagram lost on a busy machine is not
        read as a drop; Asterisk answers a retransmission from its transaction, counting nothing twice."""
        now = time.monotonic()
        deadline, interval = now + self.timeout, 0.5
        next_send = now + interval
        while True:
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                return None
            if resend is not None and now >= next_send:
                self.sock.sendto(resend, self.server)
                interval = min(interval * 2, 4.0)
                next_send = now + interval
            self.sock.settimeout(min(left, next_send - now) if resend is not None else left)
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue  # resend, or give up at the deadline
            text = data.decode(errors="replace")
            match = re.match(r"SIP/2\.0 (\d{3})", text)
            if not match:
                continue  # a request from the pbx (an OPTIONS qualify, a BYE): not ours to answer here
            headers = {}
            for line in text.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
                name, _, value = line.partition(":")
                headers.setdefault(name.strip().lower(), value.strip())
            if headers.get("call-id") != call_id or int(match.group(1)) < 200:
                continue
            return Response(int(match.group(1)), headers, text)

    def _with_auth(self, method: str, uri: str, user: str, to_user: str, password: str,
                   extra: str = "", body: str = "") -> tuple[Response | None, str, str]:
        call_id, tag = secrets.token_hex(10), secrets.token_hex(4)
        first = self._request(method, uri, user, to_user, call_id, tag, extra, body)
        if first is None or first.status not in (401, 407):
            return first, call_id, tag
        header = "www-authenticate" if first.status == 401 else "proxy-authenticate"
        auth_name = "Authorization" if first.status == 401 else "Proxy-Authorization"
        if method == "INVITE":
            self._ack(uri, user, to_user, call_id, tag, first)
        auth = _digest(method, uri, user, password, first.headers.get(header, ""))
        return self._request(method, uri, user, to_user, call_id, tag, f"{auth_name}: {auth}\r\n{extra}", body), \
            call_id, tag

    def register(self, user: str, password: str, expires: int = 60) -> Response | None:
        """REGISTER ``user`` with ``password`` (answering the pbx's challenge); the final response."""
        host, port = self.server
        return self._with_auth("REGISTER", f"sip:{host}:{port}", user, user, password, f"Expires: {expires}\r\n")[0]

    def options(self, to_user: str) -> Response | None:
        host, port = self.server
        call_id, tag = secrets.token_hex(10), secrets.token_hex(4)
        return self._request("OPTIONS", f"sip:{to_user}@{host}:{port}", to_user, to_user, call_id, tag)

    def invite(self, user: str, password: str, number: str) -> Response | None:
        """Call ``number`` as ``user``: the final response; a 200 is acknowledged and hung up at once."""
        host, port = self.server
        uri = f"sip:{number}@{host}:{port}"
        response, call_id, tag = self._with_auth("INVITE", uri, user, number, password,
                                                 body=SDP.format(ip=self.local_ip, rtp=self.port + 2))
        if response is None:
            return None
        self._ack(uri, user, number, call_id, tag, response)
        if response.status == 200:
            to = response.headers.get("to", "")
            self.cseq += 1
            message = (
                f"BYE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {self.local_ip}:{self.port};branch=z9hG4bK"
                f"{secrets.token_hex(8)};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{host}>;tag={tag}\r\n"
                f"To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {self.cseq} BYE\r\nContent-Length: 0\r\n\r\n"
            )
            self.sock.sendto(message.encode(), self.server)
            self._final(call_id)
        return response

    def _ack(self, uri: str, user: str, to_user: str, call_id: str, tag: str, response: Response) -> None:
        host, _ = self.server
        via = response.headers.get("via", "")
        message = (
            f"ACK {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{host}>;tag={tag}\r\n"
            f"To: {response.headers.get('to', f'<sip:{to_user}@{host}>')}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {self.cseq} ACK\r\nContent-Length: 0\r\n\r\n"
        )
        self.sock.sendto(message.encode(), self.server)
