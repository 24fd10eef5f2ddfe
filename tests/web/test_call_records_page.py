"""The Call records pages through real HTTP: a supervisor searches, opens a call with its legs, queue stay and
recording, exports the search as CSV and its recordings as one audited archive; a bad filter is named; an
agent and a technician are refused; a Chinese supervisor reads the page in Chinese."""

from __future__ import annotations

import csv
import datetime
import io
import tarfile
import urllib.parse
import urllib.request

import pytest

from appliance.access import accounts
from appliance.model.models import AuditEntry, CallRecord, QueueCall
from appliance.site import localtime
from tests.web.test_pages import login
from tests.web.test_recordings import make_wav

# the console over the SQL of the call records and reports: on SQLite and on PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_engines


def _calls(install, root) -> None:
    """An inbound queue call answered by 201 (two legs, one recording) and an outbound call via telco, today.

    The recordings folder is moved under ``root`` (the test's own folder), never the host's Asterisk spool."""
    install.asterisk_root = root
    now = datetime.datetime.now().replace(microsecond=0) - datetime.timedelta(minutes=30)
    start = localtime.asterisk_text(now.timestamp())
    CallRecord.create(uniqueid="1765.1", sequence=0, linkedid="1765.1", start=start, src="13800001111", dst="700",
                      disposition="ANSWERED", billsec=95, duration=120, lastapp="Queue")
    CallRecord.create(uniqueid="1765.2", sequence=0, linkedid="1765.1", start=start, src="13800001111", dst="201",
                      disposition="ANSWERED", billsec=95, duration=100, lastapp="Dial", channel="PJSIP/201-01")
    QueueCall.create(callid="1765.1", queue="700", entered=int(now.timestamp()), caller="13800001111",
                     outcome="answered", wait_seconds=20, talk_seconds=95, agent="201")
    CallRecord.create(uniqueid="1766.1", sequence=0, linkedid="1766.1", start=start, src="201",
                      dst="013912345678", disposition="ANSWERED", billsec=61, duration=70, trunk="telco",
                      number="013912345678", extension="201", number_class="mobile", cost_minor=125, currency="CNY")
    day = localtime.local_text(now.timestamp(), fmt="%Y/%m/%d")
    make_wav(install.recordings_dir / day / "1765.2-agent.wav", 1.0)


def test_a_supervisor_finds_a_call_opens_it_and_exports_the_search(console, tmp_path):
    _calls(console.app.extensions["linebox.install"], tmp_path)
    sup = login(console, "supervisor")
    everything = sup.get("/calls")
    assert everything.status == 200 and "2 calls found." in everything.body
    found = sup.get("/calls?searched=1&queue=700")
    assert "1 calls found." in found.body and "13800001111" in found.body and "013912345678" not in found.body
    assert 'href="/calls/1765.1"' in found.body
    call = sup.get("/calls/1765.1")
    assert call.status == 200
    assert call.body.count("<tr>") >= 3  # two legs and the queue stay
    assert "PJSIP/201-01" in call.body and "1765.2-agent.wav" in call.body
    assert sup.get("/calls/nope").status == 404
    priced = sup.get("/calls?searched=1&number=0139*")
    assert "1.25 CNY" in priced.body

    exported = sup.get("/calls.csv?searched=1&trunk=telco")
    rows = list(csv.DictReader(io.StringIO(exported.body)))
    assert exported.status == 200 and [(r["call"], r["cost"]) for r in rows] == [("1766.1", "1.25")]

    token = found.csrf_token()
    body = urllib.parse.urlencode({"csrf_token": token, "searched": "1", "queue": "700"}).encode()
    request = urllib.request.Request(sup.base + "/calls/recordings.tar.gz", data=body, method="POST")
    with sup.opener.open(request, timeout=15) as response:
        data = response.read()
        assert response.status == 200 and response.headers["Content-Type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        names = archive.getnames()
    assert "index.csv" in names and any(n.endswith("/1765.2-agent.wav") for n in names)
    entry = AuditEntry.select().where(AuditEntry.action == "export").get()
    assert entry.user == "supervisor1" and entry.after["search"]["queue"] == "700"


def test_a_bad_filter_is_named_and_other_roles_are_refused(console):
    sup = login(console, "supervisor")
    bad = sup.get("/calls?searched=1&number=12;3&from=someday")
    assert bad.status == 422 and 'id="search-problems"' in bad.body
    assert "number:" in bad.body and "from:" in bad.body
    for role in ("agent", "technician"):
        assert login(console, role).get("/calls").status == 403


def test_a_chinese_supervisor_reads_the_call_records_in_chinese(console, tmp_path):
    _calls(console.app.extensions["linebox.install"], tmp_path)
    sup = login(console, "supervisor")
    accounts.set_language("supervisor1", "zh_CN", actor="test")
    page = sup.get("/calls")
    assert "通话记录" in page.body and "共找到 2 通呼叫。" in page.body and "下载这些呼叫的录音" in page.body
    assert "呼叫段" in sup.get("/calls/1765.1").body
