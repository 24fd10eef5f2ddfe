"""The voice FAQ robot with real calls (issue 23): the carrier's caller speaks, the robot answers by voice.

One lab site for the module: extension 201 in queue 700 (the robot's handover), extension 202 (its
fallback), the voice robot ``faq`` behind the inbound route 5553800, and the robot's AudioSocket service
(``appliance.services.robot.make_server``, as linebox-robot.service runs it) in this process on a free port.
The caller's words are spoken by espeak-ng into a WAV the carrier plays as the caller's audio; what the
caller hears is recorded at the carrier.  The robot's answer is found in that recording by
cross-correlation with the answer's own audio (the ``.sln`` the robot sent), not by a second recogniser.
"""

from __future__ import annotations

import subprocess
import time
import wave
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from appliance.callcenter import robot_report
from appliance.model.database import close_database
from appliance.model.models import RobotCall
from appliance.provisioning import sounds
from appliance.robot.calls import NOT_UNDERSTOOD
from appliance.services import robot as robot_service
from appliance.site import service
from lab import instance as lab
from tests.conftest import Pbx, wait_reachable
from tests.lab.helpers import add, add_carrier_trunk
from tests.lab.test_agent_desk import Desk, _served, _wait_calls_gone

pytestmark = pytest.mark.lab

HOURS_ANSWER = "We are open from nine in the morning to six in the evening, Monday to Friday."
OFFICE_ANSWER = "Our office is at one hundred Main Street."


@dataclass
class Site:
    pbx: Pbx
    phones: object  # lab.carrier.Carrier
    robot: object  # appliance.robot.server.RobotServer
    sounds: Path
    desk: Desk  # the agent's page on extension 201, open for the whole module


def _say(phones, name: str, *texts: str, gap: float = 0.0) -> str:
    """``texts`` spoken by espeak-ng (``gap`` seconds of silence after each), as an 8 kHz WAV the carrier's
    caller plays; returns what ``Carrier.call(play=...)`` takes."""
    host, inner = phones.sound_path(name)
    host.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, text in enumerate(texts):
        part = host.with_name(f"{host.stem}-{i}.wav")
        subprocess.run(["espeak-ng", "-v", "en", "-w", str(part), text], check=True, capture_output=True)
        parts.append(str(part))
        if gap:
            silence = host.with_name(f"{host.stem}-{i}-gap.wav")
            subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(silence), "trim", "0",
                            str(gap)], check=True, capture_output=True)
            parts.append(str(silence))
    subprocess.run(["sox", *parts, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(host)],
                   check=True, capture_output=True)
    host.chmod(0o644)
    return inner


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def _best_correlation(recording: np.ndarray, prompt: np.ndarray) -> tuple[float, float]:
    """The normalised cross-correlation of ``prompt`` within ``recording`` at its best offset: (peak, seconds)."""
    n = len(recording) + len(prompt)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(recording, size) * np.conj(np.fft.rfft(prompt, size)), size)[:len(recording)]
    # the recording's energy under the prompt at each offset, for the normalisation
    energy = np.concatenate([[0.0], np.cumsum(recording ** 2)])
    offsets = np.arange(len(recording))
    window = energy[np.minimum(offsets + len(prompt), len(recording))] - energy[offsets]
    score = corr / (np.sqrt(np.maximum(window, 1e-9)) * np.sqrt(np.sum(prompt ** 2)))
    best = int(np.argmax(score))
    return float(score[best]), best / 8000


def _share_heard(recording: np.ndarray, prompt: np.ndarray, piece: int = 1000) -> float:
    """The share of ``prompt``'s voiced pieces (``piece`` samples each, 1/8 s by default) found whole in
    ``recording`` (normalised correlation above 0.8).

    Piece by piece, not the prompt as one block: on a loaded machine a thread of the robot or of either
    Asterisk can stall for a moment, and the frames sent late put a short gap into what the caller heard.
    The caller still heard the sentence; a sentence not played, or another one, scores near 0."""
    loudness = np.sqrt(np.mean(prompt ** 2))
    pieces = [prompt[i:i + piece] for i in range(0, len(prompt) - piece + 1, piece)]
    voiced = [p for p in pieces if np.sqrt(np.mean(p ** 2)) > 0.3 * loudness]
    assert voiced, "the prompt has no voiced piece"
    return sum(_best_correlation(recording, p)[0] > 0.8 for p in voiced) / len(voiced)


def _answer_audio(site: Site, text: str = "", uploaded: str = "") -> np.ndarray:
    """The audio the robot sends for an answer: ``text`` spoken, or the ``uploaded`` sound's samples."""
    raw = (site.sounds / f"{uploaded or sounds.tts_name(text, 'en')}.sln").read_bytes()
    return np.frombuffer(raw, dtype="<i2").astype(np.float64)


