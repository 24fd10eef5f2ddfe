"""Searching call records (appliance.callcenter.callrecords) on a real database: calls grouped by linkedid,
every filter, the site's days, costs in each currency's unit, the CSV export and the audited archive of the
recordings.  The lab's cost and queue tests make such rows from real calls; here they are written as the
collector stores them, to cover every filter's edge."""

from __future__ import annotations

import csv
import datetime
import io
import tarfile
import zoneinfo
from decimal import Decimal

import pytest

from appliance.callcenter import callrecords
from appliance.errors import SiteError
from appliance.model.models import AuditEntry, CallRecord, QueueCall, QueueEvent
from appliance.site import localtime
from tests.web.test_recordings import make_wav

# the SQL of the data model: runs on SQLite and on PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_engines

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def _leg(uniqueid: str, linkedid: str, start: datetime.datetime, **fields) -> None:
    """A leg as the collector stores it; ``start`` a site-local (Shanghai) moment, stored as Asterisk's time."""
    CallRecord.create(uniqueid=uniqueid, sequence=0, linkedid=linkedid,
                      start=localtime.asterisk_text(start.replace(tzinfo=SHANGHAI).timestamp()), **fields)


@pytest.fixture
def calls(install):
    """Three calls: an inbound queue call answered by agent 201 (two legs, recorded), an outbound call that
    failed on telco and went out on backup (priced in CNY), and an unanswered internal call a day earlier."""
    day = datetime.datetime(2026, 12, 7, 9, 30)
    _leg("100.1", "100.1", day, src="13800001111", dst="700", disposition="ANSWERED", billsec=95, duration=120,
         lastapp="Queue")
    _leg("100.2", "100.1", day + datetime.timedelta(seconds=20), src="13800001111", dst="201",
         disposition="ANSWERED", billsec=95, duration=100, lastapp="Dial", channel="Local/201@x")
    QueueCall.create(callid="100.1", queue="700", entered=int(day.replace(tzinfo=SHANGHAI).timestamp()),
                     caller="13800001111", outcome="answered", wait_seconds=20, talk_seconds=95, agent="201")
    for second, event in ((0, "ENTERQUEUE"), (20, "CONNECT"), (115, "COMPLETECALLER")):
        QueueEvent.create(time=int(day.replace(tzinfo=SHANGHAI).timestamp()) + second, callid="100.1",
                          queue="700", agent="201" if second else "NONE", event=event, data="")
    _leg("200.1", "200.1", day + datetime.timedelta(hours=2), src="201", dst="013912345678",
         disposition="FAILED", trunk="telco", number="013912345678", extension="201", number_class="mobile")
    _leg("200.2", "200.1", day + datetime.timedelta(hours=2, seconds=1), src="201", dst="013912345678",
         disposition="ANSWERED", billsec=61, duration=70, trunk="backup", number="013912345678",
         extension="201", number_class="mobile", cost_minor=125, currency="CNY")
    _leg("300.1", "300.1", day - datetime.timedelta(days=1), src="202", dst="203", disposition="NO ANSWER",
         duration=25, extension="202")
    return install


def _recording(folder, day: str, name: str, seconds: float = 1.0) -> None:
    make_wav(folder / day.replace("-", "/") / name, seconds)


def _found(**args) -> list[str]:
    found, total = callrecords.search_calls(callrecords.parse_search(args), zone=SHANGHAI)
    assert total == len(found)
    return [call.linkedid for call in found]


def test_each_filter_finds_the_calls_with_a_matching_leg(calls):
    assert _found() == ["200.1", "100.1", "300.1"]  # newest first
    assert _found(number="13800001111") == ["100.1"]
    assert _found(number="0139*") == ["200.1"]  # a prefix: the dialled number
    assert _found(number="0139") == []
    assert _found(extension="201") == ["200.1", "100.1"]  # the caller of one, the agent of the other
    assert _found(queue="700") == ["100.1"]
    assert _found(trunk="telco") == ["200.1"]  # the leg that failed on telco: the call is found by it
    assert _found(outcome="no answer") == ["300.1"]
    assert _found(**{"from": "2026-12-07", "to": "2026-12-07"}) == ["200.1", "100.1"]  # Shanghai's day
    assert _found(**{"to": "2026-12-06"}) == ["300.1"]
    assert _found(min_cost="1.25") == ["200.1"] and _found(min_cost="1.26") == []
    assert _found(max_cost="1.24") == []


