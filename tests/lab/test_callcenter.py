"""Call-center flows through real Asterisk: IVR by DTMF, queues with skills and escalation, pauses."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from appliance.asterisk import ami_users
from appliance.callcenter import collector, reports
from appliance.model.models import CallRecord, CollectorState, QueueCall, QueueEvent
from tests.lab.helpers import add, add_carrier_trunk, live_with_carrier, update

pytestmark = pytest.mark.lab


def _support_site(escalate_after: int = 4) -> None:
    for number in ("201", "202"):
        add("extension", number=number, name=f"Agent {number}")
    # Asterisk applies an escalation step at the next ring cycle: agents ring 5 s per cycle here.
    add("queue", number="700", name="Support", strategy="ringall", agent_ring_seconds=5,
        members=[{"extension": "201", "penalty": 0}, {"extension": "202", "penalty": 1}],
        escalation=[{"after_seconds": escalate_after, "max_penalty": 1}], announce_position=False)
    add("ivr", name="sales", greeting="beep", options=[{"digit": "2", "destination": "queue:700"}])
    add("ivr", name="main", greeting="beep", options=[{"digit": "1", "destination": "ivr:sales"}])
    add("inbound_route", name="main-line", did="5553000", destination="ivr:main")
    add("inbound_route", name="support-line", did="5553700", destination="queue:700")


def _live_support_site(pbx, carrier, escalate_after: int, **queue_changes):
    """The support site applied to the pbx, the carrier registered and its trunk live: the phones."""
    _support_site(escalate_after)
    if queue_changes:
        update("queue", "700", **queue_changes)
    phones = live_with_carrier(pbx, carrier)
    return phones


def _queue_log(pbx) -> list[list[str]]:
    path = pbx.instance.log_dir / "queue_log"
    return [line.split("|") for line in path.read_text().splitlines()] if path.exists() else []


def _member_lines(shown: str) -> dict[str, str]:
    """``queue show``'s line of each member, by extension (the member's name)."""
    return {line.split()[0]: line for line in shown.splitlines() if "(PJSIP/" in line}


def test_ivr_by_dtmf_to_queue_best_skill_first_then_escalates(pbx, carrier):
    phones = _live_support_site(pbx, carrier, escalate_after=4)
    phones.set_behaviour("201", "answer", hold=30)

    # Asterisk's own view of the agents uses the console's numbering: skill level 0 is penalty 0 (which
    # `queue show` does not print), level 1 is "with penalty 1".
    members = _member_lines(pbx.cli("queue show 700"))
    assert set(members) == {"201", "202"}, members
    assert "with penalty" not in members["201"] and "with penalty 1 (" in members["202"], members

    # A caller navigates two IVR levels by DTMF (1, then 2) into the queue: the best-skilled agent gets it.
    mark = phones.mark()
    phones.call("telco", "5553000", tag="first-caller", dtmf="1wwwwww2", hold=30)
    first = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") in ("201", "202"), since=mark, timeout=25)
    assert first["Exten"] == "201", "the agent with the matching skill (level 0) takes the call"
    assert not [e for e in phones.events[mark:] if e.get("UserEvent") == "CarrierIncoming" and e["Exten"] == "202"]

    # The skilled agent is busy: the next caller waits, and after 4 s the next skill level takes the call.
    mark = phones.mark()
    started = time.monotonic()
    phones.call("telco", "5553700", tag="second-caller", hold=10)
    second = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "202", since=mark, timeout=25)
    waited = second["_time"] - started
    assert 4 <= waited <= 12, f"escalated after {waited:.1f}s, configured 4s"
    assert second["CallerID"] == "+15550001111"


def test_paused_agent_gets_no_calls_and_hangup_in_queue_is_abandoned(pbx, carrier):
    phones = _live_support_site(pbx, carrier, escalate_after=1)
    with pbx.install.connect_ami(user=ami_users.CONSOLE) as ami:
        ami.action("QueuePause", Interface="PJSIP/201", Paused="true", Queue="700", Reason="lunch")

    mark = phones.mark()
    phones.call("telco", "5553700", tag="to-queue", hold=10)
    answered = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") in ("201", "202"), since=mark)
    assert answered["Exten"] == "202"
    assert not [e for e in phones.events[mark:] if e.get("UserEvent") == "CarrierIncoming" and e["Exten"] == "201"]
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "to-queue", since=mark, timeout=30)

    # Nobody free: the caller gives up after about 7 s in the queue.
    phones.set_behaviour("202", "noanswer")
    mark = phones.mark()
    phones.call("telco", "5553700", tag="gives-up", hold=7)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "gives-up", since=mark, timeout=30)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(row[4] == "ABANDON" for row in _queue_log(pbx) if len(row) > 4):
        time.sleep(0.3)
    events = [row[4] for row in _queue_log(pbx) if len(row) > 4 and row[2] == "700"]
    assert events.count("CONNECT") == 1 and events.count("ABANDON") == 1, events
    assert "PAUSE" in events

    # The collector copies it all into Linebox's database; running it again, or after losing its
    # offsets (a restart with a fresh state), neither loses nor duplicates anything.
    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    collector.collect_once(sources)
    counts = (QueueEvent.select().count(), QueueCall.select().count(), CallRecord.select().count())
    collector.collect_once(sources)
    CollectorState.delete().execute()
    collector.collect_once(sources)
    assert (QueueEvent.select().count(), QueueCall.select().count(), CallRecord.select().count()) == counts
    assert counts[1] == 2 and counts[2] >= 2

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    (kpi,) = reports.queue_report(today, today + timedelta(days=1))
    assert (kpi.queue, kpi.offered, kpi.answered, kpi.abandoned, kpi.short_abandons) == ("700", 2, 1, 1, 0)
    assert kpi.service_level_pct == 50.0 and kpi.abandon_rate_pct == 50.0
    assert kpi.asa_seconds is not None and kpi.asa_seconds <= 5
    assert kpi.fcr_pct == 0.0  # the answered caller called the queue again (and gave up) within 24 h
    from tests.lab.test_cli import linebox
    table = linebox(pbx.install.home, "report", "--csv")
    assert table.returncode == 0 and table.stdout.splitlines()[1].startswith("700,2,1,1,0,0,0,50.0,"), table.stdout
    agents = {a.agent: a for a in reports.agent_report(today, today + timedelta(days=1))}
    assert set(agents) == {"201", "202"}
    agent = agents["202"]
    assert agent.answered == 1 and agent.talk_seconds >= 3  # the phone hangs up after 4 s
    # 201 took no call: paused for lunch since the start.  A permanent member, logged in since the queue
    # listing them was saved, a moment before the pause: occupancy 0 % of the little time they were available
    assert (agents["201"].answered, list(agents["201"].pauses), agents["201"].occupancy_pct) == (0, ["lunch"], 0.0)
    assert agents["201"].pauses["lunch"] >= 10
    assert agents["201"].logged_in_seconds >= agents["201"].paused_seconds


def test_wallboard_stream_shows_waiting_caller_and_agent_states(pbx, carrier):
    """The wallboard's HTTP event stream, served by the console, follows a call through the queue live."""
    import http.client
    import json
    import threading

    from appliance.access import accounts, apitokens
    from appliance.services.http_server import make_server
    from appliance.web.app import create_app

    phones = _live_support_site(pbx, carrier, escalate_after=60)
    phones.set_behaviour("201", "noanswer")
    phones.set_behaviour("202", "noanswer")
    with pbx.install.connect_ami(user=ami_users.CONSOLE) as ami:
        ami.action("QueuePause", Interface="PJSIP/202", Paused="true", Queue="700", Reason="training")
    accounts.create_user("boss", "Supervisor-pass-1", "supervisor", actor="test")
    token = apitokens.create_token("boss", "wallscreen", "test")

    server = make_server(create_app(pbx.install), "127.0.0.1", 0)
    server.start()
    snapshots: list[tuple[float, dict]] = []
    done = threading.Event()
    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    threading.Thread(target=collector.run, args=(sources, done), daemon=True).start()  # as the service does

    def read_stream() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=40)
        conn.request("GET", "/wallboard/stream", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        assert response.status == 200
        while not done.is_set():
            line = response.readline().decode()
            if line.startswith("data: "):
                snapshots.append((time.monotonic(), json.loads(line[6:])))
        conn.close()

    reader = threading.Thread(target=read_stream, daemon=True)
    reader.start()
    try:
        def seen(check, timeout: float = 20) -> tuple[float, dict]:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for moment, snap in list(snapshots):
                    q = next((q for q in snap.get("queues", []) if q["queue"] == "700"), None)
                    if q and check(q):
                        return moment, q
                time.sleep(0.1)
            raise AssertionError(f"wallboard never showed it; last: {snapshots[-1:] if snapshots else 'nothing'}")

        _, idle = seen(lambda q: q["waiting"] == 0 and len(q["agents"]) == 2)
        assert idle["name"] == "Support" and {a["name"] for a in idle["agents"]} == {"Agent 201", "Agent 202"}
        states = {a["agent"]: a for a in idle["agents"]}
        assert states["202"]["state"] == "paused" and states["202"]["reason"] == "training"
        assert states["201"]["state"] == "available"

        mark = phones.mark()
        phones.call("telco", "5553700", tag="wallboard-caller", hold=12)
        joined = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark)
        moment, busy = seen(lambda q: q["waiting"] == 1 and any(a["state"] == "ringing" for a in q["agents"]))
        assert busy["callers"][0]["caller"] == "+15550001111"
        assert moment - joined["_time"] < 1.5, "the wallboard must follow within a second or so"
        seen(lambda q: q["waiting"] == 0 and q["abandoned"] == 1, timeout=30)  # the caller gave up
    finally:
        done.set()
        server.close()


