"""Supervisor listen, whisper and barge on real queue calls, and the post-call satisfaction survey.

One pbx, carrier and console for the module.  Three callers ring three queues at once, each answered by
its agent; a supervisor, logged in to the console over real HTTP, sees them on call on the wallboard's
stream and asks for listen on the first, whisper on the second, barge on the third, each from a phone
of their own.  Who hears what is measured on recordings the carrier's phones make of what they receive:
the callers send 440 Hz, the agents silence and the supervisors' phones 1,400 Hz, so the supervisor's
voice is the 1,400 Hz energy in an agent's or a caller's recording, and the call is the 440 Hz energy in
the supervisor's.

Two more queues ask their callers to rate the call once the agent hangs up; each caller presses a digit
when the pbx is reading it, and the report (as the reports page and ``linebox report --survey`` show it)
holds each rating under the agent who took that call.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
import requests

from appliance.callcenter import collector, survey
from appliance.callcenter.reports import today
from appliance.model.models import AuditEntry
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app
from tests.conftest import Pbx, wait_reachable
from tests.lab.helpers import add, add_carrier_trunk, tone_seconds
from tests.web.test_callcenter_pages import session_for, token_of

pytestmark = [pytest.mark.lab, pytest.mark.timeout(240)]

CALLER_HZ, SUPERVISOR_HZ = 440, 1400
# mode -> (queue, its DID, the agent, the supervisor's phone)
SPIED = {"listen": ("701", "5557010", "201", "211"), "whisper": ("702", "5557020", "202", "212"),
         "barge": ("703", "5557030", "203", "213")}
# queue -> (its DID, its one agent, the caller's number, the digit the caller presses)
SURVEYED = {"704": ("5557040", "221", "+15550004444", "4"), "705": ("5557050", "222", "+15550002222", "2")}


@dataclass
class Lab:
    pbx: Pbx
    phones: object
    url: str


class _Console:  # what session_for needs of the console fixture
    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture(scope="module")
def lab(tmp_path_factory, rootfs):
    from lab.carrier import Phone, start_carrier
    from lab.pbx import start_pbx
    install, instance = start_pbx(tmp_path_factory.mktemp("supervise") / "pbx-home", rootfs)
    phones = server = None
    try:
        pbx = Pbx(install, instance)
        for mode, (queue, did, agent, supervisor) in SPIED.items():
            add("extension", number=agent, name=f"Agent {agent}")
            add("extension", number=supervisor, name=f"Supervisor {supervisor}")
            add("queue", number=queue, name=f"Queue {mode}", strategy="ringall", agent_ring_seconds=10,
                wrapup_seconds=0, announce_position=False, members=[{"extension": agent}])
            add("inbound_route", name=f"line-{queue}", did=did, destination=f"queue:{queue}")
        for queue, (did, agent, _caller, _digit) in SURVEYED.items():
            add("extension", number=agent, name=f"Agent {agent}")
            add("queue", number=queue, name=f"Survey {queue}", strategy="ringall", agent_ring_seconds=10,
                wrapup_seconds=0, announce_position=False, members=[{"extension": agent}], survey=True)
            add("inbound_route", name=f"line-{queue}", did=did, destination=f"queue:{queue}")
        pbx.apply()
        phones = start_carrier(instance.sip_port, [Phone(e.number, e.password)
                                                   for e in service.list_objects("extension")], rootfs)
        numbers = [e.number for e in service.list_objects("extension")]
        phones.wait_registered(numbers)
        add_carrier_trunk(phones)
        pbx.apply()
        wait_reachable(pbx, numbers)
        server = make_server(create_app(install), "127.0.0.1", 0)
        server.start()
        yield Lab(pbx, phones, server.url)
    finally:
        if server is not None:
            server.close()
        if phones is not None:
            phones.stop()
        instance.stop()
        from appliance.model.database import close_database
        close_database()


def _wallboard_shows_on_call(session: requests.Session, url: str, agents: set[str], timeout: float = 20) -> dict:
    """Read the wallboard's stream, as its page does, until it shows every one of ``agents`` on a call."""
    deadline = time.monotonic() + timeout
    with session.get(f"{url}/wallboard/stream", stream=True, timeout=(5, timeout)) as stream:
        assert stream.status_code == 200
        for line in stream.iter_lines(decode_unicode=True):
            if line and line.startswith("data: "):
                snapshot = json.loads(line[6:])
                busy = {a["agent"] for q in snapshot.get("queues", ()) for a in q["agents"] if a["state"] == "on call"}
                if agents <= busy:
                    return snapshot
            if time.monotonic() > deadline:
                break
    raise TimeoutError(f"the wallboard never showed agents {sorted(agents)} on call")


def _supervise(session: requests.Session, url: str, agent: str, mode: str, extension: str) -> requests.Response:
    return session.post(f"{url}/wallboard/supervise", data={
        "csrf_token": token_of(session, f"{url}/wallboard"), "agent": agent, "mode": mode, "extension": extension})


