"""The robot's AudioSocket server: one thread per call, listening, answering, handing over.

A call (one TCP connection from Asterisk's ``AudioSocket()``) goes: the UUID frame names the robot
(:mod:`.calls`); then the caller's audio is cut into utterances (:mod:`.speech`), each recognised
(:mod:`.recognizer`) and matched (:mod:`.matcher`).  A matched entry's answer is sent back as 20 ms
audio frames, paced by the clock; the caller speaking over it (barge-in) stops it and the robot
listens again.  Asking for a person, pressing 0, or being not understood twice hands the call over;
an entry with a ``then`` destination sends the call there once its answer has been played.  The robot
lets the call go by sending a hangup frame and closing the connection: Asterisk's ``AudioSocket()``
returns and the dialplan asks the FastAGI script ``robot`` where the call goes (:mod:`.calls`).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import socketserver
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from appliance.robot import audiosocket, calls, matcher, speech
from appliance.robot.audiosocket import FrameReader
from appliance.tcp_server import BackgroundTcpServer

if TYPE_CHECKING:  # the recogniser needs the "robot" extra; the server itself runs without it
    from appliance.robot.recognizer import Engine

log = logging.getLogger("linebox.robot")

MAX_MISSES = 2  # utterances not understood before the call goes to a person
IDLE_SECONDS = 15.0  # no question for this long: a person takes the call
FIRST_FRAME_SECONDS = 3.0


@dataclass
class RobotPlan:
    """What the server needs of one robot: its entries' phrasings, answers' audio and exits."""

    name: str
    language: str
    phrasings: list[list[str]]
    answers: list[bytes]  # slin 8 kHz, one per entry
    thens: list[str]  # the entry's "then" destination ("" listens again)
    not_understood: bytes
    engine: Engine


@dataclass
class Outcome:
    transcript: list[str] = field(default_factory=list)
    entry: int = -1
    outcome: str = "hangup"
    next_step: str = "hangup"
    answered_at: list[float] = field(default_factory=list)  # utterance end -> first answer frame, seconds


class Player:
    """Audio frames sent at 20 ms intervals, by the clock; ``stop`` drops what is left."""

    def __init__(self) -> None:
        self._frames: list[bytes] = []
        self._next = 0.0

    @property
    def playing(self) -> bool:
        return bool(self._frames)

    def start(self, samples: bytes, now: float) -> None:
        self._frames = audiosocket.audio_frames(samples)
        self._next = now

    def stop(self) -> None:
        self._frames = []

    def due(self, now: float) -> list[bytes]:
        out = []
        while self._frames and now >= self._next:
            out.append(self._frames.pop(0))
            self._next += audiosocket.FRAME_MS / 1000
        return out

    def wait(self, now: float) -> float:
        """Seconds until the next frame is due (or a short poll when nothing plays)."""
        return max(0.0, min(0.02, self._next - now)) if self._frames else 0.02


def converse(conn: socket.socket, plan: RobotPlan, reader: FrameReader, pending: list, call_uuid: str
             ) -> Outcome:
    """Talk with one caller until the call ends or goes on; returns what happened."""
    out = Outcome()
    heard = speech.Utterances()
    player = Player()
    misses = 0
    then = ""  # the exit to take once the answer playing now has ended
    last_activity = time.monotonic()
    utterance_end = 0.0
    while True:
        now = time.monotonic()
        for frame in pending:
            if frame.kind == audiosocket.AUDIO:
                heard.feed(frame.payload, now)
                if player.playing and heard.speaking:
                    log.info("robot %s: caller speaks over the answer; stop and listen", plan.name)
                    player.stop()
                    then = ""
            elif frame.kind == audiosocket.DTMF and frame.digit == "0":
                out.outcome, out.next_step = "handover", "handover"
                return out
            elif frame.kind in (audiosocket.HANGUP, audiosocket.ERROR):
                out.outcome = out.outcome if out.entry >= 0 else "hangup"
                out.next_step = "hangup"
                return out
        pending = []
        if player.playing or heard.speaking:
            last_activity = now
        for data in player.due(now):
            if utterance_end:
                out.answered_at.append(now - utterance_end)
                utterance_end = 0.0
            conn.sendall(data)
        if not player.playing and then:
            out.next_step = then
            return out
        utterance = None if player.playing else heard.take(now)
        if utterance is not None:
            last_activity = now
            utterance_end = heard.ended_at
            text = plan.engine.recognise(utterance)
            out.transcript.append(text)
            found = matcher.match(text, plan.phrasings)
            log.info("robot %s: heard %r -> %s (score %.0f)", plan.name, text,
                     "handover" if found.handover else found.entry, found.score)
            if found.handover:
                out.outcome, out.next_step = "handover", "handover"
                return out
            if found.entry is None:
                misses += 1
                if misses >= MAX_MISSES:
                    out.outcome, out.next_step = "handover", "handover"
                    return out
                player.start(plan.not_understood, time.monotonic())
            else:
                out.entry, out.outcome = found.entry, "answered"
                player.start(plan.answers[found.entry], time.monotonic())
                then = f"then-{found.entry + 1}" if plan.thens[found.entry] else ""
            continue
        if now - last_activity > IDLE_SECONDS:
            out.outcome, out.next_step = ("answered" if out.entry >= 0 else "handover"), "handover"
            return out
        readable, _, _ = select.select([conn], [], [], player.wait(now))
        if readable:
            data = conn.recv(65536)
            if not data:
                out.next_step = "hangup"
                return out
            pending = reader.feed(data)


class RobotServer(BackgroundTcpServer):
    """AudioSocket on ``address``:``port``; ``plans(name)`` gives a robot's plan (None: no such robot)."""

    thread_name = "robot-server"

    def __init__(self, address: str, port: int, names: Callable[[], list[str]],
                 plans: Callable[[str], RobotPlan | None]) -> None:
        self.names = names
        self.plans = plans
        self.served = 0
        self.latencies: list[float] = []
        super().__init__(address, port, _Handler)

    @property
    def url(self) -> str:
        return f"audiosocket://{self.address}:{self.port}"

    def check(self, timeout: float = 5.0) -> bool:
        """Answered as Asterisk would be: a call naming no robot is closed at once (the watchdog's question)."""
        return health_check(self.address, self.port, timeout)