def test_queue_call_is_recorded_with_audio(pbx, carrier):
    import wave
    import zoneinfo

    from appliance.callcenter import recordings
    from appliance.site import service

    # The recording is filed under the site's local day (retention counts those days): a zone whose date
    # differs from UTC's right now (UTC+14 from 10:00 UTC on, UTC-11 before 11:00 UTC) shows it is that one.
    zone_name = "Pacific/Kiritimati" if datetime.now(UTC).hour >= 10 else "Pacific/Pago_Pago"
    service.save_settings({"timezone": zone_name}, "test")
    local_days = {datetime.now(zoneinfo.ZoneInfo(zone_name)).strftime("%Y-%m-%d")}
    phones = _live_support_site(pbx, carrier, escalate_after=60, recording="always")
    phones.set_behaviour("201", "answer", hold=6)

    mark = phones.mark()
    phones.call("telco", "5553700", tag="recorded", hold=10)
    phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "201", since=mark)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "recorded", since=mark, timeout=30)
    local_days.add(datetime.now(zoneinfo.ZoneInfo(zone_name)).strftime("%Y-%m-%d"))  # a midnight may pass
    time.sleep(1)
    found = recordings.list_recordings(pbx.install.recordings_dir)
    assert len(found) == 1 and found[0].who == "queue700", found
    assert found[0].day in local_days, f"filed under {found[0].day}, the site's day is {local_days} ({zone_name})"
    assert found[0].seconds >= 3
    with wave.open(str(pbx.install.recordings_dir / found[0].path)) as w:
        frames = w.readframes(w.getnframes())
    samples = memoryview(frames).cast("h")
    assert max(abs(s) for s in samples) > 1000, "the recording holds the call's tone, not silence"


