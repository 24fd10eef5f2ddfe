"""Every sound Linebox plays by default exists in the sound sets Debian installs, in every language offered.

A missing sound is silent for the caller and only an ``File ... does not exist in any format`` line in
Asterisk's log (the IVR's invalid-key sound once was ``option-is-invalid``, which is in Asterisk's
*extra* sounds, not in Debian's ``asterisk-core-sounds-en``).  The names are collected from where
Linebox names them, not copied here: the sound fields' defaults in the site schemas (and the
database columns behind them), the sounds the dialplan templates play by name, and app_queue's own
announcements, which the queues Linebox writes turn on.  The sounds are looked for in the lab's forky
root file system, which has the packages the appliance installs; a real call then presses a wrong
key in an IVR and must hear the default invalid-key sound.
"""

from __future__ import annotations

import re
from pathlib import Path

import pydantic
import pytest
from pydantic import StringConstraints

import appliance.provisioning
from appliance.asterisk.layout import DEFAULT_DIRECTORIES
from appliance.model import models
from appliance.provisioning.prompts import in_root
from appliance.site import schemas
from tests.lab.helpers import add, live_with_carrier, loud_seconds

pytestmark = pytest.mark.lab

TEMPLATE_DIR = Path(appliance.provisioning.__file__).parent / "templates"
DATA_DIR = DEFAULT_DIRECTORIES["astdatadir"]  # Asterisk's data folder: sounds/<language>/, moh/

# The file formats Debian's Asterisk reads sounds in (a sound is NAME.<format>).
FORMATS = {"gsm", "ulaw", "alaw", "wav", "WAV", "wav49", "g722", "g729", "sln", "sln16", "siren7", "siren14", "ogg"}
# Dialplan applications whose arguments name sounds to play, and the argument that does.
PLAYING = {"Playback": 0, "Background": 0, "BackGround": 0, "ControlPlayback": 0, "Read": 1}
# Asterisk's own defaults (app_queue's) for the announcements queues.conf turns on: they are played
# by name although no Linebox file names them.
QUEUE_ANNOUNCEMENTS = ("queue-youarenext", "queue-thereare", "queue-callswaiting", "queue-holdtime",
                       "queue-minutes", "queue-minute", "queue-seconds", "queue-thankyou")


def _is_sound_field(field: pydantic.fields.FieldInfo) -> bool:
    return any(isinstance(m, StringConstraints) and m.pattern and schemas.SOUND_RE[1:-1] in m.pattern
               for m in field.metadata)


def schema_default_sounds() -> dict[str, str]:
    """``{where: sound}`` for every sound field with a default, in the schemas and the database."""
    found: dict[str, str] = {}
    for name, schema in vars(schemas).items():
        if not (isinstance(schema, type) and issubclass(schema, pydantic.BaseModel)):
            continue
        for field_name, field in schema.model_fields.items():
            if not _is_sound_field(field):
                continue
            if isinstance(field.default, str) and field.default:
                found[f"schemas.{name}.{field_name}"] = field.default
            table = getattr(models, name, None)
            column = table._meta.fields.get(field_name) if table is not None else None
            if column is not None and isinstance(column.default, str) and column.default:
                found[f"models.{name}.{field_name}"] = column.default
    return found


