"""The voice robot's answer latency and accuracy over AudioSocket, as Asterisk talks to it.

A robot of 5 entries is stored in a fresh install; the robot service (``appliance.services.robot``, as
linebox-robot.service runs it) serves on a free port, in a process of its own.  Each of 15 phrasings is
spoken by espeak-ng in two voices (30 calls), at 8 kHz, through mu-law and back as a telephone line
carries it; a client plays Asterisk's part: the UUID frame, the caller's audio in 20 ms frames paced by
the clock, then nothing (a line that sends no comfort noise).  Measured: from the last frame of speech
sent (the last loud frame) to the first frame of the answer received (``robot_answer_latency_p50_ms``,
``_p95_ms``; this includes the 0.7 s of silence that ends an utterance, and not the network or
Asterisk), and whether the entry answered is the right one (``robot_wrong_entries``, ``robot_misses``).
Calls run one at a time first.

Then ``robot_concurrent_calls``: the most calls talking to the robot at once with the p95 of that latency
under 1.5 s and no wrong (or missed) answer.  Concurrency steps up (``STEPS``); at each step N callers
each make calls back to back, their starts spread over one call's length, so N calls are in progress at
any moment, until at least ``CALLS_PER_STEP`` calls (and 2 N) are done.  The first step that fails ends
the climb; the counts between it and the last step that passed are then tried by bisection.  Every step
tried is in ``robot_concurrency_steps``.  The machine's load average is in the file: on a box shared
with other work the figure is lower than on a quiet one.

Figures go to ``benchmarks/results/robot.json``.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from appliance.install import Install
from appliance.model.database import close_database
from appliance.robot import audiosocket, calls, speech
from appliance.robot.audiosocket import FrameReader
from appliance.services import robot as robot_service
from appliance.site import service
from benchmarks.sites import run_header, save_figures

ENTRIES = [
    ("what are your opening hours; when are you open; what time do you open; are you open on saturday",
     "We are open from nine to six, Monday to Friday."),
    ("where is your office; what is your address; how do i find you", "Our office is at one hundred Main Street."),
    ("how much does it cost; what are your prices; how much is it", "Prices start at ten dollars a month."),
    ("how do i reset my password; i forgot my password", "Open the login page and choose forgot password."),
    ("where is my order; how do i track my order; when will my order arrive",
     "Your order number is in the confirmation email; type it on our tracking page."),
]
# (what the caller says, the entry it asks), including phrasings in another word order or a voice of its own
PHRASINGS = [
    ("what are your opening hours", 0), ("when are you open", 0), ("what time do you open", 0),
    ("are you open on saturday", 0),
    ("where is your office", 1), ("what is your address", 1), ("how do i find you", 1),
    ("how much does it cost", 2), ("what are your prices", 2), ("how much is it", 2),
    ("how do i reset my password", 3), ("i forgot my password", 3),
    ("where is my order", 4), ("how do i track my order", 4), ("when will my order arrive", 4),
]
VOICES = ("en", "en-us")
STEPS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
CALLS_PER_STEP = 20
P95_LIMIT = 1.5  # seconds


def _speech(text: str, voice: str) -> bytes:
    """``text`` as 8 kHz slin, after a mu-law round trip (what a telephone line does to it)."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True).stdout
    ulaw = subprocess.run(["sox", "-t", "wav", "-", "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", "-"],
                          input=wav, check=True, capture_output=True).stdout
    return subprocess.run(["sox", "-t", "raw", "-r", "8000", "-c", "1", "-e", "u-law", "-", "-t", "raw", "-e",
                           "signed-integer", "-b", "16", "-"], input=ulaw, check=True, capture_output=True).stdout


def _call(port: int, audio: bytes, answers: dict[bytes, int]) -> tuple[float | None, int | None]:
    """One call as Asterisk makes it: (seconds from the end of speech to the answer, entry recognised by its
    audio) or (None, None) when the robot let the call go without answering."""
    call = uuid.UUID(f"{calls.robot_key('bench')}-{uuid.uuid4().hex[8:12]}-4000-8000-000000000000")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(audiosocket.encode(audiosocket.UUID, call.bytes))
        silence = bytes(8000)  # half a second of a quiet line first
        frames = audiosocket.audio_frames(silence + audio)
        # the end of speech: the last loud frame (espeak-ng ends its files with some quiet of its own)
        last_loud = max(i for i, f in enumerate(frames) if speech.rms(f[3:]) >= speech.LOUD_RMS)
        start = time.monotonic()
        ended = start
        for i, frame in enumerate(frames):
            delay = start + i * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            conn.sendall(frame)
            if i == last_loud:
                ended = time.monotonic() + 0.02  # once the frame's 20 ms have been "spoken"
        reader, first = FrameReader(), b""
        while not first:
            data = conn.recv(65536)
            if not data:
                return None, None
            for frame in reader.feed(data):
                if frame.kind == audiosocket.AUDIO and not first:
                    first = frame.payload
        latency = time.monotonic() - ended
        conn.sendall(audiosocket.encode(audiosocket.HANGUP))
    return latency, answers.get(first)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _step(n: int, latencies: list[float], wrong: list[str]) -> dict:
    p95 = _percentile(latencies, 0.95) if latencies else None
    return {"calls_at_once": n, "calls": len(latencies) + len([w for w in wrong if "->" not in w]),
            "p50_ms": round(statistics.median(latencies) * 1000) if latencies else None,
            "p95_ms": round(p95 * 1000) if p95 is not None else None, "wrong_or_missed": wrong,
            "load_average": round(os.getloadavg()[0], 2),
            "passed": p95 is not None and p95 < P95_LIMIT and not wrong}