def test_agent_missing_two_calls_in_a_row_is_paused(pbx, carrier):
    from appliance.callcenter import autopause

    phones = _live_support_site(pbx, carrier, escalate_after=60, strategy="linear", autopause_after_missed=2,
                                wrapup_seconds=0,
                                members=[{"extension": "201", "penalty": 0}, {"extension": "202", "penalty": 0}])
    phones.set_behaviour("201", "noanswer")
    phones.set_behaviour("202", "answer", hold=2)
    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)

    for n in range(2):
        mark = phones.mark()
        phones.call("telco", "5553700", tag=f"miss-{n}", hold=12)
        phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "202", since=mark, timeout=25)
        phones.wait_for("CallerHangup", lambda e, n=n: e.get("Tag") == f"miss-{n}", since=mark, timeout=30)
        time.sleep(0.5)
        collector.collect_once(sources)
        with pbx.install.connect_ami(user=ami_users.COLLECTOR) as ami:
            paused = autopause.pause_missing_agents(ami)
        assert paused == ([] if n == 0 else [("700", "201", 2)])
    assert "missed 2 calls" in pbx.cli("queue show 700")  # Asterisk shows the pause and its reason
    time.sleep(0.5)
    collector.collect_once(sources)
    with pbx.install.connect_ami(user=ami_users.COLLECTOR) as ami:
        assert autopause.pause_missing_agents(ami) == []  # the PAUSE ended the streak: not paused twice


