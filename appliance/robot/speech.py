"""Where the caller speaks: an energy detector over 20 ms frames, timed by the clock.

An RTP stream may stop while the caller is silent (no comfort noise), so the end of an utterance is
when no loud frame came for ``END_SILENCE`` seconds of wall-clock time, not after so many quiet frames.
An utterance shorter than ``MIN_SPEECH`` is a click or a cough, not a question.
"""

from __future__ import annotations

import array
import collections
import math
import sys

LOUD_RMS = 400.0  # 16-bit samples: speech through a telephone line is in the thousands, a quiet line near 0
MIN_SPEECH = 0.25  # seconds of loud frames for an utterance
END_SILENCE = 0.7  # seconds without a loud frame end it
MAX_UTTERANCE = 10.0  # seconds: a longer one is cut and recognised as it is
BARGE_IN = 0.3  # seconds of loud frames while the robot speaks: the caller is talking over it
PRE_ROLL = 0.3  # seconds kept from before the first loud frame: a quiet start ("s" of "speak") is not cut off


def rms(samples: bytes) -> float:
    """The root mean square of little-endian 16-bit samples."""
    values = array.array("h")
    values.frombytes(samples[: len(samples) // 2 * 2])
    if sys.byteorder == "big":
        values.byteswap()
    if not values:
        return 0.0
    return math.sqrt(sum(v * v for v in values) / len(values))


class Utterances:
    """Feed audio frames with the time they came; ``take`` returns a finished utterance's audio."""

    def __init__(self, loud: float = LOUD_RMS) -> None:
        self.loud = loud
        self._audio = bytearray()
        self._loud_seconds = 0.0
        self._started: float | None = None
        self._last_loud = 0.0
        self._before: collections.deque[bytes] = collections.deque()
        self._before_bytes = 0
        self.ended_at = 0.0  # when the last utterance taken ended (its last loud frame)

    @property
    def speaking(self) -> bool:
        """The caller has been loud long enough to count as speaking, and has not stopped yet."""
        return self._started is not None and self._loud_seconds >= BARGE_IN

    def feed(self, samples: bytes, now: float) -> None:
        seconds = len(samples) / 16000
        if rms(samples) >= self.loud:
            if self._started is None:
                self._started = now
                self._audio = bytearray(b"".join(self._before))
                self._loud_seconds = 0.0
            self._loud_seconds += seconds
            self._last_loud = now
        if self._started is not None:
            self._audio.extend(samples)
            return
        self._before.append(samples)
        self._before_bytes += len(samples)
        while self._before_bytes - len(self._before[0]) >= PRE_ROLL * 16000:
            self._before_bytes -= len(self._before.popleft())

    def take(self, now: float) -> bytes | None:
        """The audio of an utterance that has ended by ``now`` (with a little of its silence), else None."""
        if self._started is None:
            return None
        too_long = now - self._started > MAX_UTTERANCE
        if now - self._last_loud < END_SILENCE and not too_long:
            return None
        audio, enough = bytes(self._audio), self._loud_seconds >= MIN_SPEECH
        self.reset()
        if not enough:
            return None
        self.ended_at = self._last_loud
        return audio

    def reset(self) -> None:
        self._started = None
        self._audio = bytearray()
        self._loud_seconds = 0.0
        self._before.clear()
        self._before_bytes = 0
