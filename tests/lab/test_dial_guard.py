"""The dial guard on real calls (issue 19 item 3, issue 20's budgets): a phone registered to the lab's
Asterisk dials out through the carrier's trunk, the guard (FastAGI, as linebox-agi.service serves it) is
asked before the Dial.

* an extension without international permission dials an international number: refused, the caller hears
  the announcement, the call record says why; the same extension dials 110: it reaches the carrier; with
  the guard's service stopped, a mobile call is refused (fail closed) and 119 still goes out;
* a cap reached during a call: the call ends at the limit; the next call is refused and the status page
  alerts; the admin raises the cap: the next call goes out;
* a monthly budget that blocks: the call ends when its money is spent, the next one is refused;
* calls at once: a second call while the first is up is refused, and goes out once the first is over.
"""

from __future__ import annotations

import datetime
import time

import pytest

from appliance.access import accounts
from appliance.billing import rates_csv
from appliance.callcenter import collector
from appliance.model.models import CallRecord, GuardCall
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app
from tests.lab.helpers import add, live_with_carrier, loud_seconds, update
from tests.web.conftest import Browser

pytestmark = pytest.mark.lab

INTERNATIONAL = "00442079460000"  # London, from China
MOBILE = "13912345678"
HEADER = "prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description\r\n"


def _site(pbx, carrier, **extension):
    service.save_settings({"country_code": "86", "area_code": "21"}, user="test")
    add("extension", number="100", name="Alice", **extension)
    phones = live_with_carrier(pbx, carrier)
    add("outbound_route", name="out", patterns=[{"match": "_00X."}, {"match": "_1NXXXXXXXXX"}, {"match": "_11X"},
                                                {"match": "_12X"}], trunks=["telco"])
    pbx.apply()
    return phones


def _collected(pbx, match, timeout: float = 30) -> CallRecord:
    """The call record ``match`` picks, once the collector has stored it (Asterisk writes it at hang-up)."""
    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    deadline = time.monotonic() + timeout
    while True:
        collector.collect_once(sources)
        found = CallRecord.select().where(match).first()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no such call record: {[(r.dst, r.userfield) for r in CallRecord.select()]}")
        time.sleep(0.3)


def _refused_call(phones, number: str, tag: str) -> float:
    """Place a call that the guard refuses: the caller hears the announcement (seconds of sound) and the
    carrier's telco side never sees the call."""
    mark = phones.mark()
    phones.call("ph100", number, tag=tag, hold=8, record=True)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == tag, since=mark, timeout=30)
    assert not [e for e in phones.events[mark:] if e.get("UserEvent") == "CarrierIncoming"
                and e.get("Exten") == number], "a refused call reached the carrier"
    return loud_seconds(phones.heard(tag), after=0.5)


def _goes_out(phones, number: str, tag: str, hold: int = 2) -> dict:
    mark = phones.mark()
    phones.set_behaviour(number, "answer", hold=hold, ring=0)
    phones.call("ph100", number, tag=tag, hold=hold + 20)
    incoming = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == number, since=mark, timeout=30)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == tag, since=mark, timeout=40)
    return incoming


def test_no_international_permission_refuses_with_the_announcement_and_110_goes_out(pbx, carrier):
    phones = _site(pbx, carrier)  # a new site: international and premium blocked by default
    assert _refused_call(phones, INTERNATIONAL, "intl") > 0.5
    record = _collected(pbx, (CallRecord.dst == INTERNATIONAL) & (CallRecord.userfield.startswith("refused:")))
    assert record.userfield == "refused:class:international"
    incoming = _goes_out(phones, "110", "emergency")
    assert incoming["Exten"] == "110"

    # the guard's service stops: the box fails closed, but emergency numbers still go out
    stop_fastagi = pbx.instance.cleanups.pop()
    stop_fastagi()
    assert _refused_call(phones, MOBILE, "no-guard") > 0.5
    unguarded = _collected(pbx, (CallRecord.dst == MOBILE) & (CallRecord.userfield.startswith("refused:")))
    assert unguarded.userfield == "refused:guard_unavailable"
    assert _goes_out(phones, "119", "fire")["Exten"] == "119"


