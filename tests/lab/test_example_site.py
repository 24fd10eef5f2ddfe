"""The documented example site, imported as a user imports it, called through on every branch.

``linebox config export --example`` prints a whole customer-service site (a 400 number on a primary
and a backup trunk, business hours, an IVR, two skill-based queues, a ring group, voicemail out of
hours).  Here it goes into the lab's pbx through the import a user runs, with only what must point at
the lab's carrier changed (the trunks' addresses and the primary's account, which the example asks
the user to set), and the carrier's phones and lines call every branch of it: each IVR key, a wrong
key, no key at all, out of hours, and an outbound call whose primary trunk has just died.  Each call
is followed to where it lands (the carrier's events name the phone that rang and answered), to what
the caller heard where that is the point of the branch, to its call records and to the report.

One pbx and one carrier serve the whole module: starting them and importing the site is most of a
test's cost.  The clock is never waited for: the office is opened all day today (a range added to
its time condition through the service functions), and closed by a holiday today for the
out-of-hours call.
"""

from __future__ import annotations

import socket
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from appliance import config_file
from appliance.callcenter import collector, reports
from appliance.model.database import close_database
from appliance.model.models import CallRecord, QueueCall
from appliance.provisioning import sounds
from appliance.site import service
from appliance.site.schemas import DAYS
from lab.instance import free_port
from lab.sip_line import SipRelay
from tests.conftest import Pbx
from tests.lab.helpers import update
from tests.lab.test_sounds import DATA_DIR, in_root

pytestmark = pytest.mark.lab

HOTLINE = "4007002505"  # the example's 400 number (its hotline route's DID)
# The carrier account the primary registers as: the example leaves it to the user to set.
ACCOUNT, ACCOUNT_PASSWORD = "harbour", "Carrier8Secret"
MOBILE = "13912345678"  # matches the domestic route's mobile pattern: sent as dialled
EXTENSIONS = ("200", "201", "202", "203", "204", "205", "206", "207", "209")


@dataclass
class Site:
    pbx: Pbx
    phones: object  # the carrier
    relay: SipRelay  # the primary trunk's line: cut it and the primary is dead
    tz: ZoneInfo


