"""Offline speech recognition: an engine interface, and PocketSphinx with a grammar of the robot's questions.

PocketSphinx's wheel ships a US-English acoustic model and dictionary: nothing is fetched at run time.
Free dictation of telephone audio with it is poor, so the engine is held to a JSGF grammar whose
sentences are the robot's own phrasings plus the ways of asking for a person; a phrasing with a word
the dictionary lacks is left out of the grammar (the matcher may still reach its entry from another).
The call's 8 kHz audio is resampled to the model's 16 kHz with numpy, and a faint, fixed noise (as a
line's own hiss) is added: digital silence, in the pauses and in the band above 4 kHz, is what the
16 kHz model takes worst (measured on espeak-ng speech through the lab's calls: "speak to an agent" was
heard as nothing without it, and every phrase of the lab's robot was heard right with it).

A grammar decoder may stop inside a sentence ("what are your opening" for a caller who said something
else), or force nonsense onto a sentence: only a whole sentence of the grammar with a score of at least
``MIN_SCORE`` counts as heard, anything else is "" (not understood).

Other engines fit ``Engine``: Vosk with a model folder the admin places (:mod:`.vosk_engine`, Mandarin
included); :mod:`.engines` says which are present and which a robot uses.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
from pocketsphinx import Decoder, get_model_path

log = logging.getLogger("linebox.robot")

MODEL_RATE = 16000
NOISE_RMS = 100.0  # the added hiss, in 16-bit sample units (speech through a line is in the thousands)
# PocketSphinx's score of a hypothesis below which it is not taken: measured on espeak-ng speech, every
# phrase of a test robot scored 0.55-0.81, nonsense forced onto the grammar ("banana purple elephant"
# heard as "when are you open") 0.40-0.46
MIN_SCORE = 0.5


class Engine(Protocol):
    """A recogniser: 8 kHz slin audio of one utterance in, the words heard out ("" for nothing)."""

    def recognise(self, samples: bytes) -> str: ...


class Deaf:
    """No recogniser for the robot's language on this box: nothing is understood, so a caller reaches a
    person after two tries (or at once with 0)."""

    def recognise(self, samples: bytes) -> str:
        return ""


def upsample(samples: bytes) -> bytes:
    """8 kHz little-endian 16-bit samples at 16 kHz (linear interpolation)."""
    audio = np.frombuffer(samples[: len(samples) // 2 * 2], dtype="<i2").astype(np.float32)
    if audio.size == 0:
        return b""
    positions = np.arange(audio.size * 2, dtype=np.float32) / 2.0
    return np.interp(positions, np.arange(audio.size), audio).astype("<i2").tobytes()


@cache
def _dictionary() -> frozenset[str]:
    words = set()
    with open(Path(get_model_path()) / "en-us" / "cmudict-en-us.dict", encoding="utf-8") as lines:
        for line in lines:
            word = line.split(" ", 1)[0]
            words.add(word.split("(", 1)[0])
    return frozenset(words)


def grammar(phrases: Iterable[str]) -> tuple[str, list[str]]:
    """A JSGF grammar of ``phrases`` (normalised: lower-case words) and the phrases it had to leave out."""
    known = _dictionary()
    kept: list[str] = []
    left: list[str] = []
    for phrase in dict.fromkeys(phrases):
        words = phrase.split()
        (kept if words and all(w in known for w in words) else left).append(phrase)
    if not kept:
        raise ValueError("no phrase the recogniser knows every word of")
    body = " | ".join(f"( {p} )" for p in kept)
    return f"#JSGF V1.0;\ngrammar robot;\npublic <question> = {body};\n", left


class PocketSphinx:
    """PocketSphinx's en-US model on a grammar of ``phrases``; one decoder, used by one call at a time."""

    def __init__(self, phrases: Iterable[str], folder: Path) -> None:
        text, left = grammar(phrases)
        if left:
            log.warning("robot: not in the recogniser's dictionary, left out of its grammar: %s", "; ".join(left))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"robot-{hashlib.sha1(text.encode()).hexdigest()[:16]}.jsgf"
        path.write_text(text, encoding="ascii")
        self.sentences = frozenset(" ".join(p.split()) for p in phrases)
        self._decoder = Decoder(lm=None, jsgf=str(path), samprate=MODEL_RATE, loglevel="FATAL")
        self._lock = threading.Lock()

    def recognise(self, samples: bytes) -> str:
        pad = bytes(MODEL_RATE // 4)  # a quarter second of silence either side (at 8 kHz)
        audio = np.frombuffer(upsample(pad + samples + pad), dtype="<i2").astype(np.float32)
        hiss = np.random.default_rng(0).normal(0.0, NOISE_RMS, audio.size).astype(np.float32)
        audio = np.clip(audio + hiss, -32768, 32767).astype("<i2").tobytes()
        with self._lock:
            self._decoder.start_utt()
            self._decoder.process_raw(audio, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
        if hyp is None or hyp.score < MIN_SCORE:
            return ""
        text = " ".join(hyp.hypstr.split())
        return text if text in self.sentences else ""
