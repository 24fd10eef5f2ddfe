"""The missed-call follow-up list over real HTTP (the lab test drives it with real calls): misses of one
customer in one queue shown as one line, withheld numbers left out, claimed by one agent at a time, closed
by a later answered call of the customer or a call that reached them, or by hand; audited; reported."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from appliance.callcenter import missed
from appliance.model.models import AuditEntry, CallRecord, MissedCall, QueueCall, QueueEvent
from appliance.site import localtime, service
from tests.web.test_callcenter_pages import session_for, token_of

CALLER = "+15550001111"


def _misses(now: int) -> None:
    service.save_object("queue", {"number": "700", "name": "Support"}, "test", create=True)
    QueueCall.insert_many([
        {"callid": "1.1", "queue": "700", "entered": now - 900, "caller": CALLER, "outcome": "abandoned",
         "wait_seconds": 40},
        {"callid": "1.2", "queue": "700", "entered": now - 600, "caller": "0015550001111", "outcome": "timeout",
         "wait_seconds": 90},  # the same customer, written another way
        {"callid": "1.3", "queue": "700", "entered": now - 500, "caller": "anonymous", "outcome": "abandoned",
         "wait_seconds": 5},  # nothing to call back
        {"callid": "1.4", "queue": "700", "entered": now - 400, "caller": "+15550002222", "outcome": "exitempty"},
        {"callid": "1.5", "queue": "700", "entered": now - 300, "caller": "+15550003333", "outcome": "answered",
         "wait_seconds": 3, "talk_seconds": 20, "agent": "100"},
    ]).execute()
    QueueEvent.insert(time=now - 560, callid="1.2", queue="700", agent="NONE", event="EXITWITHTIMEOUT",
                      data="3|4|90").execute()


def _page(s, url):
    return s.get(f"{url}/missed")


def test_the_list_shows_one_line_per_customer_and_queue(console):
    now = int(time.time())
    _misses(now)
    s = session_for(console, "alice", "agent")
    page = _page(s, console.url)
    assert page.status_code == 200
    text = page.text
    assert 'data-number="+15550001111"' in text and 'data-number="+15550002222"' in text
    assert "anonymous" not in text and "+15550003333" not in text  # withheld; answered
    lines = {line.number: line for line in missed.open_lines()}
    line = lines[CALLER]
    assert (line.count, line.longest_wait, line.position, line.first, line.last) == (2, 90, 3, now - 900, now - 600)


@pytest.mark.both_engines  # the SQL behind the page, on SQLite and on PostgreSQL (tests/conftest.py)
def test_one_agent_claims_a_line_the_other_cannot_and_a_supervisor_releases_it(console):
    _misses(int(time.time()))
    alice, bob = session_for(console, "alice", "agent"), session_for(console, "bob", "agent")
    url = f"{console.url}/missed"
    claimed = alice.post(f"{url}/claim", data={"csrf_token": token_of(alice, url), "queue": "700", "number": CALLER})
    assert claimed.status_code == 200 and "You call +15550001111 back" in claimed.text
    refused = bob.post(f"{url}/claim", data={"csrf_token": token_of(bob, url), "queue": "700", "number": CALLER})
    assert "alice already calls +15550001111 back" in refused.text
    refused = bob.post(f"{url}/release", data={"csrf_token": token_of(bob, url), "queue": "700", "number": CALLER})
    assert "alice holds this missed call, not you" in refused.text
    boss = session_for(console, "carol", "supervisor")
    boss.post(f"{url}/release", data={"csrf_token": token_of(boss, url), "queue": "700", "number": CALLER})
    assert {line.number: line.status for line in missed.open_lines()}[CALLER] == "open"
    assert [e.action for e in AuditEntry.select().where(AuditEntry.kind == "missed_call")
            .order_by(AuditEntry.id)] == ["claim", "release"]
    unknown = bob.post(f"{url}/claim", data={"csrf_token": token_of(bob, url), "queue": "700", "number": "+1999"})
    assert "no open missed call from +1999 in queue 700" in unknown.text


def test_a_line_closes_when_the_customer_calls_again_or_is_reached_and_the_report_counts_it(console):
    now = int(time.time())
    _misses(now)
    missed.sync()
    # the customer calls in again and an agent answers: both their misses close
    QueueCall.insert(callid="2.1", queue="701", entered=now - 100, caller="0015550001111", outcome="answered",
                     wait_seconds=4, talk_seconds=30, agent="101").execute()
    # +15550002222 is called back and answers
    CallRecord.insert(uniqueid="3.1", sequence=1, linkedid="3.1", start=localtime.asterisk_text(now - 50),
                      answer=localtime.asterisk_text(now - 45), src="100", dst="+15550002222", billsec=12).execute()
    missed.sync()
    assert missed.open_lines() == []
    closed = {line.number: line for line in missed.closed_lines(now - 3600)}
    assert (closed[CALLER].reason, closed[CALLER].count, closed[CALLER].closed) == ("called_again", 2, now - 96)
    assert (closed["+15550002222"].reason, closed["+15550002222"].closed_by) == ("reached", "3.1")
    [row] = missed.report(datetime.fromtimestamp(now - 3600, UTC), datetime.fromtimestamp(now + 1, UTC))
    assert (row.queue, row.missed, row.customers, row.called_again, row.reached, row.still_open) == \
        ("700", 3, 2, 2, 1, 0)
    # from each miss to the call that closed it: 804 and 504 s (answered at now - 96), 350 s (called at now - 50)
    assert row.median_follow_up_seconds == 504
    text = session_for(console, "alice", "agent").get(f"{console.url}/missed").text
    assert "called in again and was answered" in text and "reached by a call" in text


def test_a_miss_after_the_call_back_stays_open_and_a_line_can_be_closed_by_hand(console):
    now = int(time.time())
    _misses(now)
    CallRecord.insert(uniqueid="3.1", sequence=1, linkedid="3.1", start=localtime.asterisk_text(now - 700),
                      answer=localtime.asterisk_text(now - 695), src="100", dst=CALLER, billsec=12).execute()
    missed.sync()
    assert [(m.callid, m.status) for m in MissedCall.select().where(MissedCall.number == CALLER)
            .order_by(MissedCall.entered)] == [("1.1", "closed"), ("1.2", "open")]
    s = session_for(console, "alice", "agent")
    url = f"{console.url}/missed"
    s.post(f"{url}/dismiss", data={"csrf_token": token_of(s, url), "queue": "700", "number": CALLER})
    assert CALLER not in {line.number for line in missed.open_lines()}
    # the latest close first: by hand now, the first miss by the call back before
    assert [line.reason for line in missed.closed_lines(now - 3600) if line.number == CALLER] == \
        ["dismissed", "reached"]


def test_the_list_is_for_agents_supervisors_and_admins(console):
    assert session_for(console, "tom", "technician").get(f"{console.url}/missed").status_code == 403
    assert session_for(console, "sue", "supervisor").get(f"{console.url}/missed").status_code == 200


def test_call_back_needs_a_phone_of_ones_own_and_is_for_those_who_may_dial(console):
    _misses(int(time.time()))
    url = f"{console.url}/missed"
    boss = session_for(console, "carol", "supervisor")
    assert "call-back" not in boss.get(url).text  # supervisors do not dial from the console
    assert boss.post(f"{url}/call", data={"csrf_token": token_of(boss, url), "queue": "700",
                                          "number": CALLER}).status_code == 403
    alice = session_for(console, "alice", "agent")
    assert 'class="call-back"' in alice.get(url).text
    answer = alice.post(f"{url}/call", data={"csrf_token": token_of(alice, url), "queue": "700", "number": CALLER})
    assert "say which extension is yours first" in answer.text
    assert missed.number_to_dial(CALLER, "1") == "5550001111" and missed.number_to_dial(CALLER, "") == CALLER
