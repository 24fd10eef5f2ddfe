"""The console's call-center pages over real HTTP: reports with SVG charts and CSV, sounds upload, the agent page.

The lab test (tests/lab/test_callcenter.py) drives the agent page against a real Asterisk; here
Asterisk is absent, which the agent page must say plainly.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from datetime import UTC, datetime

import pytest
import requests

from appliance.access import accounts
from appliance.model.models import AuditEntry, QueueCall
from appliance.site import service
from appliance.web.callcenter import SVG_CSP

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def session_for(console, username: str, role: str) -> requests.Session:
    accounts.create_user(username, "Long-enough-pass-1", role, actor="test")
    s = requests.Session()
    token = TOKEN.search(s.get(f"{console.url}/login").text).group(1)
    s.post(f"{console.url}/login", data={"csrf_token": token, "username": username,
                                         "password": "Long-enough-pass-1"}, allow_redirects=False)
    return s


def token_of(s: requests.Session, url: str) -> str:
    return TOKEN.search(s.get(url).text).group(1)


def calls() -> None:
    """Two calls today in queue 700 (one answered in 10 s, one abandoned after 30 s), one yesterday."""
    now = int(datetime.now(UTC).timestamp())
    yesterday = now - 86400
    QueueCall.insert_many([
        {"callid": "a", "queue": "700", "entered": now - 60, "caller": "+441", "outcome": "answered",
         "wait_seconds": 10, "talk_seconds": 100, "agent": "100"},
        {"callid": "b", "queue": "700", "entered": now - 50, "caller": "+442", "outcome": "abandoned",
         "wait_seconds": 30},
        {"callid": "c", "queue": "700", "entered": yesterday, "caller": "+443", "outcome": "answered",
         "wait_seconds": 5, "talk_seconds": 50, "agent": "100"},
    ]).execute()


@pytest.mark.both_engines  # the SQL behind the page, on SQLite and on PostgreSQL (tests/conftest.py)
def test_supervisor_sees_reports_with_charts_and_csv(console):
    calls()
    s = session_for(console, "boss", "supervisor")
    page = s.get(f"{console.url}/reports")
    assert page.status_code == 200
    row = re.search(r'<table id="queue-report">.*?<tbody>\s*<tr>(.*?)</tr>', page.text, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells[:7] == ["700", "3", "2", "1", "0", "0", "66.7"]  # offered 3, answered 2, SL 2/3
    charts = re.findall(r'<img class="chart" src="([^"]+)"', page.text)
    assert len(charts) == 3
    for src in charts:
        chart = s.get(console.url + src.replace("&amp;", "&"))
        assert chart.status_code == 200 and chart.headers["Content-Type"].startswith("image/svg+xml")
        assert chart.headers["Content-Security-Policy"] == SVG_CSP
        assert "<svg" in chart.text and "<script" not in chart.text and "kozea.github.io" not in chart.text
    zone = service.load_settings().timezone  # hours of the site's time zone, named on the chart and the page
    assert "time zone, " + zone in page.text
    assert f">Calls per hour of day ({zone})<" in s.get(console.url + charts[0].replace("&amp;", "&")).text
    csv = s.get(f"{console.url}/reports/agents.csv")
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("agent,answered,talk_seconds,avg_talk_seconds,avg_wait_of_answered,"
                                               "logged_in_seconds,paused_seconds,occupancy_pct")
    assert csv.text.splitlines()[1].startswith("100,2,150,")


def test_reports_are_for_supervisors_and_admins_only(console):
    s = session_for(console, "agent1", "agent")
    assert s.get(f"{console.url}/reports", allow_redirects=False).status_code == 403
    assert s.get(f"{console.url}/reports/chart/hourly.svg", allow_redirects=False).status_code == 403
    assert s.get(f"{console.url}/sounds", allow_redirects=False).status_code == 403
    assert requests.get(f"{console.url}/reports", allow_redirects=False).status_code == 302  # not logged in


def test_admin_uploads_a_greeting_and_a_bad_file_is_refused(console, install, tmp_path):
    s = session_for(console, "boss", "admin")
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(tmp_path / "hi.wav"), "synth", "2", "sine", "300"],
                   check=True)
    url = f"{console.url}/sounds"
    bad = s.post(url, data={"csrf_token": token_of(s, url), "name": "notes"},
                 files={"file": ("notes.wav", b"just some text", "audio/wav")})
    assert bad.status_code == 422 and "not a sound file Linebox can read" in bad.text
    big = (tmp_path / "hi.wav").read_bytes()
    assert len(big) > 300_000  # larger than an ordinary form may be
    ok = s.post(url, data={"csrf_token": token_of(s, url), "name": "welcome"},
                files={"file": ("Hi There.wav", big, "audio/wav")})
    assert ok.status_code == 200 and "Sound custom/welcome ready (2 s, 8 kHz mono)" in ok.text
    assert (install.sounds_path / "welcome.sln").stat().st_size == 32000
    played = s.get(f"{console.url}/sounds/file/welcome.wav")
    assert played.headers["Content-Type"] == "audio/wav" and played.content[:4] == b"RIFF"
    service.save_object("ivr", {"name": "main", "greeting": "custom/welcome"}, user="test", create=True)


def test_agent_page_ties_the_login_to_an_extension(console):
    s = session_for(console, "alice", "agent")
    url = f"{console.url}/agent"
    assert "Say which extension is yours" in s.get(url).text
    pin = service.get_object("extension", "100").voicemail_pin
    wrong = s.post(f"{url}/claim", data={"csrf_token": token_of(s, url), "extension": "100", "pin": "999999999"})
    assert "unknown extension or wrong PIN" in wrong.text
    done = s.post(f"{url}/claim", data={"csrf_token": token_of(s, url), "extension": "100", "pin": pin})
    assert "This console follows extension 100." in done.text
    assert "Asterisk is not reachable" in done.text  # no Asterisk in this test: said, not a stack trace
    refused = s.post(f"{url}/pause", data={"csrf_token": token_of(s, url), "reason": "bad\r\nAction: Originate"})
    assert "use at most 40 letters" in refused.text
    supervisor = session_for(console, "boss", "supervisor")
    assert supervisor.get(url, allow_redirects=False).status_code == 403


def test_every_chart_draws_on_a_fresh_install_with_no_calls(console):
    """A new box has no calls: each chart is an SVG saying so, never an HTTP 500 and a broken image."""
    s = session_for(console, "boss", "supervisor")
    page = s.get(f"{console.url}/reports")
    charts = re.findall(r'<img class="chart" src="([^"]+)"', page.text)
    assert len(charts) == 3
    for src in charts:
        chart = s.get(console.url + src.replace("&amp;", "&"))
        assert chart.status_code == 200, (src, chart.text[-500:])
        assert "<svg" in chart.text
    for name in ("service-level", "abandonment"):
        assert "No calls in this period" in s.get(f"{console.url}/reports/chart/{name}.svg").text


def test_reports_queue_filter_lists_the_sites_queues(console):
    """A list of the site's queues, "All queues" first; a queue no longer configured keeps its history selectable."""
    calls()
    service.save_object("queue", {"number": "500", "name": "Orders"}, "test", create=True)
    s = session_for(console, "boss", "supervisor")
    page = s.get(f"{console.url}/reports").text
    select = re.search(r'<select id="queue" name="queue">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select) == [
        ("", "All queues"), ("500", "500 Orders")]
    assert '<option value="" selected' not in select  # nothing chosen: the first, All queues, is shown
    page = s.get(f"{console.url}/reports", params={"queue": "700"}).text  # 700's calls, queue since deleted
    select = re.search(r'<select id="queue" name="queue">(.*?)</select>', page, re.S).group(1)
    assert '<option value="700" selected>700 (no longer configured)</option>' in select
    assert re.search(r'<table id="queue-report">.*?<td>700</td>', page, re.S)


