"""Small helpers shared by the lab tests."""

from __future__ import annotations

import math
import time
import wave

from appliance.site import service


def add(kind: str, **data):
    """Store one site object as the test user (the same service call the CLI and console make)."""
    return service.save_object(kind, data, user="test", create=True)


def update(kind: str, key: str, **changes):
    current = service.get_object(kind, key)
    assert current is not None, f"{kind} {key} missing"
    return service.save_object(kind, {**current.model_dump(), **changes}, user="test", original_key=key)


def add_carrier_trunk(phones, name: str = "telco") -> None:
    """The pbx's trunk to the carrier's telco line, identified by that line's address and port."""
    add("trunk", name=name, host="127.0.0.1", port=phones.telco_port, match=[f"127.0.0.1:{phones.telco_port}"])


def live_with_carrier(pbx, carrier):
    """Apply the site, start the carrier (it registers every extension), add its trunk, apply again: the phones."""
    pbx.apply()
    phones = carrier()
    add_carrier_trunk(phones)
    pbx.apply()
    return phones


def collect_until(sources, check, what: str = "", timeout: float = 30):
    """Collect (as the collector service does, from ``sources``) until ``check()`` answers something true, and
    return that answer; after ``timeout`` seconds return the last answer, or fail naming ``what`` if given."""
    from appliance.callcenter import collector
    deadline = time.monotonic() + timeout
    while True:
        collector.collect_once(sources)
        found = check()
        if found or time.monotonic() > deadline:
            assert found or not what, f"not seen within {timeout} s: {what}"
            return found
        time.sleep(0.3)


def loud_seconds(path, after: float) -> float:
    """Seconds (in 100 ms windows) of sound louder than line noise in a 16-bit mono WAV, from ``after`` on."""
    with wave.open(str(path)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    samples = memoryview(frames).cast("h")
    step = rate // 10
    windows = range(int(after * 10), len(samples) // step)
    return sum(0.1 for i in windows if max(abs(s) for s in samples[i * step:(i + 1) * step]) > 500)


def tone_seconds(path, frequency: float, after: float = 0.0, share: float = 0.8) -> float:
    """Seconds (in 100 ms windows) from ``after`` on in which a 16-bit mono WAV carries a tone of
    ``frequency`` Hz louder than line noise and making most of the window's energy (Goertzel): which
    party's tone a phone heard, when each phone plays its own (``share``: of the window's energy; lower it
    where several tones are mixed, as in a conference)."""
    with wave.open(str(path)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    samples = memoryview(frames).cast("h")
    step = rate // 10
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    seconds = 0.0
    for i in range(int(after * 10), len(samples) // step):
        window = samples[i * step:(i + 1) * step]
        if max(abs(s) for s in window) <= 500:
            continue
        s1 = s2 = 0.0
        for sample in window:
            s1, s2 = sample + coefficient * s1 - s2, s1
        tone_power = (s1 * s1 + s2 * s2 - coefficient * s1 * s2) * 2 / len(window)
        energy = sum(float(s) * s for s in window)
        seconds += 0.1 if tone_power > share * energy else 0.0
    return seconds