def _voiced_seconds(path) -> tuple[float, float]:
    """(start, end), in seconds, of the first stretch of speech in a 16-bit mono WAV: 100 ms windows with
    speech-level energy, until a second of silence (the IVR's wait for a digit)."""
    import wave

    with wave.open(str(path)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    samples = memoryview(frames).cast("h")
    step = rate // 10
    loud = [i / 10 for i in range(len(samples) // step)
            if max(abs(s) for s in samples[i * step:(i + 1) * step]) > 1500]
    if not loud:
        return 0.0, 0.0
    end = loud[0]
    for moment in loud:
        if moment - end > 1.0:
            break
        end = moment
    return loud[0], round(end + 0.1, 1)


def test_ivr_greeting_spoken_from_text_is_heard_by_the_caller(pbx, carrier):
    import wave

    from appliance.provisioning import sounds

    text = "Welcome to Linebox support. For sales, press one."
    add("ivr", name="welcome", greeting_text=text, timeout_seconds=5,
        options=[{"digit": "1", "destination": "hangup"}])
    add("inbound_route", name="main-line", did="5553000", destination="ivr:welcome")
    result = pbx.apply()
    spoken = pbx.install.sounds_path / f"{sounds.tts_name(text, 'en')}.wav"
    assert [s.detail for s in result.steps if s.name == "sounds"] == [f"spoke IVR welcome greeting into {spoken.name}"]
    with wave.open(str(spoken)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    assert spoken.with_suffix(".sln").stat().st_size == (spoken.stat().st_size - 44)
    first, last = _voiced_seconds(spoken)
    assert last - first > 2, "espeak-ng spoke the sentence"
    assert str(spoken.with_suffix("").relative_to(pbx.instance.rootfs)) in pbx.cli("dialplan show s@ivr-welcome")

    phones = carrier()
    add_carrier_trunk(phones)
    again = pbx.apply()
    assert [s.detail for s in again.steps if s.name == "sounds"] == ["greetings ready"]  # cached: not spoken twice

    mark = phones.mark()
    phones.call("telco", "5553000", tag="greeted", hold=8, record=True)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "greeted", since=mark, timeout=30)
    time.sleep(1)
    heard_first, heard_last = _voiced_seconds(phones.heard("greeted"))
    assert heard_first < 2, "the greeting starts as soon as the IVR answers"
    assert abs((heard_last - heard_first) - (last - first)) < 1.0, \
        f"the caller heard {heard_last - heard_first:.1f} s of speech; the greeting lasts {last - first:.1f} s"

    # A new text is a new sound file, and the dialplan plays it.
    update("ivr", "welcome", greeting_text="Thank you for calling. Please hold.")
    changed = pbx.apply()
    new = sounds.tts_name("Thank you for calling. Please hold.", "en")
    assert [s.detail for s in changed.steps if s.name == "sounds"] == [f"spoke IVR welcome greeting into {new}.wav"]
    shown = pbx.cli("dialplan show s@ivr-welcome")
    assert new in shown and spoken.stem not in shown


def test_agent_logs_in_from_the_console_and_gets_a_screen_pop(pbx, carrier):
    """An agent with no queue logs in from their page (real HTTP), Asterisk lists them, a queue call
    rings their phone and their screen-pop stream carries the caller's number and the queue."""
    import http.client
    import json
    import threading

    from appliance.access import accounts
    from appliance.callcenter.live import parse_event_list
    from appliance.model.models import AuditEntry
    from appliance.services.http_server import make_server
    from appliance.site import service
    from appliance.web.app import create_app
    from tests.web.conftest import Browser

    phones = _live_support_site(pbx, carrier, escalate_after=60, members=[])  # nobody in the queue yet
    phones.set_behaviour("201", "noanswer")
    accounts.create_user("alice", "Agent-pass-1234", "agent", actor="test")
    pin = service.get_object("extension", "201").voicemail_pin
    server = make_server(create_app(pbx.install), "127.0.0.1", 0)
    server.start()
    pops: list[tuple[float, dict]] = []
    done = threading.Event()
    try:
        browser = Browser(server.url)
        assert browser.login("alice", "Agent-pass-1234").status == 302
        wrong = browser.submit("/agent/claim", {"extension": "201", "pin": "0000000"}, form_page="/agent",
                               follow=True)
        assert "unknown extension or wrong PIN" in wrong.body
        claimed = browser.submit("/agent/claim", {"extension": "201", "pin": pin}, form_page="/agent", follow=True)
        assert "This console follows extension 201." in claimed.body
        page = browser.submit("/agent/login", {"queue": "700"}, form_page="/agent", follow=True)
        assert page.status == 200 and 'data-queue="700"' in page.body

        with pbx.install.connect_ami() as ami:
            status = parse_event_list(ami.action("QueueStatus", Queue="700").response)
        (member,) = [e for e in status if e.get("Event") == "QueueMember"]
        assert (member["Name"], member["Location"], member["Membership"], member["Paused"]) == \
            ("201", "PJSIP/201", "dynamic", "0")
        assert AuditEntry.get((AuditEntry.kind == "agent") & (AuditEntry.action == "login")).user == "alice"

        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.jar)

        def read_stream() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=40)
            conn.request("GET", "/agent/stream", headers={"Cookie": cookie})
            response = conn.getresponse()
            assert response.status == 200
            while not done.is_set():
                line = response.readline().decode()
                if line.startswith("data: "):
                    pops.append((time.monotonic(), json.loads(line[6:])))
            conn.close()

        reader = threading.Thread(target=read_stream, daemon=True)
        reader.start()

        def mine(p: dict) -> list[str]:
            return [a["state"] for q in p.get("queues", []) if q["queue"] == "700" for a in q["me"]]

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(p["type"] == "state" and mine(p) for _, p in pops):
            time.sleep(0.1)
        assert [mine(p) for _, p in pops if p["type"] == "state" and mine(p)][:1] == [["available"]]

        from appliance.phonebook import contacts as phonebook
        anna = phonebook.create_contact({"name": "Anna Berg", "company": "Acme", "numbers": ["+1 555 000 1111"],
                                         "note": "key account"}, "test")
        mark = phones.mark()
        phones.call("telco", "5553700", tag="popped", hold=8)
        rang = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(p["type"] == "ringing" for _, p in pops):
            time.sleep(0.05)
        moment, ring = next((m, p) for m, p in pops if p["type"] == "ringing")
        assert (ring["caller"], ring["queue"], ring["agent"]) == ("+15550001111", "700", "201")
        assert ring["contact"] == {"id": anna["id"], "name": "Anna Berg", "company": "Acme", "note": "key account"}
        assert moment - rang["_time"] < 1.0, "the screen pop arrives as the phone rings"

        # Pause with a reason from the page: Asterisk shows it, and the stream follows.
        browser.submit("/agent/pause", {"reason_choice": "lunch", "reason": ""}, form_page="/agent")
        assert "(lunch)" in browser.get("/agent").body
        assert "paused" in pbx.cli("queue show 700") and "lunch" in pbx.cli("queue show 700")
        browser.submit("/agent/logout", {"queue": "700"}, form_page="/agent")
        assert "No Members" in pbx.cli("queue show 700")
    finally:
        done.set()
        server.close()


