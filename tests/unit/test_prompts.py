"""The prompt registry: Mandarin prompts spoken once per text, a changed text spoken again, the admin's
recordings replacing a prompt and reverting to the generated one, and Debian's English files untouched.

Real espeak-ng and sox, real files; the cache is the test's own (about 5 s cold for every prompt)."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from appliance.provisioning import projection, prompts
from appliance.site import schemas


@pytest.fixture
def place(tmp_path) -> prompts.Place:
    root = tmp_path / "root"
    # Debian's layout: sounds/en is an absolute link (through /etc/alternatives) inside the root
    (root / "usr/share/asterisk/sounds/en_US_f_Allison").mkdir(parents=True)
    (root / "usr/share/asterisk/sounds/en_US_f_Allison/invalid.gsm").write_bytes(b"debian's own")
    (root / "etc/alternatives").mkdir(parents=True)
    (root / "etc/alternatives/asterisk-prompt-en").symlink_to("/usr/share/asterisk/sounds/en_US_f_Allison")
    (root / "usr/share/asterisk/sounds/en").symlink_to("/etc/alternatives/asterisk-prompt-en")
    return prompts.Place(root, "/usr/share/asterisk/sounds", tmp_path / "recordings")


def _tone(path: Path, seconds: float, rate: int = 44100, channels: int = 2) -> Path:
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", str(channels), str(path), "synth", str(seconds),
                    "sine", "440"], check=True)
    return path


def test_the_registry_covers_what_asterisk_plays_in_chinese():
    names = set(prompts.BY_NAME)
    # app_queue's announcements, the IVR's invalid key, voicemail, and main/say.c's Chinese number files
    assert {"queue-thereare", "queue-callswaiting", "queue-youarenext", "queue-holdtime", "invalid",
            "vm-intro", "linebox/all-agents-busy"} <= names
    assert {f"digits/{n}" for n in range(10)} | {"digits/wan", "digits/yi", "digits/thousand",
                                                  "digits/hundred"} <= names
    assert all(p.zh and p.en for p in prompts.REGISTRY)
    assert len(names) == len(prompts.REGISTRY)
    # every name is one the dialplan may play without escaping
    assert all(re.fullmatch(schemas.SOUND_RE, p.name.lower()) for p in prompts.REGISTRY)


def test_mandarin_prompts_are_spoken_into_the_zh_folder_with_a_manifest(place, tmp_path):
    cache = tmp_path / "cache"
    notes = prompts.install(place, ("zh",), cache)
    folder = place.folder("zh")
    assert notes and folder == place.root / "usr/share/asterisk/sounds/zh"
    manifest = json.loads((folder / prompts.MANIFEST).read_text())
    assert set(manifest) == set(prompts.BY_NAME)
    entry = manifest["queue-thereare"]
    assert entry == {"text": "您现在排在第", "hash": prompts.text_hash("您现在排在第", "zh"), "source": "generated"}
    assert (folder / "queue-thereare.sln").stat().st_size > 4000  # speech, 8 kHz 16-bit
    assert (folder / "digits/wan.sln").exists()
    # a second install (another lab instance, make run) speaks nothing and writes nothing
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    assert prompts.install(place, ("zh",), cache) == []
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before


def test_a_changed_text_is_spoken_again(place, tmp_path):
    cache = tmp_path / "cache"
    prompts.install(place, ("zh",), cache)
    folder = place.folder("zh")
    old = (folder / "invalid.sln").read_bytes()
    changed = tuple(replace(p, zh="按键无效，请再试一次。") if p.name == "invalid" else p for p in prompts.REGISTRY)
    notes = prompts.install_language("zh", place, cache, registry=changed)
    assert notes == ["zh: 1 prompts installed (1 spoken now, the rest from the cache)"]
    assert (folder / "invalid.sln").read_bytes() != old
    entry = json.loads((folder / prompts.MANIFEST).read_text())["invalid"]
    assert entry["text"] == "按键无效，请再试一次。" and entry["hash"] == prompts.text_hash(entry["text"], "zh")
    assert len(json.loads((folder / prompts.MANIFEST).read_text())) == len(prompts.REGISTRY)
    # the old text is still cached: going back copies it, without speaking
    assert prompts.install_language("zh", place, cache) == \
        ["zh: 1 prompts installed (0 spoken now, the rest from the cache)"]
    assert (folder / "invalid.sln").read_bytes() == old


def test_a_recording_replaces_a_prompt_and_reverting_brings_the_generated_one_back(place, tmp_path):
    cache = tmp_path / "cache"
    prompts.install(place, ("zh",), cache)
    generated = (place.folder("zh") / "queue-thereare.sln").read_bytes()
    made = prompts.replace("queue-thereare", "zh", _tone(tmp_path / "brand.wav", 1.5).read_bytes(), "brand.wav",
                           place, cache)
    assert made.seconds == 1.5
    played = (place.folder("zh") / "queue-thereare.sln").read_bytes()
    assert played != generated and len(played) == 1.5 * 8000 * 2  # converted to 8 kHz mono 16-bit
    assert json.loads((place.folder("zh") / prompts.MANIFEST).read_text())["queue-thereare"]["source"] == "recording"
    states = {(s.prompt.name, s.language): s.source for s in prompts.states(place.recordings)}
    assert states[("queue-thereare", "zh")] == "recording" and states[("invalid", "en")] == "asterisk"
    assert prompts.revert("queue-thereare", "zh", place, cache) is True
    assert (place.folder("zh") / "queue-thereare.sln").read_bytes() == generated
    assert prompts.revert("queue-thereare", "zh", place, cache) is False


def test_the_apply_knows_when_the_prompts_are_already_in_place(place, tmp_path):
    cache = tmp_path / "cache"
    assert not prompts.up_to_date(place, ("en",)), "a fresh box lacks Linebox's own English prompts"
    prompts.install(place, ("en",), cache)
    assert prompts.up_to_date(place, ("en",)) and not prompts.up_to_date(place, ("en", "zh"))
    (place.recordings / "en").mkdir(parents=True)
    brand = _tone(tmp_path / "brand.wav", 1, rate=8000, channels=1)
    prompts.replace("linebox/call-refused", "en", brand.read_bytes(), "brand.wav", place, cache)
    assert prompts.up_to_date(place, ("en",)), "replace puts the recording in place at once"
    (place.folder("en") / "linebox/call-refused.sln").unlink()
    assert not prompts.up_to_date(place, ("en",)), "a prompt file gone is put back by the next apply"


def test_an_english_recording_sits_beside_debians_file_and_reverting_removes_only_it(place, tmp_path):
    debian = place.root / "usr/share/asterisk/sounds/en_US_f_Allison"
    prompts.replace("invalid", "en", _tone(tmp_path / "a.wav", 1).read_bytes(), "a.wav", place, tmp_path / "c")
    assert (debian / "invalid.sln").exists() and (debian / "invalid.gsm").read_bytes() == b"debian's own"
    prompts.revert("invalid", "en", place, tmp_path / "c")
    assert not (debian / "invalid.sln").exists() and (debian / "invalid.gsm").exists()
    assert not Path("/etc/alternatives/asterisk-prompt-en/invalid.sln").exists()  # never the host's own


@pytest.mark.parametrize(("name", "language", "filename", "data", "field"), [
    ("nope", "zh", "a.wav", b"x", "prompt"),
    ("invalid", "fr", "a.wav", b"x", "language"),
    ("invalid", "zh", "a.exe", b"x", "file"),
    ("invalid", "zh", "a.wav", b"", "file"),
    ("invalid", "zh", "a.wav", b"not a sound at all", "file"),
])
def test_a_bad_recording_is_refused_naming_the_field(place, tmp_path, name, language, filename, data, field):
    with pytest.raises(prompts.PromptError) as caught:
        prompts.replace(name, language, data, filename, place, tmp_path / "cache")
    assert str(caught.value).startswith(f"{field}:")
    assert not place.recordings.exists() or not any(place.recordings.rglob("*.sln"))


def test_a_too_long_recording_is_refused(place, tmp_path):
    long = _tone(tmp_path / "long.wav", prompts.MAX_PROMPT_SECONDS + 1, rate=8000, channels=1)
    with pytest.raises(prompts.PromptError, match="file: the sound lasts 121 s; it may last at most 120 s"):
        prompts.replace("invalid", "zh", long.read_bytes(), "long.wav", place, tmp_path / "cache")


def test_languages_a_site_uses():
    settings = schemas.Settings()
    ivr = schemas.Ivr(name="m", greeting="beep", options=[schemas.IvrOption(digit="9", language="en")])
    queue = schemas.Queue(number="700", name="q", language="zh")
    assert prompts.languages_used(settings, [], []) == ("en",), "Linebox's own English prompts, on every site"
    assert prompts.languages_used(settings, [ivr], [queue]) == ("en", "zh")
    assert prompts.languages_used(schemas.Settings(prompt_language="zh"), [], []) == ("zh",)


def test_the_cli_replaces_lists_and_reverts_a_prompt_with_an_audit_row(tmp_path, monkeypatch):
    """``linebox prompts``: a thin layer over the same service functions, each change audited."""
    from click.testing import CliRunner

    from appliance.cli.linebox import main
    from appliance.install import Install
    from appliance.model import models
    from appliance.model.database import close_database

    monkeypatch.setenv("LINEBOX_PROMPT_CACHE", str(tmp_path / "cache"))
    install = Install.create(tmp_path / "home", manage_asterisk=False, asterisk_root=tmp_path / "root")
    home = ["--home", str(install.home)]
    runner = CliRunner()
    try:
        tone = _tone(tmp_path / "brand.wav", 1)
        done = runner.invoke(main, [*home, "prompts", "replace", "queue-thereare", "zh", str(tone)])
        assert done.exit_code == 0, done.output
        assert "zh/queue-thereare: callers now hear your recording (1 s)" in done.output
        listed = runner.invoke(main, [*home, "prompts", "list", "--language", "zh"]).output
        assert re.search(r"^queue-thereare +zh +recording +您现在排在第$", listed, re.MULTILINE), listed
        bad = runner.invoke(main, [*home, "prompts", "replace", "no-such", "zh", str(tone)])
        assert bad.exit_code == 1 and "prompt: 'no-such' is not a Linebox prompt" in bad.output
        assert runner.invoke(main, [*home, "prompts", "revert", "queue-thereare", "zh"]).exit_code == 0
        rows = [(r.user, r.action, r.key) for r in models.AuditEntry.select()
                .where(models.AuditEntry.kind == "prompt").order_by(models.AuditEntry.id)]
        assert rows == [("cli", "upload", "zh/queue-thereare"), ("cli", "delete", "zh/queue-thereare")]
    finally:
        close_database()


def test_the_dialplan_sets_the_languages_of_the_site_menus_queues_and_the_callers_choice():
    from appliance.asterisk.layout import DEFAULT_DIRECTORIES
    from appliance.provisioning import render
    from appliance.site.checks import Site

    site = Site(settings=schemas.Settings(prompt_language="zh"))
    site.objects["extension"] = [schemas.Extension(number="201", name="Desk", password="A" * 16)]
    site.objects["queue"] = [schemas.Queue(number="700", name="Support", language="zh"),
                             schemas.Queue(number="701", name="Sales")]
    site.objects["ivr"] = [schemas.Ivr(name="main", greeting="beep", language="zh", options=[
        schemas.IvrOption(digit="9", language="en"),
        schemas.IvrOption(digit="8", language="zh", destination="queue:700"),
        schemas.IvrOption(digit="1", destination="extension:201")])]
    files = render.render_all(site, render.InstallFacts(ami_secret="x", directories=DEFAULT_DIRECTORIES))
    dialplan = files["extensions.conf"]
    queue_700 = dialplan.split("exten => 700,1")[1].split("exten => 701,1")[0]
    assert ' same => n,ExecIf($["${LB_LANG_CHOSEN}" = ""]?Set(CHANNEL(language)=zh))' in queue_700
    assert "CHANNEL(language)" not in dialplan.split("exten => 701,1")[1].split("[")[0]  # the site's
    menu = dialplan.split("[ivr-main]")[1].split("; ---- time conditions")[0]
    assert ' same => n,ExecIf($["${LB_LANG_CHOSEN}" = ""]?Set(CHANNEL(language)=zh))' in menu
    assert ("exten => 9,1,Set(CHANNEL(language)=en)\n same => n,Set(__LB_LANG_CHOSEN=en)\n"
            " same => n,Goto(s,menu)\n") in menu
    assert ("exten => 8,1,Set(CHANNEL(language)=zh)\n same => n,Set(__LB_LANG_CHOSEN=zh)\n"
            " same => n,Goto(ext-queues,700,1)\n") in menu
    # the site's language: every phone's calls start in it (its endpoint is a row Asterisk reads at run time)
    endpoint = projection.site_rows(site)["ps_endpoints"]["201"]
    assert endpoint[projection.TABLES["ps_endpoints"].index("language")] == "zh"
    site.settings = site.settings.model_copy(update={"prompt_language": "en"})
    english = projection.site_rows(site)["ps_endpoints"]["201"]
    assert english[projection.TABLES["ps_endpoints"].index("language")] == ""  # Asterisk's own default


def test_an_option_needs_a_destination_or_a_language():
    with pytest.raises(ValueError, match="option 5: give a destination, or a language the key switches to"):
        schemas.IvrOption(digit="5")
    with pytest.raises(ValueError):
        schemas.IvrOption(digit="5", language="fr")
