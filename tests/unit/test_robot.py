"""The voice robot's parts without Asterisk: AudioSocket framing, matching, the speech detector, the dialplan.

The whole path (Asterisk's AudioSocket, PocketSphinx on a real call's audio, the FastAGI result) is
tests/lab/test_voice_robot.py; here the framing is checked against the protocol's own byte layouts, and
the matcher's thresholds against what a grammar decoder gives back.
"""

from __future__ import annotations

import math
import struct
import uuid

import pytest

from appliance.robot import audiosocket, calls, matcher, speech
from appliance.robot.audiosocket import FrameReader, ProtocolError


def test_frames_are_a_type_a_big_endian_length_and_the_payload():
    assert audiosocket.encode(audiosocket.HANGUP) == b"\x00\x00\x00"  # the documented hangup
    audio = audiosocket.encode(audiosocket.AUDIO, b"\x01\x02" * 160)
    assert audio[:3] == b"\x10\x01\x40" and len(audio) == 3 + 320
    with pytest.raises(ProtocolError):
        audiosocket.encode(audiosocket.AUDIO, bytes(70000))


def test_the_reader_takes_frames_split_and_joined_anyhow():
    call = uuid.UUID("e75bc045-1234-4abc-8def-0123456789ab")
    stream = (audiosocket.encode(audiosocket.UUID, call.bytes) + audiosocket.encode(audiosocket.AUDIO, bytes(320))
              + audiosocket.encode(audiosocket.DTMF, b"0") + audiosocket.encode(audiosocket.HANGUP))
    reader = FrameReader()
    frames = []
    for i in range(0, len(stream), 7):  # TCP may cut anywhere
        frames += reader.feed(stream[i:i + 7])
    assert [f.kind for f in frames] == [audiosocket.UUID, audiosocket.AUDIO, audiosocket.DTMF, audiosocket.HANGUP]
    assert frames[0].uuid == str(call) and frames[2].digit == "0" and len(frames[1].payload) == 320
    with pytest.raises(ProtocolError):
        _ = frames[1].uuid


def test_answers_are_cut_in_20_ms_frames_the_last_one_padded():
    frames = audiosocket.audio_frames(bytes(range(256)) * 3)  # 768 bytes: 2 whole frames and 128 bytes
    assert [len(f) for f in frames] == [323, 323, 323]
    assert all(struct.unpack(">BH", f[:3]) == (audiosocket.AUDIO, 320) for f in frames)
    assert frames[-1][3 + 128:] == bytes(192)


PHRASINGS = [matcher.phrasings("What are your opening hours?; when are you open; what time do you open"),
             matcher.phrasings("where is your office; what is your address")]


def test_phrasings_are_normalised_words():
    assert PHRASINGS[0] == ["what are your opening hours", "when are you open", "what time do you open"]
    assert matcher.phrasings(" ; ;Hello, World! ") == ["hello world"]


@pytest.mark.parametrize(("heard", "entry"), [
    ("what are your opening hours", 0), ("when are you open", 0), ("your opening hours what are", 0),
    ("where is your office", 1), ("what is your address", 1),
    ("what are your opening", None),  # a grammar decoder stopped inside a sentence: not a guess
    ("", None), ("banana", None),
])
def test_what_was_heard_is_matched_to_an_entry_only_above_the_threshold(heard, entry):
    found = matcher.match(heard, PHRASINGS)
    assert found.entry == entry and not found.handover, found


@pytest.mark.parametrize("heard", ["agent", "speak to an agent", "Operator please", "a human", "我要转人工"])
def test_asking_for_a_person_wins_over_every_entry(heard):
    assert matcher.match(heard, PHRASINGS).handover