def test_agent_logs_in_pauses_and_logs_out_with_feature_codes_from_the_phone(pbx, carrier):
    add("extension", number="203", name="Agent 203")
    phones = _live_support_site(pbx, carrier, escalate_after=60)

    def queue_line_of_203(until, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = pbx.cli("queue show 700")
            line = next((row for row in shown.splitlines() if "PJSIP/203" in row), "")
            if until(line) or time.monotonic() > deadline:
                return line
            time.sleep(0.3)

    assert queue_line_of_203(lambda line: False, timeout=0) == ""
    phones.call("ph203", "*45700", tag="login", hold=2)  # *45<queue>: log in with the phone's own device
    line = queue_line_of_203(lambda line: line != "")
    assert "dynamic" in line and "paused" not in line, line
    phones.call("ph203", "*47", tag="pause", hold=2)  # pause in every queue
    assert "paused" in queue_line_of_203(lambda line: "paused" in line), pbx.cli("queue show 700")
    phones.call("ph203", "*48", tag="unpause", hold=2)
    line = queue_line_of_203(lambda line: line != "" and "paused" not in line)
    assert line != "" and "paused" not in line, pbx.cli("queue show 700")  # still logged in, no longer paused
    phones.call("ph203", "*46700", tag="logout", hold=2)
    assert queue_line_of_203(lambda line: line == "") == "", pbx.cli("queue show 700")
    added = [row for row in _queue_log(pbx) if len(row) > 4 and row[4] == "ADDMEMBER"]
    assert added and added[-1][2:4] == ["700", "203"], added  # the login counts for agent 203 in the reports


def _cdr_keys(cdr_db) -> set[tuple[str, int]]:
    """The (uniqueid, sequence) of every row Asterisk wrote into its CDR database."""
    import sqlite3
    from contextlib import closing
    with closing(sqlite3.connect(f"file:{cdr_db}?mode=ro", uri=True)) as cdr:
        return {(u, int(s)) for u, s in cdr.execute("SELECT uniqueid, sequence FROM cdr")}


def _collect_until(sources, expected, timeout: float = 15) -> None:
    """Collect a round every half second, as the collector service does, until the CallRecord rows are
    ``expected()`` (the CDR rows Asterisk wrote, read again each round: it may still be writing)."""
    deadline = time.monotonic() + timeout
    while True:
        collector.collect_once(sources)
        copied = {(r.uniqueid, r.sequence) for r in CallRecord.select()}
        if copied == expected():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"collected {sorted(copied)}, Asterisk wrote {sorted(expected())}")
        time.sleep(0.5)