def test_listen_whisper_and_barge_reach_exactly_the_parties_they_promise_and_a_site_can_forbid_them(lab):
    phones, url = lab.phones, lab.url
    for mode, (_queue, _did, agent, supervisor) in SPIED.items():
        phones.set_behaviour(agent, "answer", hold=20, ring=0)
        phones.set_tone(agent, "silence")
        phones.record_phone(agent, f"agent-{mode}")
        phones.set_behaviour(supervisor, "answer", hold=4, ring=0)
        phones.set_tone(supervisor, str(SUPERVISOR_HZ))
        phones.record_phone(supervisor, f"supervisor-{mode}")
    mark = phones.mark()
    for mode, (_queue, did, _agent, _supervisor) in SPIED.items():
        phones.call("telco", did, tag=f"caller-{mode}", hold=14, record=True, tone=str(CALLER_HZ))
    for _queue, _did, agent, _supervisor in SPIED.values():
        phones.wait_for("CarrierAnswered", lambda e, agent=agent: e.get("Exten") == agent, since=mark, timeout=20)

    session = session_for(_Console(url), "sue", "supervisor")
    _wallboard_shows_on_call(session, url, {agent for _, _, agent, _ in SPIED.values()})
    for mode, (_queue, _did, agent, supervisor) in SPIED.items():
        answer = _supervise(session, url, agent, mode, supervisor)
        assert answer.status_code == 200 and answer.json()["ok"], answer.text
    for _queue, _did, _agent, supervisor in SPIED.values():
        phones.wait_for("CarrierAnswered", lambda e, s=supervisor: e.get("Exten") == s, since=mark, timeout=20)
    for mode in SPIED:
        phones.wait_for("CallerHangup", lambda e, mode=mode: e.get("Tag") == f"caller-{mode}", since=mark, timeout=40)

    heard = {}
    for mode in SPIED:
        agent_hears = tone_seconds(phones.heard(f"agent-{mode}"), SUPERVISOR_HZ, share=0.3)
        caller_hears = tone_seconds(phones.heard(f"caller-{mode}"), SUPERVISOR_HZ, share=0.3)
        supervisor_hears = tone_seconds(phones.heard(f"supervisor-{mode}"), CALLER_HZ, share=0.3)
        heard[mode] = (agent_hears, caller_hears, supervisor_hears)
    print("\nseconds of the supervisor's tone heard by (agent, caller), and of the caller's by the supervisor: "
          + ", ".join(f"{mode} ({a:.1f}, {c:.1f}, {s:.1f})" for mode, (a, c, s) in heard.items()))
    # the supervisor's phone sends its tone for 4 s in each mode, and hears the call in each
    assert heard["listen"][0] < 0.5 and heard["listen"][1] < 0.5, heard
    assert heard["whisper"][0] >= 2.5 and heard["whisper"][1] < 0.5, heard
    assert heard["barge"][0] >= 2.5 and heard["barge"][1] >= 2.5, heard
    assert all(s >= 2.5 for _, _, s in heard.values()), heard

    # each use is in the audit log: who, which agent, which mode, which phone
    used = {(e.user, e.key, e.action, (e.after or {}).get("supervisor_extension"))
            for e in AuditEntry.select().where(AuditEntry.kind == "agent")}
    assert used >= {("sue", agent, mode, supervisor) for mode, (_, _, agent, supervisor) in SPIED.items()}, used

    # a site that forbids it: refused before anything rings, nothing audited; the board offers no buttons
    service.save_settings({"supervisor_monitoring": "forbidden"}, "test")
    try:
        audited = AuditEntry.select().where(AuditEntry.kind == "agent").count()
        refused = _supervise(session, url, "201", "listen", "211")
        assert refused.status_code == 422 and "does not allow" in refused.json()["problems"], refused.text
        assert AuditEntry.select().where(AuditEntry.kind == "agent").count() == audited
        assert 'id="supervise"' not in session.get(f"{url}/wallboard").text
    finally:
        service.save_settings({"supervisor_monitoring": "allowed"}, "test")
    assert 'id="supervise"' in session.get(f"{url}/wallboard").text


def _reading(pbx, caller: str) -> bool:
    """Whether the pbx reads a rating from the call of ``caller`` (its channel is in Read)."""
    return any(line.split("!")[5:6] == ["Read"] and caller in line
               for line in pbx.cli("core show channels concise").splitlines())


def test_survey_ratings_land_in_the_report_under_the_agent_who_took_the_call(lab):
    phones, pbx = lab.phones, lab.pbx
    mark = phones.mark()
    for queue, (did, agent, caller, _digit) in SURVEYED.items():
        phones.set_behaviour(agent, "answer", hold=3, ring=0)  # the agent talks 3 s, then hangs up
        phones.call("telco", did, tag=f"survey-{queue}", hold=40, caller=caller)
    for queue, (_did, _agent, caller, digit) in SURVEYED.items():
        connected = phones.wait_for("CallerConnected", lambda e, q=queue: e.get("Tag") == f"survey-{q}", since=mark)
        deadline = time.monotonic() + 30
        while not _reading(pbx, caller):  # the agent hung up and the caller is asked
            assert time.monotonic() < deadline, pbx.cli("core show channels concise")
            time.sleep(0.1)
        phones.press(connected["Channel"], digit)
    for queue in SURVEYED:  # thanked, and the pbx hangs up: the caller did not have to
        phones.wait_for("CallerHangup", lambda e, q=queue: e.get("Tag") == f"survey-{q}", since=mark, timeout=30)

    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    deadline = time.monotonic() + 15
    while True:
        collector.collect_once(sources)
        rows = [(r.queue, r.agent, r.ratings, r.average) for r in survey.survey_report(*today())]
        if len(rows) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert rows == [("704", "221", 1, 4.0), ("704", "", 1, 4.0), ("705", "222", 1, 2.0), ("705", "", 1, 2.0)]

    # the reports page and its CSV, as a supervisor reads them
    session = session_for(_Console(lab.url), "rita", "supervisor")
    page = session.get(f"{lab.url}/reports").text
    assert 'id="survey-report"' in page and "221" in page and "4.00" in page, page
    csv = session.get(f"{lab.url}/reports/surveys.csv").text
    assert "queue,agent,ratings,average" in csv and "704,221,1,4.0" in csv, csv