HEALTH_UUID = "00000000-0000-4000-8000-000000000000"  # names no robot (no name hashes to key 00000000 here)


def health_check(address: str, port: int, timeout: float = 5.0) -> bool:
    """Connect, send a UUID frame naming no robot, and expect the server to close the connection."""
    import uuid as uuidlib
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.sendall(audiosocket.encode(audiosocket.UUID, uuidlib.UUID(HEALTH_UUID).bytes))
            conn.settimeout(timeout)
            while conn.recv(4096):
                pass
        return True
    except OSError:
        return False


class _Handler(socketserver.BaseRequestHandler):
    server: RobotServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = FrameReader()
        frames: list = []
        deadline = time.monotonic() + FIRST_FRAME_SECONDS
        while not frames and time.monotonic() < deadline:
            readable, _, _ = select.select([conn], [], [], 0.2)
            if readable:
                data = conn.recv(65536)
                if not data:
                    return
                frames = reader.feed(data)
        if not frames or frames[0].kind != audiosocket.UUID or len(frames[0].payload) != 16:
            log.warning("robot: a connection without a UUID first; closed")
            return
        call_uuid = frames[0].uuid
        name = calls.robot_of(call_uuid, self.server.names())
        plan = self.server.plans(name) if name else None
        if plan is None:
            log.warning("robot: call %s names no robot; the dialplan takes the fallback", call_uuid)
            return
        calls.begin(call_uuid, plan.name)
        self.server.served += 1
        try:
            out = converse(conn, plan, reader, frames[1:], call_uuid)
        except OSError as error:  # the caller hung up under us
            log.info("robot %s: call %s ended: %s", plan.name, call_uuid, error)
            out = Outcome(outcome="hangup", next_step="hangup")
        self.server.latencies.extend(out.answered_at)
        calls.finish(call_uuid, out.transcript, out.entry, out.outcome, out.next_step)
        log.info("robot %s: call %s %s -> %s, heard %s", plan.name, call_uuid, out.outcome, out.next_step,
                 out.transcript, extra={"LINEBOX_EVENT": "robot", "LINEBOX_RESULT": out.outcome})
        with contextlib.suppress(OSError):
            conn.sendall(audiosocket.encode(audiosocket.HANGUP))
