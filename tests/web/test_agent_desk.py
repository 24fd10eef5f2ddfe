"""The agent's desk over real HTTP (no Asterisk here; the lab test drives it with real calls): the caller's
history as the pop and ``/agent/history`` give it, adding an unknown caller to the phonebook, dispositions
and notes saved against the call, refused with the field at fault, and counted in the reports."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from appliance.errors import SiteError
from appliance.model.models import AuditEntry, CallNote, CallRecord, QueueCall
from appliance.phonebook import contacts as phonebook
from appliance.site import service
from tests.web.test_callcenter_pages import session_for, token_of

CALLER = "+15550001111"


def _agent(console, name: str = "alice", role: str = "agent", extension: str = "100"):
    s = session_for(console, name, role)
    url = f"{console.url}/agent"
    pin = service.get_object("extension", extension).voicemail_pin
    s.post(f"{url}/claim", data={"csrf_token": token_of(s, url), "extension": extension, "pin": pin})
    return s


def _history_site() -> int:
    """Queues 700 and 701 (700 lists dispositions and requires one); the caller's earlier calls, written as
    Asterisk may write the same number (+1..., 001...): one through 700 then 701 (a transfer, one callid),
    one with a disposition and a note, one abandoned today; another caller's call."""
    service.save_object("queue", {"number": "700", "name": "Support", "disposition_required": True,
                                  "dispositions": [{"name": "Sale"}, {"name": "Complaint"}]}, "test", create=True)
    service.save_object("queue", {"number": "701", "name": "Billing"}, "test", create=True)
    now = int(datetime.now(UTC).timestamp())
    QueueCall.insert_many([
        {"callid": "1000.1", "queue": "700", "entered": now - 7200, "caller": CALLER, "outcome": "answered",
         "wait_seconds": 5, "talk_seconds": 60, "agent": "100", "ended_by": "transfer"},
        {"callid": "1000.1", "queue": "701", "entered": now - 7100, "caller": CALLER, "outcome": "answered",
         "wait_seconds": 3, "talk_seconds": 40, "agent": "101"},
        {"callid": "2000.1", "queue": "700", "entered": now - 3600, "caller": "0015550001111",
         "outcome": "answered", "wait_seconds": 2, "talk_seconds": 30, "agent": "101"},
        {"callid": "3000.1", "queue": "700", "entered": now - 60, "caller": CALLER, "outcome": "abandoned",
         "wait_seconds": 20},
        {"callid": "4000.1", "queue": "700", "entered": now - 30, "caller": "+15550002222", "outcome": "answered",
         "wait_seconds": 1, "talk_seconds": 10, "agent": "100"},
    ]).execute()
    CallRecord.insert(uniqueid="1000.1", sequence=1, linkedid="1000.1", start="2026-12-07 10:00:00").execute()
    CallNote.insert(callid="2000.1", linkedid="2000.1", queue="700", agent="101", disposition="Complaint",
                    note="wants a refund").execute()
    return now


def test_the_pop_history_shows_the_callers_earlier_calls_with_dispositions(console):
    _history_site()
    s = _agent(console)
    answer = s.get(f"{console.url}/agent/history", params={"number": "+1 555 000 1111", "call": "5000.1"})
    assert answer.status_code == 200
    history = answer.json()
    assert history["number"] == CALLER and history["contact"] is None
    assert history["add_contact"] == "/contacts/new?number=%2B15550001111"
    assert history["abandoned_today"] == 1
    calls = history["calls"]
    assert [c["callid"] for c in calls] == ["3000.1", "2000.1", "1000.1"]  # newest first, the other caller not
    transferred = calls[2]
    assert (transferred["queues"], transferred["agent"], transferred["talk_seconds"]) == (["700", "701"], "101", 100)
    assert (calls[1]["disposition"], calls[1]["note"], calls[1]["agent"]) == ("Complaint", "wants a refund", "101")
    assert calls[0]["outcome"] == "abandoned"
    assert all(c["recordings"] == [] for c in calls)  # agents may not listen
    # the call ringing now is not its own history
    assert [c["callid"] for c in s.get(f"{console.url}/agent/history",
                                       params={"number": CALLER, "call": "3000.1"}).json()["calls"]] == \
        ["2000.1", "1000.1"]


def test_an_admin_gets_the_recording_link_an_agent_does_not(console, install, tmp_path):
    install.asterisk_root = tmp_path  # the recordings folder under the test's own directory
    now = _history_site()
    day = datetime.fromtimestamp(now - 3600, UTC).strftime("%Y/%m/%d")  # the site's zone is UTC here
    folder = install.recordings_dir / day
    folder.mkdir(parents=True)
    (folder / "2000.1-queue700.wav").write_bytes(b"RIFF")
    admin = session_for(console, "boss", "admin")
    calls = admin.get(f"{console.url}/agent/history", params={"number": CALLER}).json()["calls"]
    assert calls[1]["recordings"] == [f"/recordings/file/{day}/2000.1-queue700.wav"]
    agent = _agent(console)
    assert agent.get(f"{console.url}/agent/history", params={"number": CALLER}).json()["calls"][1]["recordings"] == []