def test_a_cap_ends_the_call_at_the_limit_refuses_the_next_and_alerts_until_raised(pbx, carrier):
    phones = _site(pbx, carrier, daily_minutes=0.1)  # 6 seconds a day
    mark = phones.mark()
    phones.set_behaviour(MOBILE, "answer", hold=40, ring=0)
    phones.call("ph100", MOBILE, tag="capped", hold=40)
    answered = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == MOBILE, since=mark, timeout=30)
    ended = phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "capped", since=mark, timeout=30)
    assert ended["_time"] - answered["_time"] < 12, "the call was not cut at its 6 s allowance"
    record = _collected(pbx, (CallRecord.number == MOBILE) & (CallRecord.trunk == "telco"))
    assert 5 <= record.billsec <= 8, record.billsec

    assert _refused_call(phones, MOBILE, "over") > 0.5
    refused = _collected(pbx, CallRecord.userfield.startswith("refused:"))
    assert refused.userfield == "refused:daily_minutes:extension:100"
    accounts.ensure_first_admin()
    accounts.set_password("admin", "correct horse battery", actor="test")
    server = make_server(create_app(pbx.install), "127.0.0.1", 0)
    server.start()
    try:
        browser = Browser(server.url)
        assert browser.login("admin", "correct horse battery").status == 302
        assert "Daily outbound minutes reached" in browser.get("/").body
        update("extension", "100", daily_minutes=5)  # the admin raises the cap
        assert "Daily outbound minutes reached" not in browser.get("/").body
    finally:
        server.close()
    assert _goes_out(phones, MOBILE, "raised")["Exten"] == MOBILE


def test_a_blocking_budget_ends_the_call_when_spent_and_refuses_the_next(pbx, carrier):
    phones = _site(pbx, carrier, monthly_budget="5")
    service.save_settings({"budget_action": "block"}, user="test")
    # 60.00 a minute: the 5.00 budget pays for 5 seconds
    rates_csv.import_bytes("telco", (HEADER + ",mobile,60,1/1,,,CNY,\r\n").encode(),
                           datetime.date.today() - datetime.timedelta(days=1), "test")
    mark = phones.mark()
    phones.set_behaviour(MOBILE, "answer", hold=40, ring=0)
    phones.call("ph100", MOBILE, tag="paid", hold=40)
    answered = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == MOBILE, since=mark, timeout=30)
    ended = phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "paid", since=mark, timeout=30)
    assert ended["_time"] - answered["_time"] < 11, "the call was not cut when its budget was spent"
    # its hang-up handler told the guard how long it was answered: that counts until the collector runs
    deadline = time.monotonic() + 15
    while not (row := GuardCall.get_or_none(GuardCall.answered_seconds.is_null(False))):
        assert time.monotonic() < deadline, f"no hang-up from the call: {list(GuardCall.select().dicts())}"
        time.sleep(0.2)
    assert 4 <= row.answered_seconds <= 7, row.answered_seconds
    assert _refused_call(phones, MOBILE, "broke") > 0.5
    refused = _collected(pbx, CallRecord.userfield.startswith("refused:"))
    assert refused.userfield == "refused:budget:extension:100"
    assert _goes_out(phones, "120", "ambulance")["Exten"] == "120"  # emergency: never blocked by a budget


def test_calls_at_once_are_counted_by_asterisk_and_the_extra_call_is_refused(pbx, carrier):
    phones = _site(pbx, carrier, max_outbound_calls=1)
    mark = phones.mark()
    phones.set_behaviour(MOBILE, "answer", hold=30, ring=0)
    phones.call("ph100", MOBILE, tag="first", hold=30)
    phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == MOBILE, since=mark, timeout=30)
    assert _refused_call(phones, "13912345679", "second") > 0.5
    refused = _collected(pbx, CallRecord.userfield.startswith("refused:"))
    assert refused.userfield == "refused:calls:extension:100"
    pbx.cli("channel request hangup all")  # the first call ends: the extension may call again
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "first", since=mark, timeout=30)
    assert _goes_out(phones, "13912345679", "third")["Exten"] == "13912345679"
