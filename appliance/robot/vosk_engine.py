"""Vosk (Kaldi) as a robot's recogniser, with a model the admin placed on the box (:mod:`.engines`).

Vosk takes the call's 8 kHz audio as it is (its front end resamples to the model's rate).  The robot's
phrasings and the ways of asking for a person are given as its grammar: Vosk's small models ("lookahead"
graphs) keep to them, its large ones ignore a grammar and hear free speech, which the matcher then scores
like any other text.  A model is loaded once per folder and shared by every call; each utterance gets a
recogniser of its own, so calls do not wait for each other.

Not tested with a model here: none can be had on the development machines (and nothing is fetched at
run time); the unit tests check only how a model folder is recognised and chosen.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_models: dict[Path, Any] = {}
_lock = threading.Lock()


def _model(folder: Path) -> Any:
    from vosk import Model, SetLogLevel  # the "vosk" extra
    with _lock:
        if folder not in _models:
            SetLogLevel(-1)
            _models[folder] = Model(str(folder))
        return _models[folder]


class Vosk:
    """Vosk's model in ``folder`` held to ``phrases`` where the model allows a grammar."""

    def __init__(self, folder: Path, phrases: Iterable[str]) -> None:
        self._model = _model(folder)
        self._grammar = json.dumps([*dict.fromkeys(" ".join(p.split()) for p in phrases), "[unk]"],
                                   ensure_ascii=False)

    def recognise(self, samples: bytes) -> str:
        from vosk import KaldiRecognizer
        recogniser = KaldiRecognizer(self._model, 8000.0, self._grammar)
        recogniser.AcceptWaveform(samples)
        text = json.loads(recogniser.FinalResult()).get("text", "")
        return " ".join(word for word in text.split() if word != "[unk]")