def _for_the_lab(document: dict, primary_port: int, carrier_port: int, backup_port: int) -> str:
    """The example with its trunks pointed at the lab: what the example's own comment asks a user to set.

    The primary registers through ``primary_port`` (the relay) and the carrier's calls come from
    ``carrier_port``; the backup is the carrier's second line.  Ports matter here because every line
    is on 127.0.0.1."""
    trunks = {t["name"]: t for t in document["trunks"]}
    trunks["primary"].update(host="127.0.0.1", port=primary_port, match=[f"127.0.0.1:{carrier_port}"],
                             username=ACCOUNT, password=ACCOUNT_PASSWORD)
    trunks["backup"].update(host="127.0.0.1", port=backup_port, match=[f"127.0.0.1:{backup_port}"])
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _registered(pbx, name: str, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = next((ln for ln in pbx.cli("pjsip show registrations").splitlines() if f"{name}-reg/" in ln), "")
        if "Registered" in line:
            return True
        time.sleep(0.3)
    return False


@pytest.fixture(scope="module")
def site(tmp_path_factory, rootfs):
    from lab.carrier import Phone, start_carrier
    from lab.pbx import start_pbx

    install, instance = start_pbx(tmp_path_factory.mktemp("example-site") / "pbx-home", rootfs)
    pbx = Pbx(install, instance)
    relay = SipRelay()
    carrier = None
    try:
        # As a user does: import the example (the carrier's addresses not known yet), apply, set up the
        # phones, then import it again with the carrier's addresses.
        document = yaml.safe_load(config_file.example_text())
        nowhere = free_port(socket.SOCK_DGRAM)
        first = config_file.import_text(_for_the_lab(document, relay.port, nowhere, nowhere), user="test")
        assert first.counts["created"] > 20 and first.counts["deleted"] == 0, first.lines()
        pbx.apply()
        phones = [Phone(e.number, e.password) for e in service.list_objects("extension")]
        assert sorted(p.number for p in phones) == list(EXTENSIONS)
        carrier = start_carrier(instance.sip_port, phones, rootfs, [Phone(ACCOUNT, ACCOUNT_PASSWORD)])
        carrier.wait_registered(list(EXTENSIONS))
        relay.connect(carrier.telco_port)
        second = config_file.import_text(
            _for_the_lab(document, relay.port, carrier.telco_port, carrier.telco_b_port), user="test")
        # The same file again, its trunks' addresses aside: nothing else changes (no new PINs, no passwords).
        assert sorted(second.changes) == [("update", "trunk", "backup"), ("update", "trunk", "primary")], \
            second.lines()

        # The lab's clock: whatever the time in Shanghai, the office is open all day today.
        tz = ZoneInfo(service.get_object("time_condition", "business-hours").timezone)
        today = DAYS[datetime.now(tz).weekday()]
        hours = service.get_object("time_condition", "business-hours").model_dump()
        update("time_condition", "business-hours",
               ranges=[*hours["ranges"], {"days": today, "start": "00:00", "end": "23:59"}])
        pbx.apply()
        assert _registered(pbx, "primary"), pbx.cli("pjsip show registrations")
        yield Site(pbx, carrier, relay, tz)
    finally:
        if carrier is not None:
            carrier.stop()
        relay.close()
        instance.stop()
        close_database()


def _stretches(path, gap: float = 1.5, level: int = 1500) -> list[tuple[float, float]]:
    """(start, end), in seconds, of the stretches of sound in a 16-bit mono WAV: 100 ms windows louder
    than ``level``, a stretch ending at the first ``gap`` seconds of quiet (a sentence's pauses are shorter)."""
    with wave.open(str(path)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    samples = memoryview(frames).cast("h")
    step = rate // 10
    loud = [i / 10 for i in range(len(samples) // step)
            if max(abs(s) for s in samples[i * step:(i + 1) * step]) > level]
    out: list[tuple[float, float]] = []
    for moment in loud:
        if out and moment - out[-1][1] <= gap:
            out[-1] = (out[-1][0], round(moment + 0.1, 1))
        else:
            out.append((moment, round(moment + 0.1, 1)))
    return out


def _seconds(path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _greeting_seconds(site: Site) -> float:
    """How long the IVR's spoken greeting lasts: the file the pbx made from its text."""
    ivr = service.get_object("ivr", "main")
    inner = sounds.playback_path(site.pbx.install.facts().sounds_dir, ivr.greeting, ivr.greeting_text,
                                 ivr.greeting_voice)
    return _seconds(site.pbx.instance.host_path(inner + ".wav"))


def _call(site: Site, tag: str, number: str = HOTLINE, endpoint: str = "telco", **kwargs) -> int:
    mark = site.phones.mark()
    site.phones.call(endpoint, number, tag=tag, **kwargs)
    return mark


def _rang(site: Site, tag: str, mark: int) -> list[str]:
    """The phones a call tagged ``tag`` rang (the caller's name is its tag all the way to the agent)."""
    return [e["Exten"] for e in site.phones.events[mark:]
            if e.get("UserEvent") == "CarrierIncoming" and e.get("CallerName") == tag]


def _answered_by(site: Site, tag: str, mark: int, among: tuple[str, ...], timeout: float = 25) -> str:
    site.phones.wait_for("CarrierIncoming", lambda e: e.get("CallerName") == tag and e.get("Exten") in among,
                         since=mark, timeout=timeout)
    answered = site.phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") in among, since=mark,
                                    timeout=timeout)
    return answered["Exten"]


def _hung_up(site: Site, tag: str, mark: int, timeout: float = 40) -> None:
    site.phones.wait_for("CallerHangup", lambda e: e.get("Tag") == tag, since=mark, timeout=timeout)


def _today_utc() -> tuple[datetime, datetime]:
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def _collect(site: Site, done: Callable[[], bool], timeout: float = 10) -> None:
    """The collector's pass (what ``linebox collect --once`` runs), again until ``done``: Asterisk writes a
    call's records as its channels go, which may be a moment after the caller's hang-up event."""
    sources = collector.Sources.in_log_dir(site.pbx.install.asterisk_log_dir)
    deadline = time.monotonic() + timeout
    collector.collect_once(sources)
    while not done() and time.monotonic() < deadline:
        time.sleep(0.2)
        collector.collect_once(sources)


def test_each_ivr_key_lands_where_the_menu_says_with_records_and_report(site):
    """1 orders queue, 2 after-sales queue, 3 the billing ring group, 0 the operator."""
    site.phones.set_behaviour("206", "answer")
    site.phones.set_behaviour("207", "noanswer")  # the ring group rings both; one answers
    landed: dict[str, str] = {}
    rang: dict[str, list[str]] = {}
    among = {"1": ("201", "202", "203", "205"), "2": ("204", "205", "203"), "3": ("206", "207"), "0": ("200",)}
    for key, phones in among.items():
        tag = f"key-{key}"
        mark = _call(site, tag, dtmf=key, hold=6)
        landed[key] = _answered_by(site, tag, mark, phones)
        _hung_up(site, tag, mark)
        rang[key] = _rang(site, tag, mark)

    # The best-skilled agents (level 0) take the queues' calls; the others were never rung.
    assert landed["1"] in ("201", "202") and set(rang["1"]) <= {"201", "202"}, (landed, rang)
    assert landed["2"] in ("204", "205") and set(rang["2"]) <= {"204", "205"}, (landed, rang)
    assert landed["3"] == "206" and sorted(rang["3"]) == ["206", "207"], (landed, rang)  # ring-all
    assert landed["0"] == "200" and rang["0"] == ["200"], (landed, rang)

    # The call records: each call answered by the phone it landed on, marked with the menu's destination.
    def answered() -> dict[str, str]:
        return {r.userfield: r.dstchannel for r in CallRecord.select()
                if r.src == "+15550001111" and r.disposition == "ANSWERED" and r.dstchannel}

    where = {"1": "queue:701", "2": "queue:702", "3": "ringgroup:600", "0": "ext:200"}
    _collect(site, lambda: set(where.values()) <= set(answered())
             and QueueCall.select().where(QueueCall.outcome == "answered").count() == 2)
    assert {key: answered().get(where[key], "").split("-")[0] for key in where} == \
        {key: f"PJSIP/{landed[key]}" for key in where}, answered()

    # The queue calls, and the report's figures for them.
    calls = {c.queue: c for c in QueueCall.select()}
    assert {q: (c.outcome, c.agent) for q, c in calls.items()} == \
        {"701": ("answered", landed["1"]), "702": ("answered", landed["2"])}
    kpis = {k.queue: k for k in reports.queue_report(*_today_utc())}
    for queue in ("701", "702"):
        k = kpis[queue]
        assert (k.offered, k.answered, k.abandoned) == (1, 1, 0), k
        assert k.service_level_pct == 100.0 and k.asa_seconds is not None and k.asa_seconds <= 5, k
        # handle time: the talk (the agent's phone hangs up after 4 s) and the queue's wrap-up time
        assert 3 <= calls[queue].talk_seconds <= 6, calls[queue].talk_seconds
        wrapup = service.get_object("queue", queue).wrapup_seconds
        assert k.aht_seconds == calls[queue].talk_seconds + wrapup, k
    agents = {a.agent: a for a in reports.agent_report(*_today_utc())}
    assert agents[landed["1"]].answered == 1 and agents[landed["2"]].answered == 1


def test_a_wrong_key_is_told_so_and_the_menu_plays_again(site):
    """Key 9 is no option: the caller hears the invalid-key sound, then the menu again, and nobody rings."""
    tag = "wrong-key"
    greeting = _greeting_seconds(site)
    mark = _call(site, tag, dtmf="9", hold=int(greeting) + 6, record=True)
    _hung_up(site, tag, mark, timeout=greeting + 30)
    heard = _stretches(site.phones.heard(tag))
    assert not _rang(site, tag, mark), "a wrong key rings nobody"
    # The key goes at about 1 s and stops the greeting; what follows is the invalid-key sound and the
    # whole greeting once more, then the menu's wait for a key.  Without the invalid-key sound the
    # greeting would start again at once and end about 4 s earlier.
    invalid = in_root(site.pbx.instance.rootfs,
                      f"{DATA_DIR}/sounds/en/{service.get_object('ivr', 'main').invalid_sound}.gsm")
    invalid_seconds = invalid.stat().st_size / 33 * 0.02  # GSM: 33 bytes a 20 ms frame
    after_key = [s for s in heard if s[1] > 1.5]
    assert after_key, heard
    start, end = after_key[0]
    assert start <= 2.0, heard
    expected = 1.0 + invalid_seconds + greeting
    assert expected - 1.5 <= end <= expected + 1.5, \
        f"after the key, sound until {end:.1f} s; the invalid-key sound and the greeting end at {expected:.1f} s: " \
        f"{heard}"
    log = (site.pbx.instance.log_dir / "messages.log").read_text()
    assert "does not exist in any format" not in log, log[-2000:]


def test_no_key_plays_the_menu_again_as_often_as_timeout_retries_says_then_reaches_the_operator(site):
    """``timeout_retries: N``: the greeting N + 1 times, each followed by the wait for a key, then extension 200."""
    tag = "no-key"
    greeting = _greeting_seconds(site)
    ivr = service.get_object("ivr", "main")
    timeout, plays = ivr.timeout_seconds, ivr.timeout_retries + 1
    menu = plays * (greeting + timeout)
    mark = _call(site, tag, hold=int(menu) + 6, record=True)
    started = time.monotonic()
    assert _answered_by(site, tag, mark, ("200",), timeout=menu + 15) == "200"
    took = time.monotonic() - started
    assert menu - 2 <= took <= menu + 8, f"the operator answered after {took:.1f} s; {plays} menus take {menu:.1f} s"
    _hung_up(site, tag, mark, timeout=30)
    heard = _stretches(site.phones.heard(tag))
    spoken = [s for s in heard if s[0] < menu - 1]
    assert len(spoken) == plays, f"the caller heard the greeting {len(spoken)} times, not {plays}: {heard}"
    for (start, end), (next_start, _) in zip(spoken, [*spoken[1:], (menu, 0)], strict=True):
        assert abs((end - start) - greeting) <= 1.0, heard
        assert timeout - 1.0 <= next_start - end <= timeout + 1.5, heard  # the wait for a key, in quiet


def test_outbound_fails_over_to_the_backup_when_the_primary_dies(site):
    """An agent calls a mobile: out by the primary; the primary's site dies (the pbx, qualifying every
    15 s, still holds it reachable): the next call reaches the backup within the primary's failover time."""
    site.phones.set_behaviour(MOBILE, "answer", ring=0)
    mark = _call(site, "out-primary", number=MOBILE, endpoint="ph201")
    incoming = site.phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == MOBILE, since=mark)
    assert incoming["Local"].endswith(f":{site.phones.telco_port}") and incoming["Endpoint"] == ACCOUNT, incoming
    _hung_up(site, "out-primary", mark)

    site.relay.die()
    try:
        bound = service.get_object("trunk", "primary").failover_seconds + 1.5
        mark = _call(site, "out-backup", number=MOBILE, endpoint="ph201")
        started = time.monotonic()
        answered = site.phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == MOBILE, since=mark,
                                        timeout=40)
        took = answered["_time"] - started
        assert answered["Local"].endswith(f":{site.phones.telco_b_port}"), answered
        assert took <= bound, f"the backup answered {took:.2f} s after the call; the bound is {bound:.1f} s"
        # the primary was tried first (the pbx still held it reachable) and its INVITE went nowhere
        assert any(line.startswith(f"INVITE sip:{MOBILE}@") for line in site.relay.dropped), site.relay.dropped
        incoming = site.phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == MOBILE, since=mark)
        # the domestic route sends the company's number and name, whichever trunk carries the call
        assert (incoming["CallerID"], incoming["CallerName"]) == (HOTLINE, "Harbour Trading"), incoming
        _hung_up(site, "out-backup", mark)
    finally:
        site.relay.revive()