def _robot_call(site: Site, tag_since: float, timeout: float = 30) -> RobotCall:
    """The robot's record of the call that started after ``tag_since``, once the robot has let it go."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = (RobotCall.select().where(RobotCall.started > tag_since, RobotCall.ended.is_null(False))
               .order_by(RobotCall.started.desc()).first())
        if row is not None:
            return row
        time.sleep(0.1)
    log = (site.pbx.instance.log_dir / "messages.log").read_text(errors="replace").splitlines()[-15:]
    raise AssertionError(f"the robot did not finish a call within {timeout} s; Asterisk's log ends:\n"
                         + "\n".join(log))


def _report_row(entry: int) -> tuple[int, int, int]:
    """Robot faq's report row for ``entry`` (this module's calls: the last day and the next, so no midnight
    falls between a test's two looks): handled, contained, handed over."""
    now = datetime.now(UTC)
    start, end = now - timedelta(days=1), now + timedelta(days=1)
    row = next((r for r in robot_report.robot_report(start, end, "faq") if r.entry == entry), None)
    return (row.handled, row.contained, row.handed_over) if row else (0, 0, 0)


@pytest.fixture(scope="module")
def site(tmp_path_factory, rootfs):
    from lab.carrier import Phone, start_carrier
    from lab.pbx import start_pbx

    install, instance = start_pbx(tmp_path_factory.mktemp("robot") / "pbx-home", rootfs)
    pbx = Pbx(install, instance)
    phones = robot = server = desk = site = None
    try:
        service.save_settings({"robot_port": lab.free_port()}, user="test")
        recording = subprocess.run(["espeak-ng", "-v", "en-us", "--stdout", OFFICE_ANSWER], check=True,
                                   capture_output=True).stdout
        sounds.import_upload(recording, "office.wav", "office", install.sounds_path)
        add("extension", number="201", name="Agent 201")
        add("extension", number="202", name="Reception")
        add("queue", number="700", name="Support", strategy="ringall", agent_ring_seconds=10, wrapup_seconds=0,
            members=[{"extension": "201"}], announce_position=False)
        add("robot", name="faq", handover="queue:700", fallback="extension:202", entries=[
            {"questions": "what are your opening hours; when are you open; what time do you open",
             "answer": HOURS_ANSWER, "then": "hangup"},
            # answered with a recording uploaded as on the Sounds page (espeak-ng's 22 kHz WAV, converted there)
            {"questions": "where is your office; what is your address", "answer_sound": "custom/office",
             "then": "hangup"},
        ])
        add("inbound_route", name="robot-line", did="5553800", destination="robot:faq")
        pbx.apply()
        phones = start_carrier(instance.sip_port, [Phone(e.number, e.password)
                                                   for e in service.list_objects("extension")], rootfs)
        phones.wait_registered(["201", "202"])
        wait_reachable(pbx, ["201", "202"])
        add_carrier_trunk(phones)
        pbx.apply()  # speaks the robot's answers too (the apply's sounds step)
        robot = robot_service.make_server(install.sounds_path).start()
        server = _served(pbx)
        desk = Desk(server.url)
        desk.wait_state()
        site = Site(pbx, phones, robot, install.sounds_path, desk)
        yield site
    finally:
        if desk is not None:
            desk.close()
        if server is not None:
            server.close()
        if site is not None:  # the server the module ends with (a test stops it and starts another)
            site.robot.close()
        elif robot is not None:
            robot.close()
        if phones is not None:
            phones.stop()
        instance.stop()
        close_database()


@pytest.fixture
def quiet(site):
    _wait_calls_gone(site.pbx, timeout=15)
    yield site
    _wait_calls_gone(site.pbx, timeout=15)


def test_a_spoken_question_is_answered_by_voice_then_the_call_ends_as_configured(quiet):
    phones = quiet.phones
    play = _say(phones, "hours", "what are your opening hours")
    before = _report_row(1)
    since = time.time()
    phones.call("telco", "5553800", tag="hours", play=play, tone="silence", hold=14, record=True)
    call = _robot_call(quiet, since)
    assert call.robot == "faq" and call.entry == 0 and call.outcome == "answered", call.__data__
    assert call.next == "then-1" and "opening hours" in call.transcript, call.__data__  # then-1: hangup
    # the robot report counts it under entry 1 as contained (answered, no person needed)
    handled, contained, handed_over = _report_row(1)
    assert (handled, contained, handed_over) == (before[0] + 1, before[1] + 1, before[2])
    # the entry's "then" is hangup: the pbx ends the call once the answer is played, long before the caller
    # would (hold=14)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "hours", timeout=20)
    heard = _samples(phones.heard("hours"))
    share = _share_heard(heard, _answer_audio(quiet, HOURS_ANSWER))
    assert share >= 0.7, f"the answer's audio is not in what the caller heard ({share:.0%} of it found)"
    # and not another sentence of the robot's
    other = _share_heard(heard, _answer_audio(quiet, NOT_UNDERSTOOD["en"]))
    assert other <= 0.2, other