def _load(port: int, n: int, cases: list, answers: dict[bytes, int]) -> dict:
    """``n`` callers making calls back to back (their starts spread over one call) until at least
    ``CALLS_PER_STEP`` and ``2 n`` calls are done; the step's figures."""
    target = max(CALLS_PER_STEP, 2 * n)
    latencies: list[float] = []
    wrong: list[str] = []
    lock = threading.Lock()
    started = [0]
    call_seconds = 0.5 + max(len(c[3]) for c in cases) / 16000 + 1.5  # quiet, speech, silence and answer

    def caller(index: int) -> None:
        time.sleep(index * call_seconds / n)
        while True:
            with lock:
                if started[0] >= target:
                    return
                text, voice, entry, audio = cases[started[0] % len(cases)]
                started[0] += 1
            latency, got = _call(port, audio, answers)
            with lock:
                if latency is None:
                    wrong.append(f"{voice}: {text} (no answer)")
                elif got != entry:
                    latencies.append(latency)
                    wrong.append(f"{voice}: {text} -> entry {got}")
                else:
                    latencies.append(latency)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return _step(n, latencies, wrong)


def _serve(home: Path, sounds_dir: Path, ports: multiprocessing.Queue, stop: EventType) -> None:
    """The robot service in a process of its own, as linebox-robot.service runs: the callers' threads of
    this benchmark do not share its interpreter."""
    Install.load(home).open()
    server = robot_service.make_server(sounds_dir, port=0).start()
    ports.put(server.port)
    stop.wait()
    server.close()
    close_database()


def main() -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="linebox-robot-bench-"))
    header = run_header()
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    child = None
    try:
        install = Install.create(tmp / "home", config_root=tmp / "config")
        install.open()
        service.save_object("robot", {"name": "bench", "entries": [
            {"questions": q, "answer": a, "then": "hangup"} for q, a in ENTRIES]}, "bench", create=True)
        sounds_dir = tmp / "sounds"
        ports: multiprocessing.Queue = context.Queue()
        child = context.Process(target=_serve, args=(install.home, sounds_dir, ports, stop))
        child.start()
        port = ports.get(timeout=120)
        speak = robot_service.speaker(sounds_dir)
        answers = {speak(a, "en")[:audiosocket.FRAME_BYTES]: i for i, (_, a) in enumerate(ENTRIES)}
        cases = [(text, voice, entry, _speech(text, voice)) for text, entry in PHRASINGS for voice in VOICES]
        _call(port, cases[0][3], answers)  # the recogniser is built at the first call: not timed
        latencies, wrong, missed = [], [], []
        for text, voice, entry, audio in cases:
            latency, got = _call(port, audio, answers)
            if latency is None:
                missed.append(f"{voice}: {text}")
                continue
            latencies.append(latency)
            if got != entry:
                wrong.append(f"{voice}: {text} -> entry {got}")
        steps = [_step(1, latencies, wrong + missed)]
        concurrent = 1 if steps[0]["passed"] else 0
        failed = None
        for n in (STEPS if concurrent else ()):  # a wrong answer one call at a time: no climb
            steps.append(_load(port, n, cases, answers))
            if not steps[-1]["passed"]:
                failed = n
                break
            concurrent = n
        while failed is not None and concurrent and failed - concurrent > 1:  # bisect between pass and fail
            n = (concurrent + failed) // 2
            steps.append(_load(port, n, cases, answers))
            if steps[-1]["passed"]:
                concurrent = n
            else:
                failed = n
        figures = {
            **header,
            "robot_phrasings": len(cases), "robot_entries": len(ENTRIES),
            "robot_answer_latency_p50_ms": round(statistics.median(latencies) * 1000),
            "robot_answer_latency_p95_ms": round(_percentile(latencies, 0.95) * 1000),
            "robot_misses": len(missed), "robot_missed": missed,
            "robot_wrong_entries": len(wrong), "robot_wrong": wrong,
            "robot_concurrent_calls": concurrent,
            "robot_concurrent_p95_limit_ms": round(P95_LIMIT * 1000),
            "robot_concurrency_steps": steps,
            "load_average_at_end": round(os.getloadavg()[0], 2),
        }
    finally:
        stop.set()
        if child is not None:
            child.join(30)
            if child.is_alive():
                child.kill()
        close_database()
        shutil.rmtree(tmp, ignore_errors=True)
    save_figures("robot", figures)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:32} {value}")