def test_a_queues_service_level_threshold_and_target_are_set_in_its_form_and_used_by_the_report(console):
    """Queue 700 answers within 5 s for a 90 % target: of today's and yesterday's calls only the 5 s one
    counts (the 10 s one did before, at a fixed 20 s), and the chart says the threshold and draws the target."""
    calls()
    s = session_for(console, "boss", "admin")
    url = f"{console.url}/queues/new"
    form = s.get(url).text
    assert "Service level: answered within (seconds)" in form and "Service level target (%)" in form
    saved = s.post(url, data={"csrf_token": token_of(s, url), "number": "700", "name": "Support",
                              "strategy": "rrmemory", "overflow": "hangup", "moh_class": "default",
                              "recording": "never", "service_level_seconds": "5", "service_level_target": "90"},
                   allow_redirects=False)
    assert saved.status_code == 302, saved.text[-2000:]
    queue = service.get_object("queue", "700")
    assert (queue.service_level_seconds, queue.service_level_target) == (5, 90)
    bad = s.post(url, data={"csrf_token": token_of(s, url), "number": "701", "name": "Billing",
                            "strategy": "rrmemory", "overflow": "hangup", "moh_class": "default",
                            "recording": "never", "service_level_seconds": "20", "service_level_target": "180"})
    assert bad.status_code == 422
    assert re.findall(r'<p class="error" id="service_level_target-error">([^<]*)</p>', bad.text) == [
        "must be at most 100"]

    page = s.get(f"{console.url}/reports").text
    row = re.search(r'<table id="queue-report">.*?<tbody>\s*<tr>(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>(.*?)</td>", row)[6] == "33.3"  # 1 of 3 (2 answered + 1 abandoned) within 5 s
    chart = s.get(f"{console.url}/reports/chart/service-level.svg").text
    assert "answered within 5 s" in chart and "target 90 %" in chart


def test_a_queues_alert_thresholds_are_set_in_its_form_and_the_wallboard_names_its_alerts_in_chinese(console):
    """The SLA alert thresholds are fields of the queue's form (audited as any change, bad input named); the
    wallboard page hands its script the alerts' words in the reader's language."""
    s = session_for(console, "boss", "admin")
    url = f"{console.url}/queues/new"
    form = s.get(url).text
    assert "Alert: callers waiting above (0: off)" in form and "Alert: agents logged in below (0: off)" in form
    fields = {"csrf_token": token_of(s, url), "number": "700", "name": "Support", "strategy": "rrmemory",
              "overflow": "hangup", "moh_class": "default", "recording": "never", "service_level_seconds": "20",
              "service_level_target": "80", "alert_longest_wait_seconds": "60", "alert_callers_waiting": "3",
              "alert_min_agents": "-1"}
    bad = s.post(url, data=fields)
    assert bad.status_code == 422 and service.get_object("queue", "700") is None
    assert re.findall(r'<p class="error" id="alert_min_agents-error">([^<]*)</p>', bad.text) == [
        "must be at least 0"]
    saved = s.post(url, data={**fields, "alert_min_agents": "2"}, allow_redirects=False)
    assert saved.status_code == 302, saved.text[-2000:]
    queue = service.get_object("queue", "700")
    assert (queue.alert_longest_wait_seconds, queue.alert_callers_waiting, queue.alert_min_agents) == (60, 3, 2)
    entry = AuditEntry.select().where(AuditEntry.kind == "queue").order_by(AuditEntry.id.desc()).get()
    assert (entry.action, entry.after["alert_callers_waiting"]) == ("create", 3)

    accounts.set_language("boss", "zh_CN", actor="test")
    page = s.get(f"{console.url}/wallboard").text
    words = json.loads(html.unescape(re.search(r'data-words="([^"]*)"', page).group(1)))
    assert words["alerts"] == "SLA 告警"
    assert words["kinds"] == {"service_level": "服务水平低于目标", "longest_wait": "最长等待超过阈值",
                              "callers_waiting": "等待来电过多", "min_agents": "已登录坐席过少"}
    assert words["breach"] == "{queue}：{alert}（当前 {value}，阈值 {threshold}），开始于 {time}"


def test_the_voice_robot_report_and_its_audited_transcripts(console):
    from appliance.model.models import RobotCall
    now = datetime.now(UTC).timestamp()
    service.save_object("robot", {"name": "faq", "entries": [
        {"questions": "when are you open", "answer": "Nine to five."}]}, "test", create=True)
    RobotCall.create(uuid="a", robot="faq", started=now - 60, entry=0, outcome="answered", next="then-1",
                     transcript="when are you open")
    RobotCall.create(uuid="b", robot="faq", started=now - 30, entry=-1, outcome="handover", next="handover",
                     transcript="agent")
    s = session_for(console, "boss", "supervisor")
    page = s.get(f"{console.url}/reports").text
    table = re.search(r'<table id="robot-report">.*?</table>', page, re.S).group(0)
    rows = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]]
    assert rows == [["faq", "(no answer)", "1", "0", "0", "1", "0", "0.0"],
                    ["faq", "1 when are you open", "1", "1", "1", "0", "0", "100.0"],
                    ["faq", "(all entries)", "2", "1", "1", "1", "0", "50.0"]]
    assert "agent" not in table  # what callers said is on its own, audited page
    csv = s.get(f"{console.url}/reports/robots.csv")
    assert csv.text.splitlines()[0] == ("robot,entry,question,handled,contained,sent_on,handed_over,hung_up,"
                                        "containment_pct")
    seen = AuditEntry.select().where(AuditEntry.kind == "robot_transcript").count()
    said = s.get(f"{console.url}/reports/robot-transcripts?robot=faq")
    assert said.status_code == 200 and ">agent<" in said.text and ">when are you open<" in said.text
    csv = s.get(f"{console.url}/reports/robot-transcripts.csv")
    assert csv.text.splitlines()[0] == "started,robot,heard,entry,result" and len(csv.text.splitlines()) == 3
    audited = list(AuditEntry.select().where(AuditEntry.kind == "robot_transcript").order_by(AuditEntry.id))
    assert [(e.user, e.action, e.after) for e in audited[seen:]] == [
        ("boss", "view", {"robot": "faq", "calls": 2}), ("boss", "view", {"robot": "", "calls": 2})]
    agent = session_for(console, "agent1", "agent")
    assert agent.get(f"{console.url}/reports/robot-transcripts", allow_redirects=False).status_code in (302, 403)


def test_the_voice_robots_page_says_which_recognisers_and_models_are_on_the_box(console, install):
    from appliance.robot import engines
    s = session_for(console, "tech", "technician")
    page = s.get(f"{console.url}/robots/").text
    table = re.search(r'<table id="speech-engines">.*?</table>', page, re.S).group(0)
    assert "<td>pocketsphinx</td><td>5.1.1</td>" in table
    assert "vosk" in table
    models = re.search(r'<table id="speech-models-table">.*?</table>', page, re.S).group(0)
    assert "<td><code>en-us</code></td><td>pocketsphinx</td><td>en</td>" in models and "vosk-model" not in models
    placed = engines.models_dir(install.home) / "vosk-model-small-cn-0.22"  # as its archive unpacks
    (placed / "am").mkdir(parents=True)
    (placed / "am" / "final.mdl").write_bytes(b"\0")
    (placed / "conf").mkdir()
    page = s.get(f"{console.url}/robots/").text
    models = re.search(r'<table id="speech-models-table">.*?</table>', page, re.S).group(0)
    assert "<td><code>vosk-model-small-cn-0.22</code></td><td>vosk</td><td>zh</td>" in models
    assert html.escape(str(engines.models_dir(install.home))) in page  # where to place one
