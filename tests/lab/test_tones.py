"""Tones Asterisk plays itself, from the site's tone zone (indications.conf)."""

from __future__ import annotations

import math
import wave

import pytest

from appliance.site import service
from tests.lab.helpers import add, live_with_carrier, loud_seconds

pytestmark = pytest.mark.lab


def test_caller_sent_on_from_an_ivr_hears_ringback_not_silence(pbx, carrier):
    add("extension", number="201", name="Front desk")
    add("ivr", name="front", greeting="beep", timeout_seconds=5,
        options=[{"digit": "1", "destination": "extension:201"}])
    add("inbound_route", name="main-line", did="5553000", destination="ivr:front")
    phones = live_with_carrier(pbx, carrier)
    phones.set_behaviour("201", "noanswer")

    # The IVR has answered the call, so the ringing of 201 cannot be signalled: Asterisk plays it.
    mark = phones.mark()
    phones.call("telco", "5553000", tag="ringback", dtmf="ww1", hold=10, record=True)
    phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=20)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "ringback", since=mark, timeout=30)
    heard = loud_seconds(phones.heard("ringback"), after=2.5)
    assert heard >= 1.5, f"the caller heard {heard:.1f} s of ringback while 201 rang (US: 2 s on, 4 s off)"

    # The zone follows the site's setting (DAHDI's analog ports use the same one), at the next apply.
    service.save_settings({"tone_zone": "de"}, "test")
    result = pbx.apply()
    assert "indications.conf" in result.changed
    log = (pbx.instance.log_dir / "messages.log").read_text()
    assert log.rstrip().rsplit("default indication country to", 1)[-1].startswith(" 'de'"), log[-2000:]


def _tone_runs(path, after: float) -> list[float]:
    """The lengths (s, in 100 ms windows) of the stretches of sound from ``after`` on, in a 16-bit mono WAV."""
    with wave.open(str(path)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    samples = memoryview(frames).cast("h")
    step = rate // 10
    runs, current = [], 0
    for i in range(int(after * 10), len(samples) // step):
        if max(abs(s) for s in samples[i * step:(i + 1) * step]) > 500:
            current += 1
        elif current:
            runs.append(current / 10)
            current = 0
    return runs + ([current / 10] if current else [])


def _energy(path, frequency: float, after: float) -> float:
    """The signal's energy at ``frequency`` (Goertzel) over the loud part after ``after`` s."""
    with wave.open(str(path)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    samples = [s for s in memoryview(frames).cast("h")[int(after * rate):]]
    loud = [s for i in range(0, len(samples), rate // 10)
            if max(map(abs, samples[i:i + rate // 10]), default=0) > 500 for s in samples[i:i + rate // 10]]
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    previous = before = 0.0
    for sample in loud:
        previous, before = sample + coefficient * previous - before, previous
    return previous * previous + before * before - coefficient * previous * before


def test_a_chinese_site_rings_back_with_chinas_tone(pbx, carrier):
    """A site made Chinese (language zh) gets the cn tone zone: its callers hear China's ringback, 450 Hz
    1 s on 4 s off (the US one is 440+480 Hz, 2 s on 4 s off), Asterisk's default country being cn."""
    service.save_settings({"language": "zh"}, "test")
    assert service.load_settings().tone_zone == "cn"
    add("extension", number="201", name="前台")
    add("ivr", name="front", greeting="beep", timeout_seconds=5,
        options=[{"digit": "1", "destination": "extension:201"}])
    add("inbound_route", name="main-line", did="5553000", destination="ivr:front")
    phones = live_with_carrier(pbx, carrier)
    log = (pbx.instance.log_dir / "messages.log").read_text()
    assert log.rstrip().rsplit("default indication country to", 1)[-1].startswith(" 'cn'"), log[-2000:]
    phones.set_behaviour("201", "noanswer")

    mark = phones.mark()
    phones.call("telco", "5553000", tag="cn-ringback", dtmf="ww1", hold=10, record=True)
    phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=20)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "cn-ringback", since=mark, timeout=30)
    heard = phones.heard("cn-ringback")
    runs = _tone_runs(heard, after=2.5)
    # the first and last bursts may be cut short (by the start of the recording and the hang-up), none is longer
    assert runs and 0.7 <= max(runs) <= 1.3, f"ringback bursts of {runs} s (China: 1 s on, 4 s off; US: 2 s on)"
    at_450, at_480 = _energy(heard, 450, 2.5), _energy(heard, 480, 2.5)
    assert at_450 > 10 * at_480, f"energy at 450 Hz {at_450:.3g}, at 480 Hz {at_480:.3g}: not China's 450 Hz tone"
