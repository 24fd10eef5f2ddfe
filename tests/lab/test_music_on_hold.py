"""A caller waiting in a queue hears the queue's music-on-hold class, not merely a line in musiconhold.conf.

The golden files only show that ``musicclass`` is written.  Here a custom class plays one file, a
steady 1,400 Hz tone made for the test (a pitch that no phone, tone or music in the lab holds for
seconds on end), and a caller waiting in a queue set to that class is recorded: what they hear must be
that tone.  A caller waiting in a queue left on the default class must hear music (not silence), and
not the tone.  Were the class not applied, the first caller would hear the default music and the
tone would be missing.
"""

from __future__ import annotations

import math
import wave

import pytest

from tests.lab.helpers import add, live_with_carrier, loud_seconds, tone_seconds

pytestmark = pytest.mark.lab

TONE_HZ = 1400
RATE = 8000


def _write_tone(path, seconds: int = 10) -> None:
    """A WAV Asterisk plays as is (8 kHz, 16-bit, mono): the class's only file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        samples = (int(8000 * math.sin(2 * math.pi * TONE_HZ * n / RATE)) for n in range(RATE * seconds))
        w.writeframes(b"".join(s.to_bytes(2, "little", signed=True) for s in samples))


def test_a_caller_waiting_in_a_queue_hears_the_queues_music_on_hold_class(pbx, carrier):
    folder = pbx.instance.host_dir / "moh-tone"
    folder.mkdir()
    _write_tone(folder / "tone.wav")
    add("extension", number="201", name="Agent Fang")
    add("moh_class", name="tone", directory=f"{pbx.instance.inner_dir}/moh-tone", sort="alpha")
    for number, did, moh in (("750", "5557500", "tone"), ("751", "5557510", "default")):
        add("queue", number=number, name=f"Queue {number}", moh_class=moh, members=[{"extension": "201", "penalty": 0}])
        add("inbound_route", name=f"line-{number}", did=did, destination=f"queue:{number}")
    phones = live_with_carrier(pbx, carrier)
    phones.set_behaviour("201", "noanswer")  # nobody answers: the callers wait, on hold, for the whole call

    for did, tag in (("5557500", "tone-class"), ("5557510", "default-class")):
        mark = phones.mark()
        phones.call("telco", did, tag=tag, hold=7, record=True)
        phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark)  # in the queue
        phones.wait_for("CallerHangup", lambda e, tag=tag: e.get("Tag") == tag, since=mark, timeout=30)

    toned = phones.heard("tone-class")
    heard = tone_seconds(toned, TONE_HZ)
    assert heard >= 5, f"the caller heard {heard:.1f} s of the class's tone"
    default = phones.heard("default-class")
    assert loud_seconds(default, after=0.5) >= 5, "the default class plays music, not silence"
    assert tone_seconds(default, TONE_HZ) < 1, "the default class is not the tone"
