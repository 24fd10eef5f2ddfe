"""IVR greeting sounds: uploads converted with sox to 8 kHz mono, bad uploads refused, text spoken once."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

from appliance.errors import SiteError
from appliance.provisioning import sounds
from appliance.site import service


def tone(path: Path, rate: int = 44100, channels: int = 2, seconds: float = 1.5) -> bytes:
    """A 440 Hz tone made by sox, as a studio would hand over a greeting (44.1 kHz stereo)."""
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", str(channels), "-b", "16", str(path), "synth",
                    str(seconds), "sine", "440"], check=True)
    return path.read_bytes()


def test_an_uploaded_wav_is_converted_for_asterisk(tmp_path):
    data = tone(tmp_path / "studio.wav")
    made = sounds.import_upload(data, "Welcome Greeting.WAV", "welcome", tmp_path / "sounds")
    assert (made.name, made.seconds) == ("welcome", 1.5)
    with wave.open(str(tmp_path / "sounds" / "welcome.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (8000, 1, 2, 12000)
    assert (tmp_path / "sounds" / "welcome.sln").stat().st_size == 24000  # the same samples, raw
    assert [s.name for s in sounds.list_sounds(tmp_path / "sounds")] == ["welcome"]


def test_an_mp3_upload_is_converted_too(tmp_path):
    tone(tmp_path / "t.wav", rate=22050, channels=1)
    subprocess.run(["sox", str(tmp_path / "t.wav"), str(tmp_path / "t.mp3")], check=True)
    made = sounds.import_upload((tmp_path / "t.mp3").read_bytes(), "t.mp3", "hold-on", tmp_path / "sounds")
    assert made.name == "hold-on" and 1.4 <= made.seconds <= 1.6


@pytest.mark.parametrize("data,filename,name,message", [
    (b"this is a text file, not audio", "notes.wav", "notes", "not a sound file Linebox can read"),
    (b"RIFF....WAVEfmt ", "broken.wav", "broken", "not a sound file Linebox can read"),
    (b"\x00" * 100, "greeting.exe", "greeting", "'greeting.exe' is not a sound file Linebox accepts"),
    (b"", "empty.wav", "empty", "the upload is empty"),
    (b"RIFF", "ok.wav", "Bad Name", "name: use lowercase letters"),
])
def test_bad_uploads_are_refused_with_the_reason(tmp_path, data, filename, name, message):
    with pytest.raises(sounds.SoundError, match=message):
        sounds.import_upload(data, filename, name, tmp_path / "sounds")
    assert not list((tmp_path / "sounds").glob("*.wav")) if (tmp_path / "sounds").exists() else True


def test_a_silent_file_is_refused(tmp_path):
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", str(tmp_path / "none.wav"), "trim", "0", "0.01"],
                   check=True)
    with pytest.raises(sounds.SoundError, match="holds no sound"):
        sounds.import_upload((tmp_path / "none.wav").read_bytes(), "none.wav", "none", tmp_path / "sounds")


def test_a_greeting_text_is_spoken_once_per_text_and_voice(tmp_path):
    wav, fresh = sounds.render_tts("Hello, and welcome.", "en", tmp_path)
    assert fresh and wav.name == sounds.tts_name("Hello, and welcome.", "en") + ".wav"
    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1) and w.getnframes() > 8000
    stamp = wav.stat().st_mtime_ns
    assert sounds.render_tts("Hello, and welcome.", "en", tmp_path) == (wav, False)
    assert wav.stat().st_mtime_ns == stamp
    other, fresh = sounds.render_tts("Hello, and welcome.", "en-gb", tmp_path)
    assert fresh and other != wav
    # a text that looks like an option is spoken, not obeyed
    dashed, _ = sounds.render_tts("--help", "en", tmp_path)
    assert dashed.exists()


def test_the_dialplan_names_uploaded_and_spoken_greetings_by_path():
    assert sounds.playback_path("/s", "beep") == "beep"
    assert sounds.playback_path("/s", "custom/welcome") == "/s/welcome"
    assert sounds.playback_path("/s/", "beep", "Hi", "en") == "/s/" + sounds.tts_name("Hi", "en")


def test_an_ivr_needs_a_greeting_sound_or_text(install):
    with pytest.raises(SiteError) as raised:
        service.save_object("ivr", {"name": "main"}, user="t", create=True)
    assert [str(p) for p in raised.value.problems] == [
        "ivr.greeting_text: give the menu a greeting: a sound (greeting) or a text to speak (greeting_text)"]
    with pytest.raises(SiteError) as raised:  # a bad sound name is reported as bad, not as missing
        service.save_object("ivr", {"name": "main", "greeting": "Bad Name"}, user="t", create=True)
    assert [p.where for p in raised.value.problems] == ["ivr.greeting"]
    with pytest.raises(SiteError, match="greeting_text"):
        service.save_object("ivr", {"name": "main", "greeting_text": "line one\nline two"}, user="t", create=True)
    saved = service.save_object("ivr", {"name": "main", "greeting_text": "Welcome.", "greeting_voice": ""},
                                user="t", create=True)
    assert (saved.greeting, saved.greeting_voice) == ("", "en")