def test_an_answer_can_be_an_uploaded_recording(quiet):
    phones = quiet.phones
    play = _say(phones, "office", "where is your office")
    since = time.time()
    phones.call("telco", "5553800", tag="office", play=play, tone="silence", hold=14, record=True)
    call = _robot_call(quiet, since)
    assert call.entry == 1 and call.outcome == "answered" and call.next == "then-2", call.__data__
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "office", timeout=20)
    heard = _samples(phones.heard("office"))
    share = _share_heard(heard, _answer_audio(quiet, uploaded="office"))
    assert share >= 0.7, f"the uploaded recording is not in what the caller heard ({share:.0%} of it found)"


def test_asking_for_an_agent_hands_the_call_to_the_queue(quiet):
    phones = quiet.phones
    phones.set_behaviour("201", "answer", hold=2, ring=0.5)
    play = _say(phones, "agent", "speak to an agent")
    before = _report_row(0)
    seen = len(quiet.desk.pops)
    since = time.time()
    mark = phones.mark()
    phones.call("telco", "5553800", tag="agent", play=play, tone="silence", hold=20)
    call = _robot_call(quiet, since)
    # handed over for what it heard, at the first utterance (not after the robot's idle time)
    assert call.outcome == "handover" and call.next == "handover" and "agent" in call.transcript, call.__data__
    assert "|" not in call.transcript and call.ended - call.started < 10, call.__data__
    # the robot report counts it as handed over, with no entry answered
    handled, contained, handed_over = _report_row(0)
    assert (handled, contained, handed_over) == (before[0] + 1, before[1], before[2] + 1)
    rang = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=20)
    assert rang["Local"].endswith(f":{phones.phones_port}")  # the agent's phone, through queue 700
    # the agent's screen pop says what the robot heard
    _, _, ringing = quiet.desk.wait_pop("ringing", seen)
    assert ringing["queue"] == "700" and ringing["robot"] == {
        "robot": "faq", "heard": ["speak to an agent"], "outcome": "handover", "entry": 0}, ringing


def test_pressing_0_hands_the_call_over_at_once(quiet):
    """DTMF reaches the robot over AudioSocket (Asterisk 22's DTMF frame): a Mandarin caller's way out."""
    phones = quiet.phones
    phones.set_behaviour("201", "answer", hold=2, ring=0.5)
    since = time.time()
    mark = phones.mark()
    phones.call("telco", "5553800", tag="zero", dtmf="0", tone="silence", hold=10)
    call = _robot_call(quiet, since)
    assert call.outcome == "handover" and call.transcript == "", call.__data__
    assert call.ended - call.started < 5, call.__data__  # the key, not the idle time
    phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=20)


def test_nonsense_twice_is_handed_over_and_the_caller_speaking_stops_the_robot(quiet):
    phones = quiet.phones
    phones.set_behaviour("201", "answer", hold=2, ring=0.5)
    # the second utterance comes while the robot still says it did not understand (barge-in)
    play = _say(phones, "nonsense", "banana purple elephant", "my order has not arrived", gap=2.5)
    since = time.time()
    mark = phones.mark()
    phones.call("telco", "5553800", tag="nonsense", play=play, tone="silence", hold=8, record=True)
    call = _robot_call(quiet, since)
    assert call.outcome == "handover" and call.next == "handover" and call.entry == -1, call.__data__
    assert call.transcript == " | ", call.__data__  # two utterances, neither understood
    assert call.ended - call.started < 12, call.__data__  # not the robot's idle time
    phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=20)
    # barge-in: the caller heard the start of "Sorry, I did not understand ...", not its end
    heard = _samples(phones.heard("nonsense"))
    sorry = _answer_audio(quiet, NOT_UNDERSTOOD["en"])
    start = _share_heard(heard, sorry[:4000])
    end = _share_heard(heard, sorry[-12000:])
    assert start >= 0.5 and end <= 0.2, (start, end)


def test_with_the_robot_service_down_calls_go_to_the_fallback_within_seconds(quiet):
    phones = quiet.phones
    phones.set_behaviour("202", "answer", hold=2, ring=0.5)
    port = quiet.robot.port
    quiet.robot.close()
    try:
        mark = phones.mark()
        started = time.monotonic()
        phones.call("telco", "5553800", tag="down", tone="silence", hold=10)
        phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "202", since=mark, timeout=15)
        took = time.monotonic() - started
        assert took < 6, f"the fallback rang after {took:.1f} s"
    finally:
        quiet.robot = robot_service.make_server(quiet.sounds, port).start()