def _tone(seconds: float, amplitude: float) -> bytes:
    count = int(seconds * 8000)
    return struct.pack(f"<{count}h", *(int(amplitude * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(count)))


def _feed(detector: speech.Utterances, audio: bytes, start: float) -> float:
    now = start
    for i in range(0, len(audio), 320):
        detector.feed(audio[i:i + 320], now)
        now += 0.02
    return now


def test_an_utterance_ends_after_silence_by_the_clock_even_when_no_audio_comes():
    heard = speech.Utterances()
    now = _feed(heard, _tone(0.4, 100) + _tone(1.0, 5000), 100.0)  # quiet lead-in, then speech
    assert heard.speaking and heard.take(now) is None  # not over yet
    # the line sends nothing more (no comfort noise): the clock alone ends the utterance
    utterance = heard.take(now + speech.END_SILENCE + 0.05)
    assert utterance is not None
    # the speech and a little of the quiet before it (a soft first sound is not cut off)
    assert len(utterance) == pytest.approx((1.0 + speech.PRE_ROLL) * 16000, abs=640)
    assert heard.take(now + 5) is None and not heard.speaking


def test_a_click_is_not_an_utterance():
    heard = speech.Utterances()
    now = _feed(heard, _tone(0.1, 8000), 0.0)
    assert heard.take(now + 1) is None


def test_a_calls_uuid_names_its_robot():
    call = f"{calls.robot_key('faq')}-0000-4000-8000-000000000000"
    assert calls.robot_of(call, ["sales", "faq"]) == "faq" and calls.robot_of(call, ["sales"]) is None
    assert all(calls.NEXT_RE.match(n) for n in ("handover", "fallback", "hangup", "then-3"))
    assert not any(calls.NEXT_RE.match(n) for n in ("then-", "queue-700", "handover,1", "hangup)"))


def _site(**robot):
    from appliance import config_file
    from appliance.site.checks import Site
    from tests.conftest import REFERENCE_SITE
    site = config_file.parse_text(REFERENCE_SITE.read_text(encoding="utf-8"), onto=Site())
    queue = site.of("queue")[0].number
    data = {"name": "faq", "handover": f"queue:{queue}", "fallback": "hangup", "entries": [
        {"questions": "what are your opening hours; when are you open", "answer": "Nine to five; ${EXTEN}",
         "then": "hangup"},
        {"questions": "where is your office", "answer": "1 Main Street [x]", "then": ""}], **robot}
    from appliance.site import schemas
    objects = {kind: list(items) for kind, items in site.objects.items()}
    objects["robot"] = [schemas.Robot.model_validate(data)]
    return Site(objects=objects, settings=site.settings), queue


def test_a_robot_is_a_dialplan_context_whose_exits_are_its_destinations_and_no_user_text():
    from appliance.asterisk.layout import DEFAULT_DIRECTORIES
    from appliance.provisioning import render
    from appliance.site.checks import check_site
    site, queue = _site()
    assert check_site(site) == []
    text = render.render_file("extensions.conf", site, render.InstallFacts("secret", DEFAULT_DIRECTORIES))
    context = text.split("[robot-faq]\n", 1)[1].split("\n\n", 1)[0]
    assert f"Set(LB_ROBOT_UUID={calls.robot_key('faq')}-" in context
    assert f"TryExec(AudioSocket(${{LB_ROBOT_UUID}},127.0.0.1:{site.settings.robot_port}))" in context
    assert "/robot,${LB_ROBOT_UUID})" in context
    assert f"exten => handover,1,Goto(ext-queues,{queue},1)" in context
    assert "exten => fallback,1,Hangup()" in context and "exten => then-1,1,Hangup()" in context
    assert "then-2" not in context  # the second entry listens again: no exit of its own
    # questions and answers are spoken into sound files, never written into the dialplan
    assert "Nine" not in text and "Main Street" not in text and "opening" not in text


def test_a_robots_destinations_must_exist():
    from appliance.site.checks import check_site
    site, _ = _site(handover="queue:799", entries=[{"questions": "hello", "answer": "hi", "then": "ivr:nowhere"}])
    problems = [str(p) for p in check_site(site)]
    assert any("voice robot faq handover" in p and "799" in p for p in problems), problems
    assert any("voice robot faq entry 1" in p and "nowhere" in p for p in problems), problems


def test_without_the_speech_packages_the_service_still_serves_and_lets_every_call_go(monkeypatch, tmp_path):
    """A box without the "robot" extra: the health call is answered, and a robot's call is closed at once
    (Asterisk's AudioSocket() returns, the dialplan takes the fallback), with nothing written."""
    import socket
    import sys

    from appliance.robot import server as robot_server
    from appliance.services import robot as robot_service
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # import pocketsphinx -> ImportError
    monkeypatch.delitem(sys.modules, "appliance.robot.recognizer", raising=False)
    monkeypatch.delitem(sys.modules, "appliance.robot.plans", raising=False)
    monkeypatch.delattr("appliance.robot.plans", raising=False)
    served = robot_service.make_server(tmp_path, port=0).start()
    try:
        assert served.check(timeout=5)
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as conn:
            call = uuid.UUID(f"{calls.robot_key('faq')}-0000-4000-8000-000000000000")
            conn.sendall(audiosocket.encode(audiosocket.UUID, call.bytes) + audiosocket.encode(audiosocket.AUDIO,
                                                                                             bytes(320)))
            assert conn.recv(100) == b""  # closed, nothing sent
        assert served.served == 0
    finally:
        served.close()
    assert robot_server.HEALTH_UUID.startswith("00000000")


def test_a_saved_robot_keeps_its_destinations_and_what_it_names_cannot_go_away(install):
    """Saving through the site service (console, API, CLI): an IVR key may send callers to a robot, a
    robot to a queue; deleting that queue is refused while the robot names it."""
    from appliance.errors import SiteError
    from appliance.site import service
    service.save_object("extension", {"number": "201", "name": "Agent"}, "test", create=True)
    service.save_object("queue", {"number": "700", "name": "Support", "members": [{"extension": "201"}]}, "test",
                        create=True)
    with pytest.raises(SiteError, match="voice robot faq"):  # not there yet
        service.save_object("ivr", {"name": "main", "greeting": "hello-world",
                                    "options": [{"digit": "1", "destination": "robot:faq"}]}, "test", create=True)
    service.save_object("robot", {"name": "faq", "handover": "queue:Support", "entries": [
        {"questions": "when are you open", "answer": "Nine to five."}]}, "test", create=True)
    assert service.get_object("robot", "faq").handover == "queue:700"  # a name is stored as the number
    service.save_object("ivr", {"name": "main", "greeting": "hello-world",
                                "options": [{"digit": "1", "destination": "robot:faq"}]}, "test", create=True)
    with pytest.raises(SiteError, match="queue 700"):
        service.delete_object("queue", "700", "test")


def test_transcripts_are_purged_with_the_recordings(install, tmp_path):
    from datetime import UTC, datetime

    from appliance.callcenter import recordings
    from appliance.model.models import AuditEntry, RobotCall
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    day = 86400
    for i, age in enumerate((100, 31, 29, 0)):
        RobotCall.create(uuid=f"u{i}", robot="faq", started=now.timestamp() - age * day, transcript="agent")
    assert recordings.purge(tmp_path / "none", 0, now=now) == 0 and RobotCall.select().count() == 4  # 0: keep
    recordings.purge(tmp_path / "none", 30, now=now)
    assert sorted(r.uuid for r in RobotCall.select()) == ["u2", "u3"]
    assert any(e.action == "purge" and e.kind == "robot_transcript" and e.before == {"deleted": 2}
               for e in AuditEntry.select())


def test_an_answer_is_a_text_or_an_uploaded_recording_and_a_missing_recording_is_named(tmp_path):
    """The entry's recording (custom/NAME, uploaded and converted as on the Sounds page) is the audio the
    robot sends, as it is; a robot whose recording is not there is refused at the apply, naming the entry.
    The lab test plays it to a real caller."""
    import subprocess

    from appliance.errors import SiteError
    from appliance.provisioning import sounds
    from appliance.robot import plans
    from appliance.site import schemas, service
    with pytest.raises(SiteError, match=r"entries.0.answer_sound: give the entry an answer"):
        service.validate("robot", {"name": "faq", "entries": [{"questions": "hello"}]})
    with pytest.raises(SiteError, match=r"answer_sound: 'welcome' is not allowed here: use custom/"):
        service.validate("robot", {"name": "faq", "entries": [{"questions": "hello", "answer_sound": "welcome"}]})
    robot = service.validate("robot", {"name": "faq", "entries": [
        {"questions": "where are you", "answer": "ignored when a recording is given", "answer_sound": "custom/office"},
        {"questions": "when are you open", "answer": "Nine to five."}]})
    assert isinstance(robot, schemas.Robot)
    with pytest.raises(sounds.SoundError) as refused:
        sounds.prepare_robots([robot], tmp_path, {"en": "en"}, {"en": "Sorry."})
    assert str(refused.value.args[0]) == ("voice robot faq, entry 1: custom/office is not an uploaded sound "
                                          "(upload it on the Sounds page)")
    wav = subprocess.run(["espeak-ng", "--stdout", "Main Street"], check=True, capture_output=True).stdout
    made = sounds.import_upload(wav, "office.wav", "office", tmp_path)  # 22 kHz in, 8 kHz mono out
    sounds.prepare_robots([robot], tmp_path, {"en": "en"}, {"en": "Sorry."})
    slin = (tmp_path / "office.sln").read_bytes()
    assert abs(len(slin) / 16000 - made.seconds) < 0.1  # 8000 samples of 2 bytes a second

    def speak(text: str, language: str) -> bytes:
        return f"spoken {text}".encode()

    def recorded(sound: str) -> bytes:
        return sounds.uploaded_slin(tmp_path, sound)

    first, second = robot.entries
    assert plans.answer_audio(first, "en", speak, recorded) == slin
    assert plans.answer_audio(second, "en", speak, recorded) == b"spoken Nine to five."
