"""Prompts in Mandarin on real calls: a zh queue's position announcement, an IVR's "for English press 9",
and Asterisk's Chinese number saying, checked from the files Asterisk played.

Asterisk logs every sound it plays with the channel's language (``Playing 'NAME.FORMAT' (language 'zh')``,
verbose level 3): a temporary log channel at that level (``logger add channel``, nothing in the site's
files) gives the test the sounds in the order played.  Asterisk looks for a sound in the channel's language
folder first, so with language zh and the generated ``zh/NAME.sln`` present the file played is Linebox's
Mandarin one.  One pbx and one carrier serve the whole module (about 40 s in all).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from appliance.model.database import close_database
from appliance.provisioning import prompts
from appliance.site import service
from tests.conftest import Pbx
from tests.lab.helpers import add, add_carrier_trunk, loud_seconds

pytestmark = pytest.mark.lab

LOG = "prompts-verbose.log"
PLAYING = re.compile(r"<([^>]+)> Playing '([^']+)\.[a-z0-9]+' \(language '([^']*)'\)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, rootfs):
    from lab.carrier import start_carrier
    from lab.pbx import start_pbx

    install, instance = start_pbx(tmp_path_factory.mktemp("prompt-languages") / "pbx-home", rootfs)
    pbx = Pbx(install, instance)
    carrier = None
    try:
        # a music-on-hold class of silence: what the caller hears in the queue is the announcements only
        quiet = instance.host_dir / "quiet-moh"
        quiet.mkdir()
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                        str(quiet / "silence.sln"), "trim", "0", "30"], check=True)
        inner_quiet = f"/{quiet.relative_to(instance.rootfs)}"
        add("moh_class", name="quiet", directory=inner_quiet)
        add("queue", number="700", name="Support", language="zh", moh_class="quiet", max_wait_seconds=30,
            announce_position=True, announce_every_seconds=15)
        add("ivr", name="lang", greeting="beep", language="zh", timeout_seconds=5,
            invalid_retries=1, timeout_retries=0,
            options=[{"digit": "9", "language": "en"}, {"digit": "1", "destination": "queue:700"}])
        add("inbound_route", name="queue-line", did="5557000", destination="queue:700")
        add("inbound_route", name="menu-line", did="5557100", destination="ivr:lang")
        pbx.apply()
        carrier = start_carrier(instance.sip_port, [], rootfs, [])
        add_carrier_trunk(carrier)
        pbx.apply()
        pbx.cli(f"logger add channel {LOG} verbose")
        pbx.cli("core set verbose 3")
        yield pbx, carrier
    finally:
        if carrier is not None:
            carrier.stop()
        instance.stop()
        close_database()


def _played(pbx, since: int = 0) -> list[tuple[str, str, str]]:
    """``(channel, sound, language)`` of every sound played, in order, from byte ``since`` of the log."""
    path = pbx.instance.log_dir / LOG
    text = path.read_bytes()[since:].decode(errors="replace") if path.exists() else ""
    return PLAYING.findall(text)


def _log_size(pbx) -> int:
    path = pbx.instance.log_dir / LOG
    return path.stat().st_size if path.exists() else 0


def _wait_played(pbx, since: int, wanted, timeout: float = 30) -> list[tuple[str, str, str]]:
    deadline = time.monotonic() + timeout
    while True:
        played = _played(pbx, since)
        if wanted(played):
            return played
        if time.monotonic() > deadline:
            raise AssertionError(f"not played within {timeout}s; played: {played}")
        time.sleep(0.2)


def _zh_file(pbx, name: str) -> Path:
    return pbx.install.prompt_place().folder("zh") / f"{name}.sln"


def test_a_caller_in_a_zh_queue_hears_the_mandarin_position_announcement(lab):
    pbx, phones = lab
    since = _log_size(pbx)
    mark = phones.mark()
    phones.call("telco", "5557000", tag="first", hold=12, record=True)
    phones.wait_for("CallerConnected", lambda e: e.get("Tag") == "first", since=mark, timeout=20)
    # the first caller is next in line; once it is announced, a second caller is number 2
    first = _wait_played(pbx, since, lambda p: any(s == "queue-youarenext" for _, s, _ in p))
    phones.call("telco", "5557000", tag="second", hold=8, record=True)
    second = _wait_played(pbx, since, lambda p: any(s == "queue-callswaiting" for _, s, _ in p))
    youarenext = [(s, lang) for _, s, lang in first if s == "queue-youarenext"]
    assert youarenext[0] == ("queue-youarenext", "zh"), first
    channel = next(c for c, s, _ in second if s == "queue-thereare")
    said = [(s, lang) for c, s, lang in second if c == channel]
    assert said[:3] == [("queue-thereare", "zh"), ("digits/2", "zh"), ("queue-callswaiting", "zh")], said
    for name in ("queue-youarenext", "queue-thereare", "digits/2", "queue-callswaiting"):
        assert _zh_file(pbx, name).stat().st_size > 8000, f"no Mandarin {name} in {_zh_file(pbx, name).parent}"
    # the first caller heard speech, not silence: the music on hold is silent, so the sound is the prompt
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "first", since=mark, timeout=30)
    heard = loud_seconds(phones.heard("first"), after=0.0)
    assert heard >= 0.8, f"the caller heard {heard:.1f} s of sound in the zh queue"
    log = (pbx.instance.log_dir / "messages.log").read_text()
    assert "does not exist in any format" not in log, log[-2000:]


def test_an_ivr_key_switches_the_following_prompts_to_english(lab):
    pbx, phones = lab
    # a wrong key in the zh menu: the invalid-key prompt in Mandarin
    since = _log_size(pbx)
    mark = phones.mark()
    phones.call("telco", "5557100", tag="zh-wrong", dtmf="8", hold=5)
    played = _wait_played(pbx, since, lambda p: any(s == "invalid" for _, s, _ in p))
    assert [lang for _, s, lang in played if s == "invalid"][0] == "zh", played
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "zh-wrong", since=mark, timeout=30)
    # 9 for English, then a wrong key: the same prompt, now in English
    since = _log_size(pbx)
    mark = phones.mark()
    phones.call("telco", "5557100", tag="en-wrong", dtmf="9ww8", hold=6)
    played = _wait_played(pbx, since, lambda p: any(s == "invalid" for _, s, _ in p))
    greetings = [lang for _, s, lang in played if s == "beep"]
    assert greetings[:2] == ["zh", "en"], played  # the menu, then the menu again after 9
    assert [lang for _, s, lang in played if s == "invalid"][0] == "en", played
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "en-wrong", since=mark, timeout=30)


def test_asterisk_says_12300_in_chinese_grouping(lab):
    """SayNumber on a zh channel (a test context added at run time, reached by a call from the carrier)."""
    pbx, phones = lab
    since = _log_size(pbx)
    pbx.cli("dialplan add extension s,1,Answer() into lbtest-say")
    pbx.cli("dialplan add extension s,2,Set(CHANNEL(language)=zh) into lbtest-say")
    pbx.cli("dialplan add extension s,3,SayNumber(12300) into lbtest-say")
    pbx.cli("dialplan add extension s,4,Hangup() into lbtest-say")
    pbx.cli("dialplan add extension 5557200,1,Goto(lbtest-say,s,1) into from-trunk")
    mark = phones.mark()
    phones.call("telco", "5557200", tag="say", hold=8)
    wanted = ["digits/1", "digits/wan", "digits/2", "digits/thousand", "digits/3", "digits/hundred"]
    played = _wait_played(pbx, since, lambda p: any(s == "digits/hundred" for _, s, _ in p))
    assert [(s, lang) for _, s, lang in played] == [(name, "zh") for name in wanted], played  # 一 万 二 千 三 百
    assert "".join(prompts.BY_NAME[name].zh for name in wanted) == "一万二千三百"
    for name in wanted:
        assert _zh_file(pbx, name).exists(), name
    assert service.snapshot().settings.prompt_language == "en"  # the site stays English; this channel said zh
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "say", since=mark, timeout=30)