def test_a_call_is_summed_over_its_legs(calls):
    found, _total = callrecords.search_calls(callrecords.Search(number="0139*"), zone=SHANGHAI)
    call = found[0]
    assert (call.caller, call.called, call.outcome, call.trunk, call.extension) == (
        "201", "013912345678", "ANSWERED", "backup", "201")
    assert call.cost == Decimal("1.25") and call.currency == "CNY" and len(call.legs) == 2
    assert call.start == "2026-12-07 11:30:00" and call.talk_seconds == 61
    inbound = callrecords.search_calls(callrecords.Search(queue="700"), zone=SHANGHAI)[0][0]
    assert inbound.queues == ["700"] and inbound.cost is None


def test_paging_counts_every_match(calls):
    page, total = callrecords.search_calls(callrecords.Search(), limit=2, offset=2, zone=SHANGHAI)
    assert total == 3 and [c.linkedid for c in page] == ["300.1"]
    first, total = callrecords.search_calls(callrecords.Search(), limit=2, zone=SHANGHAI)
    assert total == 3 and len(first) == 2
    beyond, total = callrecords.search_calls(callrecords.Search(), limit=2, offset=10, zone=SHANGHAI)
    assert beyond == [] and total == 3  # a page past the end still says how many there are
    none, total = callrecords.search_calls(callrecords.Search(number="999*"), zone=SHANGHAI)
    assert none == [] and total == 0


def test_bad_filters_are_named_and_nothing_is_searched():
    with pytest.raises(SiteError) as refused:
        callrecords.parse_search({"number": "1;DROP", "from": "yesterday", "min_cost": "-1", "outcome": "maybe",
                                  "trunk": "a b"})
    assert {p.where for p in refused.value.problems} == {"number", "from", "min_cost", "outcome", "trunk"}
    with pytest.raises(SiteError) as backwards:
        callrecords.parse_search({"from": "2026-12-07", "to": "2026-12-01"})
    assert [p.where for p in backwards.value.problems] == ["to"]


def test_a_call_shows_its_legs_queue_stay_events_and_recordings(calls, tmp_path):
    _recording(tmp_path, "2026-12-07", "100.1-caller.wav")
    _recording(tmp_path, "2026-12-07", "100.2-agent.wav")
    _recording(tmp_path, "2026-12-07", "999.9-other.wav")
    detail = callrecords.call_detail("100.1", tmp_path, zone=SHANGHAI)
    assert detail is not None
    assert [leg.uniqueid for leg in detail.call.legs] == ["100.1", "100.2"]
    assert [(s.queue, s.agent, s.wait_seconds) for s in detail.stays] == [("700", "201", 20)]
    assert [e.event for e in detail.events] == ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert detail.events[0].time == "2026-12-07 09:30:00"
    assert [r.path for r in detail.recordings] == ["2026/12/07/100.1-caller.wav", "2026/12/07/100.2-agent.wav"]
    assert callrecords.call_detail("nope", tmp_path) is None


def test_csv_export_has_one_line_per_call(calls):
    rows = list(csv.DictReader(io.StringIO(callrecords.export_csv(callrecords.Search(), zone=SHANGHAI))))
    assert [r["call"] for r in rows] == ["200.1", "100.1", "300.1"]
    assert rows[0]["cost"] == "1.25" and rows[0]["legs"] == "2" and rows[1]["queues"] == "700"


def test_the_recordings_of_a_search_go_into_one_archive_with_an_index_and_one_audit_row(calls, tmp_path):
    folder = tmp_path / "monitor"
    _recording(folder, "2026-12-07", "100.1-caller.wav", 0.5)
    _recording(folder, "2026-12-06", "300.1-caller.wav")
    archive = tmp_path / "calls.tar.gz"
    count = callrecords.export_recordings(callrecords.Search(queue="700"), folder, "sup", archive, zone=SHANGHAI)
    assert count == 1
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["index.csv", "recordings/2026/12/07/100.1-caller.wav"]
        index = list(csv.DictReader(io.StringIO(tar.extractfile("index.csv").read().decode())))  # type: ignore[union-attr]
    assert index[0]["file"] == "2026/12/07/100.1-caller.wav" and index[0]["seconds"] == "0.5"
    assert index[0]["call"] == "100.1" and index[0]["from"] == "13800001111"
    entry = AuditEntry.select().where(AuditEntry.action == "export").get()
    assert entry.user == "sup" and entry.after == {"files": ["2026/12/07/100.1-caller.wav"], "search": {"queue": "700"}}