def test_an_agent_adds_the_unknown_caller_to_the_phonebook_from_the_pop(console):
    s = _agent(console)
    page = s.get(f"{console.url}/contacts/new", params={"number": CALLER})
    assert page.status_code == 200 and CALLER in page.text and "Back to the phonebook" not in page.text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    saved = s.post(f"{console.url}/contacts/new", data={"csrf_token": token, "name": "Anna Berg", "company": "",
                                                        "numbers": CALLER, "note": ""}, allow_redirects=False)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/agent")
    assert s.get(f"{console.url}/agent/history", params={"number": CALLER}).json()["contact"]["name"] == "Anna Berg"
    assert s.get(f"{console.url}/contacts").status_code == 403  # agents add; they do not browse the phonebook
    contact_id = phonebook.list_contacts("", 10, 0)[0][0]["id"]
    assert s.post(f"{console.url}/contacts/{contact_id}", data={"csrf_token": token, "name": "X"}).status_code == 403


def test_a_disposition_is_saved_against_the_call_refused_when_wrong_and_reported(console):
    _history_site()
    s = _agent(console)
    url = f"{console.url}/agent/disposition"

    def save(**fields):
        return s.post(url, data={"csrf_token": token_of(s, f"{console.url}/agent"), "call": "4000.1",
                                 "linkedid": "4000.1", "queue": "700", "note": "", **fields})

    wrong = save(disposition="Lunch")
    assert wrong.status_code == 422 and "queue 700 has no disposition Lunch" in wrong.json()["problems"]
    missing = save(disposition="")
    assert missing.status_code == 422 and "needs a disposition" in missing.json()["problems"]
    no_call = save(disposition="Sale", call="")
    assert no_call.status_code == 422 and "no call is chosen" in no_call.json()["problems"]
    assert CallNote.select().where(CallNote.callid == "4000.1").count() == 0  # nothing half-written
    done = save(disposition="Sale", note="ordered 3 boxes")
    assert done.status_code == 200 and done.json()["saved"] is True
    assert done.json()["released"] is False  # Asterisk is absent here: saved all the same
    note = CallNote.get(CallNote.callid == "4000.1")
    assert (note.queue, note.agent, note.disposition, note.note, note.user) == \
        ("700", "100", "Sale", "ordered 3 boxes", "alice")
    assert AuditEntry.get((AuditEntry.kind == "call") & (AuditEntry.key == "4000.1")).user == "alice"
    # changed later: one note per call
    assert save(disposition="Complaint", note="changed his mind").status_code == 200
    assert CallNote.select().where(CallNote.callid == "4000.1").count() == 1

    boss = session_for(console, "boss", "supervisor")
    page = boss.get(f"{console.url}/reports")
    rows = re.search(r'<table id="disposition-report">.*?<tbody>(.*?)</tbody>', page.text, re.S).group(1)
    cells = [re.findall(r"<td>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", rows, re.S)]
    assert ["700", "100", "Complaint", "1"] in cells and ["700", "101", "Complaint", "1"] in cells
    csv = boss.get(f"{console.url}/reports/dispositions.csv").text.splitlines()
    assert csv[0] == "queue,agent,disposition,calls" and "700,100,Complaint,1" in csv


@pytest.mark.parametrize("data, field", [
    ({"disposition_required": True}, "disposition_required"),
    ({"dispositions": [{"name": "Sale"}, {"name": "sale"}]}, "dispositions"),
    ({"dispositions": [{"name": "x" * 41}]}, "dispositions"),
])
def test_bad_dispositions_are_refused_naming_the_field(install, data, field):
    with pytest.raises(SiteError) as refused:
        service.save_object("queue", {"number": "700", "name": "Support", **data}, "test", create=True)
    assert any(field in p.where for p in refused.value.problems), refused.value.problems
    assert service.get_object("queue", "700") is None


def test_an_admin_lists_a_queues_dispositions_in_its_generated_form(console, admin_password):
    """One disposition a line (spaces kept); required without any is refused next to the field."""
    from tests.web.test_pages import errors_of, input_value
    browser = console.browser()
    browser.login("admin", admin_password)
    fields = {"number": "500", "name": "Support", "strategy": "rrmemory", "overflow": "hangup",
              "moh_class": "default", "recording": "never", "disposition_required": "on"}
    refused = browser.submit("/queues/new", {**fields, "dispositions": ""})
    assert errors_of(refused.body) == {"disposition_required": "list the dispositions the agent chooses from first"}
    assert service.get_object("queue", "500") is None
    saved = browser.submit("/queues/new", {**fields, "dispositions": "Sale\nCall back\n"})
    assert saved.status == 302, errors_of(saved.body)
    queue = service.get_object("queue", "500")
    assert ([d.name for d in queue.dispositions], queue.disposition_required) == (["Sale", "Call back"], True)
    assert input_value(browser.get("/queues/edit/500").body, "dispositions") == "Sale\nCall back"


def test_withheld_numbers_share_no_history(console):
    """Callers who withhold their number are not one customer: their pop shows no history."""
    service.save_object("queue", {"number": "700", "name": "Support"}, "test", create=True)
    QueueCall.insert(callid="1.1", queue="700", entered=1, caller="anonymous", outcome="abandoned").execute()
    s = _agent(console)
    history = s.get(f"{console.url}/agent/history", params={"number": "anonymous"}).json()
    assert (history["calls"], history["abandoned_today"], history["contact"]) == ([], 0, None)
    assert "add_contact" not in history  # nothing to add to the phonebook
