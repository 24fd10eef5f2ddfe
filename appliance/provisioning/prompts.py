"""The prompt registry: every sound Linebox's features play to callers, in English and Mandarin.

Debian ships no Chinese sound set for Asterisk, so the Mandarin prompts are spoken by Debian's
``espeak-ng`` (voice ``cmn``) from the texts below, at install time and by the apply that first needs
them, into Asterisk's ``zh`` language folder (``<astdatadir>/sounds/zh``): a channel whose
``CHANNEL(language)`` is ``zh`` then hears them wherever Asterisk plays a sound by name (queue
announcements, ``SayNumber``, voicemail, the IVR's invalid-key sound).  English is Debian's own
recorded set; only the prompts Asterisk lacks (``linebox/...``) are spoken in English too.

Speaking is cached machine-wide (``/var/cache/linebox/prompts``, never in the repository) under a hash
of the text and voice, so a second install, a lab instance or ``make run`` copies instead of speaking.
Each language folder holds a manifest (``linebox-prompts.json``: name, text, hash, source) of the files
Linebox wrote there: a prompt whose text changed has a new hash and is spoken again, and the files
Debian's packages own are never touched (a replaced English prompt is a ``NAME.sln`` beside Debian's
``NAME.gsm``, which Asterisk prefers on a telephone channel, and reverting deletes only that).

An admin may replace any prompt, per language, with a recording (a company's own voice): kept in the
install's sounds folder (``prompts/<language>/<name>``, backed up with the other sounds) and copied
over the generated one by every install; reverting deletes the recording and the generated one is back.

The numbers follow Asterisk's own Chinese number saying (``ast_say_number_full_zh`` in ``main/say.c``):
12300 plays ``digits/1 digits/wan digits/2 digits/thousand digits/3 digits/hundred`` (一 万 二 千 三 百),
so those are exactly the digit files made here.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from appliance.catalog import N_
from appliance.errors import Message
from appliance.model import audit
from appliance.provisioning import sounds

LANGUAGES = ("en", "zh")
LANGUAGE_NAMES = {"en": "English", "zh": "中文 (普通话)"}
VOICES = {"en": "en", "zh": "cmn"}  # the espeak-ng voice each language's generated prompts are spoken with
MANIFEST = "linebox-prompts.json"
MAX_PROMPT_SECONDS = 120  # a recording replacing a prompt: long enough for any announcement


def default_cache() -> Path:
    """The machine's cache of spoken prompts ($LINEBOX_PROMPT_CACHE for a test's own)."""
    return Path(os.environ.get("LINEBOX_PROMPT_CACHE", "/var/cache/linebox/prompts"))


@dataclass(frozen=True)
class Prompt:
    """One sound played to callers: its Asterisk name (``digits/5``), what says it, its texts."""

    name: str
    used_by: str
    en: str
    zh: str
    in_debian: bool = True  # Debian's English sound set has it (otherwise the English one is spoken too)


def _p(name: str, used_by: str, en: str, zh: str, in_debian: bool = True) -> Prompt:
    return Prompt(name, used_by, en, zh, in_debian)


_DIGITS = "零一二三四五六七八九"
_EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

REGISTRY: tuple[Prompt, ...] = (
    # queues (queues.conf turns on position and hold-time announcements; app_queue's own sound names)
    _p("queue-youarenext", "queue position", "You are now first in line.", "您是下一位，请稍候。"),
    _p("queue-thereare", "queue position", "You are currently caller number", "您现在排在第"),
    _p("queue-callswaiting", "queue position", "waiting to speak to a representative.", "位，请耐心等候。"),
    _p("queue-holdtime", "queue wait time", "The estimated hold time is currently", "预计等待时间约为"),
    _p("queue-minutes", "queue wait time", "minutes", "分钟"),
    _p("queue-minute", "queue wait time", "minute", "分钟"),
    _p("queue-seconds", "queue wait time", "seconds", "秒"),
    _p("queue-thankyou", "queue announcements", "Thank you for your patience.", "感谢您的耐心等待。"),
    _p("queue-reporthold", "queue announcements", "Hold time", "等待时间"),
    _p("linebox/all-agents-busy", "queues", "All our agents are busy. Please call again later.",
       "所有坐席都在忙，请稍后再拨。", in_debian=False),
    _p("linebox/callback-offer", "queue callback", "To be called back without losing your place in line, "
       "press 1.", "如需回电并保留您的排队位置，请按1。", in_debian=False),
    _p("linebox/callback-accepted", "queue callback", "Thank you. We will call you back at this number when "
       "it is your turn. You may hang up now.", "谢谢。轮到您时，我们会回拨这个号码。您现在可以挂机。",
       in_debian=False),
    _p("linebox/callback-unavailable", "queue callback", "Sorry, we cannot call this number back. Please "
       "stay on the line.", "抱歉，我们无法回拨这个号码，请不要挂机。", in_debian=False),
    _p("linebox/survey-rate", "queue survey", "Please rate the call you just had. Press 1 for very poor, up to 5 "
       "for excellent.", "请为刚才的服务评分：非常不满意请按1，非常满意请按5。", in_debian=False),
    _p("linebox/survey-thanks", "queue survey", "Thank you for your rating. Goodbye.", "感谢您的评价，再见。",
       in_debian=False),
    # IVR menus
    _p("invalid", "IVR wrong key", "That's not valid, try again.", "输入无效，请重新输入。"),
    _p("linebox/no-input", "IVR no key", "We did not receive your choice.", "我们没有收到您的选择。",
       in_debian=False),
    _p("linebox/call-refused", "refused calls", "Your call cannot be completed.", "您的呼叫无法接通。",
       in_debian=False),
    # agents' feature codes and the echo test
    _p("agent-loginok", "agent login", "Agent logged in.", "坐席已登录。"),
    _p("agent-loggedoff", "agent logout", "Agent logged off.", "坐席已退出。"),
    _p("demo-echotest", "echo test", "This is the echo test. What you say is played back to you.",
       "这是回声测试，您说的话会播放给您听。"),
    # voicemail (leaving a message, and the mailbox menu's first words)
    _p("vm-intro", "voicemail", "Please leave your message after the tone. When done, hang up, or press the "
       "pound key.", "请在提示音后留言，留言完毕请挂机或按井号键。"),
    _p("vm-theperson", "voicemail", "The person at extension", "您拨打的分机"),
    _p("vm-isunavail", "voicemail", "is unavailable.", "暂时无人接听。"),
    _p("vm-isonphone", "voicemail", "is on the phone.", "正在通话中。"),
    _p("vm-goodbye", "voicemail", "Goodbye.", "再见。"),
    _p("vm-login", "voicemail", "Comedian Mail. Mailbox?", "请输入您的信箱号码。"),
    _p("vm-password", "voicemail", "Password.", "请输入密码。"),
    _p("vm-incorrect", "voicemail", "Login incorrect.", "登录错误。"),
    _p("vm-youhave", "voicemail", "You have", "您有"),
    _p("vm-messages", "voicemail", "messages.", "条留言。"),
    _p("vm-message", "voicemail", "message.", "条留言。"),
    _p("vm-no", "voicemail", "no", "没有"),
    _p("vm-INBOX", "voicemail", "new", "新"),
    _p("vm-Old", "voicemail", "old", "旧"),
    _p("vm-and", "voicemail", "and", "和"),
    # numbers and digits: exactly the files Asterisk's Chinese number saying plays (main/say.c)
    *(_p(f"digits/{n}", "numbers", _EN_DIGITS[n], _DIGITS[n]) for n in range(10)),
    _p("digits/10", "numbers", "ten", "十"),
    *(_p(f"digits/{n}0", "numbers", f"{_EN_DIGITS[n]}ty", f"{_DIGITS[n]}十") for n in range(2, 10)),
    _p("digits/hundred", "numbers", "hundred", "百"),
    _p("digits/thousand", "numbers", "thousand", "千"),
    # said only in Chinese grouping: English never plays them, so no English file is made
    _p("digits/wan", "numbers", "ten thousand", "万"),
    _p("digits/yi", "numbers", "hundred million", "亿"),
    _p("digits/minus", "numbers", "minus", "负"),
)

BY_NAME = {p.name: p for p in REGISTRY}


@dataclass(frozen=True)
class Place:
    """Where one install's prompts go: Asterisk's root (``/`` on a box, the lab's root file system), its
    sounds folder as Asterisk sees it, and the admin's recordings folder on this host."""

    root: Path
    sounds: str  # e.g. /usr/share/asterisk/sounds
    recordings: Path | None

    def folder(self, language: str) -> Path:
        return in_root(self.root, f"{self.sounds.rstrip('/')}/{language}")


class PromptError(ValueError):
    """A prompt change that cannot be made, with a message naming the field."""


@dataclass(frozen=True)
class PromptState:
    """What callers hear for one prompt in one language, for the console and the CLI."""

    prompt: Prompt
    language: str
    text: str
    source: str  # "generated", "recording" (the admin's), "asterisk" (Debian's own English sound)


def text_of(prompt: Prompt, language: str) -> str:
    return prompt.zh if language == "zh" else prompt.en


def generated(prompt: Prompt, language: str) -> bool:
    """Whether Linebox speaks this prompt in this language (else it is Debian's recorded one)."""
    return language != "en" or not prompt.in_debian


def text_hash(text: str, language: str) -> str:
    """The cache key of a spoken text: the same as the greetings' (appliance.provisioning.sounds)."""
    return sounds.tts_name(text, VOICES[language])[len("tts-"):]


def in_root(root: Path, path: str) -> Path:
    """``path`` as the processes under ``root`` see it, on this host: absolute links resolve inside
    ``root`` (Debian's ``sounds/en`` is a link through /etc/alternatives, which in the lab is the root
    file system's, not the development machine's)."""
    current = root
    parts = list(Path(path).parts[1:])
    for _ in range(200):
        if not parts:
            return current
        candidate = current / parts.pop(0)
        if candidate.is_symlink():
            target = Path(os.readlink(candidate))
            parts = [*target.parts[1:], *parts] if target.is_absolute() else [*target.parts, *parts]
            current = root if target.is_absolute() else current
        else:
            current = candidate
    raise PromptError(Message(N_("too many links resolving %(path)s"), path=path))


def _check(name: str, language: str) -> Prompt:
    if language not in LANGUAGES:
        raise PromptError(Message(N_("language: %(language)r is not a prompt language (%(languages)s)"),
                                  language=language, languages=", ".join(LANGUAGES)))
    prompt = BY_NAME.get(name)
    if prompt is None:
        raise PromptError(Message(N_("prompt: %(name)r is not a Linebox prompt (linebox prompts list)"), name=name))
    return prompt


def _read_manifest(folder: Path) -> dict[str, dict]:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".prompt-", delete=False) as tmp:
        tmp.write(data)
    os.chmod(tmp.name, 0o644)  # Asterisk runs as its own user and must read it
    os.replace(tmp.name, path)