def _arguments(text: str, start: int) -> str:
    """The text between the parenthesis at ``start`` and the one that closes it."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i]
    raise AssertionError(f"unbalanced parentheses from: {text[start:start + 80]}")


def _names(argument: str) -> list[str]:
    """Sound names in one file argument: ``a&b``, and both branches of ``${IF(cond?a:b)}``."""
    choice = re.fullmatch(r"\$\{IF\(.*\?([^:?]*):([^:?]*)\)\}", argument)
    parts = [*choice.groups()] if choice else argument.split("&")
    return [p for p in parts if p and "${" not in p and "{{" not in p and "}}" not in p]


def template_sounds() -> list[tuple[str, str]]:
    """``(where, sound)`` for every sound a template plays by name (values from site objects are the
    schemas' business: ``{{ ... }}`` is skipped)."""
    found: list[tuple[str, str]] = []
    for template in sorted(TEMPLATE_DIR.glob("*.j2")):
        text = template.read_text()
        for match in re.finditer(r"\b(" + "|".join(PLAYING) + r")\(", text):
            arguments = _arguments(text, match.end() - 1)
            # split on the commas outside ${...}
            args, depth, current = [], 0, ""
            for ch in arguments:
                depth += {"{": 1, "}": -1}.get(ch, 0)
                if ch == "," and depth == 0:
                    args.append(current)
                    current = ""
                else:
                    current += ch
            args.append(current)
            index = PLAYING[match.group(1)]
            line = text.count("\n", 0, match.start()) + 1
            found += [(f"{template.name}:{line}", name)
                      for name in (_names(args[index].strip()) if index < len(args) else [])]
        if "announce-position" in text:
            found += [(f"{template.name}, app_queue's announcement", name) for name in QUEUE_ANNOUNCEMENTS]
    return found


def languages() -> tuple[str, ...]:
    """The languages whose whole sound set Debian ships (Mandarin prompts are Linebox's own: the prompt
    registry's tests and ``test_prompt_languages`` cover them; a sound missing there is Asterisk's English)."""
    return ("en",)


def test_the_collection_finds_the_sounds_it_must():
    """The collectors themselves: they find the IVR's default and the agent codes' sounds."""
    from_schemas = schema_default_sounds()
    assert from_schemas["schemas.Ivr.invalid_sound"] == from_schemas["models.Ivr.invalid_sound"]
    played = {sound for _, sound in template_sounds()}
    assert {"beep", "agent-loginok", "beeperr", "agent-loggedoff", "demo-echotest"} <= played, played
    assert languages() and "en" in languages()


def test_every_default_sound_exists_in_every_language(rootfs):
    wanted = [*schema_default_sounds().items(), *template_sounds()]
    missing = []
    for language in languages():
        folder = in_root(rootfs, f"{DATA_DIR}/sounds/{language}")
        assert folder.is_dir(), f"no sound set for language {language!r} in the lab root file system"
        available = {p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*")
                     if p.suffix[1:] in FORMATS}
        missing += [f"{language}: {sound} ({where})" for where, sound in wanted if sound not in available]
    assert not missing, "sounds Linebox plays that Debian's sound sets lack:\n" + "\n".join(missing)


def test_the_default_music_on_hold_has_music(rootfs):
    """The default class's folder (musiconhold.conf: ``directory = moh``, under Asterisk's data folder)."""
    text = (TEMPLATE_DIR / "musiconhold.conf.j2").read_text()
    directory = re.search(r"^\[default\]\n(?:.*\n)*?directory = (\S+)$", text, re.MULTILINE).group(1)
    folder = in_root(rootfs, directory if directory.startswith("/") else f"{DATA_DIR}/{directory}")
    assert [p for p in folder.iterdir() if p.suffix[1:] in FORMATS], f"no music in {folder}"


def test_a_caller_pressing_a_wrong_key_is_told_so(pbx, carrier):
    """The IVR's default invalid-key sound, played on a real call: heard, and no missing file logged."""
    add("extension", number="201", name="Front desk")
    add("ivr", name="front", greeting="beep", timeout_seconds=10, retries=1,
        options=[{"digit": "1", "destination": "extension:201"}])
    add("inbound_route", name="main-line", did="5553000", destination="ivr:front")
    phones = live_with_carrier(pbx, carrier)

    mark = phones.mark()
    phones.call("telco", "5553000", tag="wrong-key", dtmf="9", hold=8, record=True)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "wrong-key", since=mark, timeout=30)
    # the greeting is a 0.4 s beep, the key goes at 1 s: what follows is the invalid-key sound (and a beep)
    heard = loud_seconds(phones.heard("wrong-key"), after=1.5)
    log = (pbx.instance.log_dir / "messages.log").read_text()
    assert heard >= 1.5, f"after the wrong key the caller heard {heard:.1f} s of sound"
    assert "does not exist in any format" not in log, log[-2000:]
