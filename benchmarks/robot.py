"""The voice robot's answer latency and accuracy over AudioSocket, as Asterisk talks to it.

A robot of 5 entries is stored in a fresh install; the robot service (``appliance.services.robot``, as
linebox-robot.service runs it) serves on a free port.  For each of 24 phrasings (spoken by espeak-ng,
8 kHz, through mu-law and back as a telephone line carries them), a client plays Asterisk's part: the
UUID frame, the caller's audio in 20 ms frames paced by the clock, then nothing (a line that sends no
comfort noise).  Measured: from the last frame of speech sent to the first frame of the answer received
(the last loud frame: ``robot_answer_latency_p50_ms``, ``_p95_ms``; this includes the 0.7 s of
silence that ends an utterance, and not the network or Asterisk), and whether the entry answered is the right one
(``robot_wrong_entries``, ``robot_misses``).  Calls run one at a time, then ``CONCURRENT`` at once
(``robot_concurrent_p95_ms``).  Not measured yet: ``robot_concurrent_calls`` (the most simultaneous
calls with p95 under 1.5 s), which needs a search over load.

Figures go to ``benchmarks/results/robot.json``.
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
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
CONCURRENT = 4


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


def main() -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="linebox-robot-bench-"))
    try:
        install = Install.create(tmp / "home", config_root=tmp / "config")
        install.open()
        service.save_object("robot", {"name": "bench", "entries": [
            {"questions": q, "answer": a, "then": "hangup"} for q, a in ENTRIES]}, "bench", create=True)
        sounds_dir = tmp / "sounds"
        server = robot_service.make_server(sounds_dir, port=0).start()
        speak = robot_service.speaker(sounds_dir)
        answers = {speak(a, "en")[:audiosocket.FRAME_BYTES]: i for i, (_, a) in enumerate(ENTRIES)}
        cases = [(text, voice, entry, _speech(text, voice)) for text, entry in PHRASINGS for voice in VOICES]
        _call(server.port, cases[0][3], answers)  # the recogniser is built at the first call: not timed
        latencies, wrong, missed = [], [], []
        for text, voice, entry, audio in cases:
            latency, got = _call(server.port, audio, answers)
            if latency is None:
                missed.append(f"{voice}: {text}")
                continue
            latencies.append(latency)
            if got != entry:
                wrong.append(f"{voice}: {text} -> entry {got}")
        together: list[float] = []
        lock = threading.Lock()

        def one(audio: bytes) -> None:
            latency, _ = _call(server.port, audio, answers)
            if latency is not None:
                with lock:
                    together.append(latency)

        for batch in range(0, len(cases) - CONCURRENT + 1, CONCURRENT):
            threads = [threading.Thread(target=one, args=(c[3],)) for c in cases[batch:batch + CONCURRENT]]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        server.close()
        figures = {
            **run_header(),
            "robot_phrasings": len(cases), "robot_entries": len(ENTRIES),
            "robot_answer_latency_p50_ms": round(statistics.median(latencies) * 1000),
            "robot_answer_latency_p95_ms": round(_percentile(latencies, 0.95) * 1000),
            "robot_misses": len(missed), "robot_missed": missed,
            "robot_wrong_entries": len(wrong), "robot_wrong": wrong,
            f"robot_concurrent_{CONCURRENT}_p95_ms": round(_percentile(together, 0.95) * 1000) if together else None,
        }
    finally:
        close_database()
        shutil.rmtree(tmp, ignore_errors=True)
    save_figures("robot", figures)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:32} {value}")