def test_out_of_hours_callers_leave_a_voicemail(site):
    """A public holiday today (in the site's time zone): the hotline goes to voicemail box 700."""
    hours = service.get_object("time_condition", "business-hours").model_dump()
    today = datetime.now(site.tz).date().isoformat()
    update("time_condition", "business-hours",
           holidays=[*hours["holidays"], {"date": today, "name": "Lab holiday"}])
    site.pbx.apply()
    try:
        tag = "closed"
        mark = _call(site, tag, hold=14, record=True)
        _hung_up(site, tag, mark)
        inbox = site.pbx.instance.host_dir / "spool" / "voicemail" / "default" / "700" / "INBOX"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not list(inbox.glob("msg*.txt")):
            time.sleep(0.3)
        messages = sorted(inbox.glob("msg*.txt"))
        assert len(messages) == 1, f"no message in box 700 ({inbox})"
        text = messages[0].read_text()
        assert "+15550001111" in text, text
        message_wav = messages[0].with_suffix(".wav")
        assert _seconds(message_wav) >= 2, "the message holds what the caller said (the carrier's tone)"
        assert not _rang(site, tag, mark), "out of hours no phone rings"
        # the caller heard the mailbox's greeting before the beep
        heard = _stretches(site.phones.heard(tag))
        assert heard and heard[0][0] <= 1.5 and heard[0][1] - heard[0][0] >= 2, heard

        def records() -> list[CallRecord]:
            return [r for r in CallRecord.select() if r.userfield == "inbound:hotline" and r.lastapp == "VoiceMail"]

        _collect(site, lambda: bool(records()))
        record = records()
        assert record and record[-1].disposition == "ANSWERED", \
            [(r.dst, r.lastapp, r.userfield, r.disposition) for r in CallRecord.select()]
    finally:
        update("time_condition", "business-hours", holidays=hours["holidays"])
        site.pbx.apply()