def test_no_call_record_is_lost_or_doubled_when_asterisk_restarts_as_make_run_does(pbx, carrier, rootfs):
    """``make run`` stopped and started again on the same home: a new Asterisk, a new CDR database whose
    row ids start again at 1 and a new queue_log.  Every call of both runs is collected exactly once."""
    from appliance.model.database import close_database
    from lab.pbx import start_pbx
    from tests.lab.test_cli import linebox

    add("extension", number="100", name="Caller")
    add("extension", number="201", name="Agent 201")
    add("queue", number="700", name="Support", strategy="ringall", agent_ring_seconds=5,
        members=[{"extension": "201", "penalty": 0}], announce_position=False)
    home = pbx.install.home

    def queue_call(phones, tag: str) -> None:
        """One caller answered in queue 700, and hung up."""
        phones.set_behaviour("201", "answer", hold=2)
        mark = phones.mark()
        phones.call("ph100", "700", tag=tag, hold=8)
        phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "201", since=mark, timeout=25)
        phones.wait_for("CallerHangup", lambda e: e.get("Tag") == tag, since=mark, timeout=30)

    def written() -> set[tuple[str, int]]:
        cdr_db = pbx.instance.log_dir / "linebox-cdr.db"
        return _cdr_keys(cdr_db) if cdr_db.exists() else set()

    pbx.apply()
    queue_call(carrier(), "before-restart")
    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    _collect_until(sources, lambda: written() or {("none yet", 0)})
    before = written()

    # What make run does on Ctrl-C and on the next start: Asterisk stops, the process ends, a new
    # Asterisk starts on the same home with fresh folders (the collector keeps its state in the database).
    pbx.instance.stop()
    close_database()
    pbx.install, pbx.instance = start_pbx(home, rootfs)
    try:
        queue_call(carrier(), "after-restart")
        sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
        _collect_until(sources, lambda: before | (written() or {("none yet", 0)}))
        assert not written() & before
        collector.collect_once(sources)  # another round (as the service keeps doing) adds nothing
        assert CallRecord.select().count() == len(before | written())

        listed = linebox(home, "calls", "--today")
        assert listed.returncode == 0, listed.stderr
        rows = [line.split() for line in listed.stdout.splitlines()[2:]]
        assert [row[2:4] for row in rows if row[3] == "700"] == [["100", "700"]] * 2, listed.stdout
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        (kpi,) = reports.queue_report(today, today + timedelta(days=1))
        assert (kpi.queue, kpi.offered, kpi.answered) == ("700", 2, 2)
    finally:
        pbx.instance.stop()


