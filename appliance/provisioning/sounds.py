"""Custom sounds for IVR greetings: uploaded files converted for Asterisk, and offline text-to-speech.

Asterisk plays 8 kHz mono 16-bit audio without transcoding; anything else
(44.1 kHz stereo WAV, MP3, OGG, ...) is converted once with sox when it is
uploaded, so no call ever pays for it.  Each sound is kept as ``NAME.wav``
(8 kHz mono WAV, for playback in a browser) and ``NAME.sln`` (the same
samples raw, Asterisk's native format).

A greeting may also be a text, spoken by Debian's ``espeak-ng``: the file is
named after a hash of the text and voice (``tts-<hash>``), so changing the
text makes a new file, and applying twice renders nothing twice.  Everything
runs on the box, with no network.

Sounds live in the install's sounds folder (``Install.sounds_dir``), which the
generated dialplan names by absolute path: ``custom/NAME`` in an IVR greeting
is the uploaded sound NAME there.

It lives with provisioning because it makes files Asterisk reads, as the
renderer does: apply speaks the greetings before the dialplan names them, and
the renderer asks it for each greeting's path.  The console's sounds page
(uploads, deletions) is a thin layer over it from above.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from appliance.catalog import N_
from appliance.errors import Message

CUSTOM_PREFIX = "custom/"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
UPLOAD_SUFFIXES = (".wav", ".mp3", ".ogg", ".oga", ".flac", ".aiff", ".aif", ".au", ".gsm")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_SECONDS = 600
RATE = 8000
VOICES = ("en", "en-us", "en-gb", "fr", "de", "es", "it", "nl", "pt", "cmn", "yue")  # cmn Mandarin, yue Cantonese
# sox's output: 8 kHz, one channel, 16-bit signed samples (Asterisk's "slin")
SLIN = ["-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer"]


class SoundError(ValueError):
    """A sound that cannot be used, with a message for the person who tried."""


@dataclass(frozen=True)
class Sound:
    name: str
    seconds: float
    size: int


def tts_name(text: str, voice: str) -> str:
    """The file name (without extension) of a spoken text: changes whenever the text or voice does."""
    digest = hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()[:16]
    return f"tts-{digest}"


def playback_path(sounds_dir: str, greeting: str, text: str = "", voice: str = "en") -> str:
    """What the dialplan's Background()/Playback() gets for a greeting: Asterisk's own sound name,
    or the absolute path (no extension) of an uploaded or spoken sound in the sounds folder."""
    if text:
        return f"{sounds_dir.rstrip('/')}/{tts_name(text, voice)}"
    if greeting.startswith(CUSTOM_PREFIX):
        return f"{sounds_dir.rstrip('/')}/{greeting[len(CUSTOM_PREFIX):]}"
    return greeting


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SoundError(Message(N_("%(name)s is not installed on this system (Debian package '%(name)s')"),
                                 name=name))
    return path


def _seconds(file: Path) -> float:
    with wave.open(str(file)) as w:
        return w.getnframes() / float(w.getframerate())


def _write_pair(source: Path, folder: Path, name: str, max_seconds: int = MAX_SECONDS) -> Sound:
    """Convert ``source`` with sox into NAME.wav and NAME.sln in ``folder``, replacing them atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    sox = _tool("sox")
    with tempfile.TemporaryDirectory(dir=folder, prefix=".convert-") as tmp:
        wav, sln = Path(tmp) / f"{name}.wav", Path(tmp) / f"{name}.sln"
        done = subprocess.run([sox, "-V1", str(source), *SLIN, str(wav)], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise SoundError(Message(N_("not a sound file Linebox can read (WAV, MP3, OGG, FLAC): %(detail)s"),
                                     detail=detail))
        seconds = _seconds(wav)
        if seconds < 0.1:
            raise SoundError(Message(N_("the file holds no sound")))
        if seconds > max_seconds:
            raise SoundError(Message(N_("the sound lasts %(seconds)s s; it may last at most %(max)s s"),
                                     seconds=f"{seconds:.0f}", max=max_seconds))
        subprocess.run([sox, "-V1", str(wav), "-t", "raw", *SLIN, str(sln)], check=True, capture_output=True,
                       timeout=120)
        for file in (wav, sln):
            file.chmod(0o644)  # Asterisk runs as its own user and must read it
            os.replace(file, folder / file.name)
    return Sound(name, round(seconds, 1), (folder / f"{name}.wav").stat().st_size)


def convert(source: Path, folder: Path, name: str, max_seconds: int) -> Sound:
    """A sound file in any format sox reads as NAME.wav and NAME.sln in ``folder`` (the prompts' recordings)."""
    return _write_pair(source, folder, name, max_seconds)


def not_accepted(filename: str | None) -> Message:
    """An upload refused by its file's name (the sounds' and the prompts' uploads say it alike)."""
    return Message(N_("file: '%(file)s' is not a sound file Linebox accepts (%(kinds)s)"), file=filename,
                   kinds=", ".join(s[1:].upper() for s in UPLOAD_SUFFIXES))


def too_large() -> Message:
    """An upload refused by its size."""
    return Message(N_("file: larger than %(size)s MB"), size=MAX_UPLOAD_BYTES // (1024 * 1024))


def import_upload(data: bytes, filename: str | None, name: str, folder: Path) -> Sound:
    """Store an uploaded sound as ``custom/NAME``: checked, converted to 8 kHz mono, ready to play."""
    if not NAME_RE.match(name):
        raise SoundError(Message(N_("name: use lowercase letters, digits, '-' and '_' (at most 40), starting with "
                                    "a letter or digit")))
    suffix = Path(filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise SoundError(not_accepted(filename))
    if not data:
        raise SoundError(Message(N_("file: the upload is empty")))
    if len(data) > MAX_UPLOAD_BYTES:
        raise SoundError(too_large())
    with tempfile.NamedTemporaryFile(suffix=suffix) as upload:
        upload.write(data)
        upload.flush()
        return _write_pair(Path(upload.name), folder, name)


def render_tts(text: str, voice: str, folder: Path) -> tuple[Path, bool]:
    """Speak ``text`` into the sounds folder unless that exact text and voice is there already.

    Returns the WAV file and whether it was rendered now (False: the cached file was reused)."""
    if voice not in VOICES:
        raise SoundError(Message(N_("voice: '%(voice)s' is not one of %(voices)s"), voice=voice,
                                 voices=", ".join(VOICES)))
    name = tts_name(text, voice)
    wav = folder / f"{name}.wav"
    if wav.exists() and (folder / f"{name}.sln").exists():
        return wav, False
    espeak = _tool("espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        spoken = Path(tmp) / "spoken.wav"
        # the text goes on stdin: nothing in it can be taken for an option
        done = subprocess.run([espeak, "-v", voice, "-w", str(spoken), "--stdin"], input=text, text=True,
                              capture_output=True, timeout=120)
        if done.returncode != 0 or not spoken.exists():
            raise SoundError(Message(N_("espeak-ng could not speak the greeting: %(error)s"),
                                     error=done.stderr.strip()[-200:]))
        _write_pair(spoken, folder, name)
    return wav, True


def list_sounds(folder: Path) -> list[Sound]:
    """Uploaded sounds (spoken greetings are not listed: they belong to their IVR)."""
    found = []
    for file in sorted(folder.glob("*.wav")) if folder.exists() else []:
        if file.stem.startswith("tts-") or not NAME_RE.match(file.stem):
            continue
        try:
            found.append(Sound(file.stem, round(_seconds(file), 1), file.stat().st_size))
        except (wave.Error, EOFError, OSError):
            continue
    return found


def delete(folder: Path, name: str) -> bool:
    if not NAME_RE.match(name):
        return False
    removed = False
    for suffix in (".wav", ".sln"):
        file = folder / f"{name}{suffix}"
        if file.exists():
            file.unlink()
            removed = True
    return removed


def needed(ivrs: list, robots: list | tuple = ()) -> bool:
    """Whether any IVR greets with a spoken text or an uploaded sound, or a voice robot answers (the apply
    then prepares them)."""
    return bool(robots) or any(ivr.greeting_text or ivr.greeting.startswith(CUSTOM_PREFIX) for ivr in ivrs)


def uploaded_slin(folder: Path, sound: str) -> bytes:
    """The samples of the uploaded sound ``custom/NAME``: its ``.sln``, 8 kHz 16-bit mono as the upload
    converted it, which a voice robot sends to the caller as they are."""
    try:
        return (folder / f"{sound[len(CUSTOM_PREFIX):]}.sln").read_bytes()
    except OSError:
        raise SoundError(Message(N_("%(sound)s is not an uploaded sound (upload it on the Sounds page)"),
                                 sound=sound)) from None


def prepare_robots(robots: list, folder: Path, voices: dict[str, str], extra: dict[str, str]) -> list[str]:
    """Speak every voice robot's answers (and ``extra``, its fixed sentences by language) not spoken yet, so
    the first caller to ask does not wait for espeak-ng; ``voices``: the espeak-ng voice of each language.
    An answer that is an uploaded recording must be there: a robot never answers with silence."""
    notes: list[str] = []
    for robot in robots:
        texts = [extra[robot.language]]
        for number, entry in enumerate(robot.entries, 1):
            if not entry.answer_sound:
                texts.append(entry.answer)
                continue
            try:
                uploaded_slin(folder, entry.answer_sound)
            except SoundError as error:
                raise SoundError(Message(N_("voice robot %(name)s, entry %(entry)s: %(error)s"), name=robot.name,
                                         entry=number, error=error.args[0])) from None
        for text in texts:
            try:
                wav, fresh = render_tts(text, voices[robot.language], folder)
            except SoundError as error:
                raise SoundError(Message(N_("voice robot %(name)s: %(error)s"), name=robot.name,
                                         error=error.args[0])) from None
            if fresh:
                notes.append(Message(N_("spoke voice robot %(name)s answer into %(file)s"), name=robot.name,
                                     file=wav.name))
    return notes


def prepare_for_site(ivrs: list, folder: Path) -> list[str]:
    """Before an apply: speak every IVR greeting text not rendered yet, and look for uploaded greetings.

    Returns notes for the apply's step (what was spoken, which uploaded greeting is missing: Asterisk
    then plays nothing and the menu still works); raises SoundError, naming the IVR, when a text
    cannot be spoken."""
    notes: list[str] = []
    for ivr in ivrs:
        if ivr.greeting_text:
            try:
                wav, fresh = render_tts(ivr.greeting_text, ivr.greeting_voice, folder)
            except SoundError as error:
                raise SoundError(Message(N_("IVR %(name)s: %(error)s"), name=ivr.name, error=error.args[0])) from None
            if fresh:
                notes.append(Message(N_("spoke IVR %(name)s greeting into %(file)s"), name=ivr.name, file=wav.name))
        elif ivr.greeting.startswith(CUSTOM_PREFIX):
            name = ivr.greeting[len(CUSTOM_PREFIX):]
            if not (folder / f"{name}.wav").exists():
                notes.append(Message(N_("warning: IVR %(name)s: %(sound)s has not been uploaded (Sounds page); "
                                        "callers hear no greeting"), name=ivr.name, sound=ivr.greeting))
    return notes