def recording_path(overrides: Path, name: str, language: str) -> Path:
    """The admin's recording of a prompt (``NAME.sln``; ``NAME.wav`` beside it for the console)."""
    return overrides / language / f"{name}.sln"


def _expected_entry(prompt: Prompt, language: str, overrides: Path | None) -> dict | None:
    """The manifest entry ``prompt`` must have in ``language``'s folder: the admin's recording, else the
    generated one; None where Debian's own recording plays."""
    recording = recording_path(overrides, prompt.name, language) if overrides is not None else None
    if recording is not None and recording.exists():
        return {"text": "", "hash": hashlib.sha256(recording.read_bytes()).hexdigest()[:16], "source": "recording"}
    if generated(prompt, language):
        text = text_of(prompt, language)
        return {"text": text, "hash": text_hash(text, language), "source": "generated"}
    return None


def install_language(language: str, place: Place, cache: Path | None = None,
                     registry: tuple[Prompt, ...] = REGISTRY) -> list[str]:
    """Make Asterisk's folder of ``language`` hold every prompt of the registry callers should hear:
    the admin's recording, else the generated one (spoken now only if its text is not cached yet).

    Returns notes (what changed)."""
    overrides = place.recordings
    folder = place.folder(language)
    folder.mkdir(parents=True, exist_ok=True)
    before = _read_manifest(folder)
    # entries of prompts not looked at now are kept (one prompt replaced); those gone from Linebox dropped
    after: dict[str, dict] = {name: entry for name, entry in before.items() if name in BY_NAME}
    spoken, copied = 0, 0
    for prompt in registry:
        target = folder / f"{prompt.name}.sln"
        entry = _expected_entry(prompt, language, overrides)
        if entry is None:  # Debian's own recording: remove a file Linebox put beside it (a reverted recording)
            if after.pop(prompt.name, None) is not None and target.exists():
                target.unlink()
                copied += 1
            continue
        if before.get(prompt.name) == entry and target.exists():
            after[prompt.name] = entry
            continue
        if entry["source"] == "recording" and overrides is not None:
            data = recording_path(overrides, prompt.name, language).read_bytes()
        else:
            try:
                wav, fresh = sounds.render_tts(entry["text"], VOICES[language], cache or default_cache())
            except sounds.SoundError as error:
                raise PromptError(Message(N_("prompt %(name)s (%(language)s): %(error)s"), name=prompt.name,
                                          language=language, error=error.args[0])) from None
            spoken += fresh
            data = wav.with_suffix(".sln").read_bytes()
        after[prompt.name] = entry
        if before.get(prompt.name) != entry or not target.exists():
            _write_atomic(target, data)
            copied += 1
    for name in set(before) - set(BY_NAME):  # prompts Linebox no longer has
        (folder / f"{name}.sln").unlink(missing_ok=True)
    if after != before:
        _write_atomic(folder / MANIFEST, (json.dumps(after, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
                      .encode())
    if not copied:
        return []
    return [Message(N_("%(language)s: %(count)s prompts installed (%(spoken)s spoken now, the rest from the cache)"),
                    language=language, count=copied, spoken=spoken)]


def up_to_date(place: Place, languages: tuple[str, ...]) -> bool:
    """Whether every prompt of ``languages`` is in place as ``install`` would leave it (its manifest entry
    and file there, no recording newer than it): the apply then shows no prompts step."""
    for language in languages:
        folder = place.folder(language)
        manifest = _read_manifest(folder)
        for prompt in REGISTRY:
            expected = _expected_entry(prompt, language, place.recordings)
            if expected is None:
                if prompt.name in manifest:
                    return False  # a reverted recording's file is still beside Debian's
            elif manifest.get(prompt.name) != expected or not (folder / f"{prompt.name}.sln").exists():
                return False
    return True


def install(place: Place, languages: tuple[str, ...] = LANGUAGES, cache: Path | None = None) -> list[str]:
    """Every language's prompts (``linebox prompts generate``, the install, and apply when a site uses them)."""
    notes: list[str] = []
    for language in languages:
        notes += install_language(language, place, cache)
    return notes


def languages_used(settings, ivrs: list, queues: list) -> tuple[str, ...]:
    """The prompt languages a site's callers may hear (the apply installs those).

    English is one of them on every site whose callers hear English: Debian's recorded set lacks Linebox's
    own prompts (``linebox/call-refused``, ``linebox/all-agents-busy``, the callback and survey prompts), so
    an English-only site needs them spoken too, or a refused call or a full queue would play nothing."""
    used = {settings.prompt_language} | {i.language for i in ivrs} | {q.language for q in queues}
    used |= {o.language for i in ivrs for o in i.options}
    return tuple(sorted(used - {""})) or ("en",)


def recorded_languages(place: Place) -> tuple[str, ...]:
    """The languages the admin replaced a prompt in (the apply puts those recordings in place)."""
    folder = place.recordings
    return tuple(lang for lang in LANGUAGES if folder is not None and (folder / lang).is_dir()
                 and any((folder / lang).rglob("*.sln")))


def states(overrides: Path) -> list[PromptState]:
    """Every prompt in every language, with what callers hear now (for the console, API and CLI)."""
    found = []
    for language in LANGUAGES:
        for prompt in REGISTRY:
            if recording_path(overrides, prompt.name, language).exists():
                source = "recording"
            else:
                source = "generated" if generated(prompt, language) else "asterisk"
            found.append(PromptState(prompt, language, text_of(prompt, language), source))
    return found


def replace(name: str, language: str, data: bytes, filename: str | None, place: Place,
            cache: Path | None = None) -> sounds.Sound:
    """Replace prompt ``name`` in ``language`` by an uploaded recording: checked (a sound file sox reads,
    at most MAX_PROMPT_SECONDS), converted to 8 kHz mono, kept, and put where Asterisk plays it now."""
    _check(name, language)
    assert place.recordings is not None
    suffix = Path(filename or "").suffix.lower()
    if suffix not in sounds.UPLOAD_SUFFIXES:
        raise PromptError(sounds.not_accepted(filename))
    if not data:
        raise PromptError(Message(N_("file: the upload is empty")))
    if len(data) > sounds.MAX_UPLOAD_BYTES:
        raise PromptError(sounds.too_large())
    target = recording_path(place.recordings, name, language)
    with tempfile.NamedTemporaryFile(suffix=suffix) as upload:
        upload.write(data)
        upload.flush()
        try:
            made = sounds.convert(Path(upload.name), target.parent, Path(name).name, MAX_PROMPT_SECONDS)
        except sounds.SoundError as error:
            raise PromptError(Message(N_("file: %(error)s"), error=error.args[0])) from None
    try:
        install_language(language, place, cache, registry=(BY_NAME[name],))
    except OSError as error:  # e.g. Debian's English folder not writable by this user
        raise PromptError(Message(N_("language: cannot put the recording in Asterisk's %(language)s folder "
                                     "(%(error)s: %(file)s)"), language=language, error=error.strerror,
                                  file=error.filename)) from None
    return made


def revert(name: str, language: str, place: Place, cache: Path | None = None) -> bool:
    """Drop the admin's recording of a prompt: the generated one (or Debian's) is played again.
    Returns whether there was a recording."""
    _check(name, language)
    assert place.recordings is not None
    recording = recording_path(place.recordings, name, language)
    if not recording.exists():
        return False  # nothing to revert: nothing is written
    recording.unlink()
    recording.with_suffix(".wav").unlink(missing_ok=True)
    install_language(language, place, cache, registry=(BY_NAME[name],))
    return True



def replace_recorded(name: str, language: str, data: bytes, filename: str | None, place: Place, actor: str,
                     cache: Path | None = None) -> sounds.Sound:
    """``replace``, recorded in the audit log as the console, API and CLI's one way to replace a prompt."""
    made = replace(name, language, data, filename, place, cache)
    audit.record(actor, "upload", "prompt", f"{language}/{name}", None,
                 {"prompt": name, "language": language, "seconds": made.seconds, "from": filename or ""})
    return made


def revert_recorded(name: str, language: str, place: Place, actor: str, cache: Path | None = None) -> bool:
    """``revert``, recorded in the audit log when there was a recording to drop."""
    existed = revert(name, language, place, cache)
    if existed:
        audit.record(actor, "delete", "prompt", f"{language}/{name}", {"prompt": name, "language": language,
                                                                        "source": "recording"}, None)
    return existed