def test_ivr_counts_wrong_keys_and_silences_apart(pbx, carrier):
    """One replay for each: a caller who is silent once, then presses a wrong key, hears the menu again
    (the wrong key is the first of its kind), and only the second silence sends them on, to the timeout
    destination.  With one count for both, the wrong key (second try) would have ended at the invalid one."""
    for number in ("201", "202", "203"):
        add("extension", number=number, name=f"Desk {number}")
    add("ivr", name="front", greeting="beep", timeout_seconds=3, invalid_retries=1, timeout_retries=1,
        options=[{"digit": "1", "destination": "extension:201"}],
        invalid_destination="extension:202", timeout_destination="extension:203")
    add("inbound_route", name="main-line", did="5553000", destination="ivr:front")
    phones = live_with_carrier(pbx, carrier)

    mark = phones.mark()
    # beep (0.4 s) + 3 s without a key: the menu again from 3.4 s, waiting for a key from 3.8 s to 6.8 s;
    # the caller's 9 goes at 1 s + 9 x 0.5 s = 5.5 s
    phones.call("telco", "5553000", tag="silent-then-wrong", dtmf="wwwwwwwww9", hold=25)
    rung = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") in ("201", "202", "203"), since=mark,
                           timeout=30)
    assert rung["Exten"] == "203", f"the caller went to {rung['Exten']}, not the timeout destination 203"


def test_wallboard_and_report_agree_on_service_level_of_calls_answered_fast(pbx, carrier):
    """Calls answered within a second or two: the wallboard and the report both say 100 %, from the same
    definition (docs/reports.md) and the queue's own threshold, which Asterisk's ``queue show`` shows too."""
    import threading

    from appliance.callcenter.live import LiveBoard

    add("extension", number="201", name="Agent 201")
    add("queue", number="700", name="Support", members=[{"extension": "201", "penalty": 0}],
        announce_position=False, wrapup_seconds=0, service_level_seconds=15, service_level_target=90)
    add("inbound_route", name="support-line", did="5553700", destination="queue:700")
    phones = live_with_carrier(pbx, carrier)
    phones.set_behaviour("201", "answer", hold=2)
    assert "within 15s" in pbx.cli("queue show 700")

    stop = threading.Event()
    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    collecting = threading.Thread(target=collector.run, args=(sources, stop), daemon=True)  # as the service does
    collecting.start()
    live = LiveBoard(lambda: pbx.install.connect_ami(timeout=5, user=ami_users.LIVE), refresh_seconds=1)
    live.start()
    updates = live.subscribe()
    try:
        for n in range(2):
            mark = phones.mark()
            phones.call("telco", "5553700", tag=f"fast-{n}", hold=3)
            phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "201", since=mark, timeout=15)
            phones.wait_for("CallerHangup", lambda e, n=n: e.get("Tag") == f"fast-{n}", since=mark, timeout=20)

        deadline, board = time.monotonic() + 20, None
        while time.monotonic() < deadline:
            snap = updates.get(timeout=max(deadline - time.monotonic(), 0.1))
            board = next((q for q in snap.get("queues", []) if q["queue"] == "700"), None)
            if board and board["answered"] == 2:
                break
        assert board is not None and board["answered"] == 2, board
    finally:
        live.unsubscribe(updates)
        live.stop()
        stop.set()
        collecting.join(5)

    today = reports.today_start()
    (kpi,) = reports.queue_report(today, today + timedelta(days=1))
    assert (kpi.answered, kpi.abandoned, kpi.service_level_pct) == (2, 0, 100.0)
    assert (board["answered"], board["abandoned"], board["service_level"]) == (2, 0, 100.0)
    assert (board["name"], board["service_level_seconds"], board["service_level_target"]) == ("Support", 15, 90)
    assert not board["service_level_alert"], "a queue at 100 % is not shown in the alert colour"
