"""Least-cost routing on real calls (issue 20, item 4): a route with ``least_cost`` on sends a call out
through the trunk that prices the number cheapest even when it is listed after a dearer one, and when the
cheapest trunk fails the next cheapest carries the call; the call record is priced at the rate of the trunk
that carried it, to the cent.

The expected cost is worked out here from the billed seconds Asterisk recorded, with the rules the admin
guide states, independently of appliance.billing (as tests/lab/test_call_cost.py does).
"""

from __future__ import annotations

import datetime
import time

import pytest

from appliance.billing import calls, rates_csv
from appliance.callcenter import collector
from appliance.model.models import CallRecord
from appliance.site import service
from lab.instance import free_port
from tests.lab.helpers import add
from tests.lab.test_call_cost import HEADER, _expected, _leg

pytestmark = pytest.mark.lab

MOBILE = "13912345678"  # route "mobiles" [telco, backup]: backup's 0.08 beats telco's 0.20
VIA_DEAD = "13800138000"  # route "cheapest-first" [backup, telco, dead]: dead 0.01 < telco 0.20 < backup 0.90


def test_the_cheapest_trunk_carries_the_call_and_the_next_cheapest_when_it_fails(pbx, carrier):
    service.save_settings({"country_code": "86", "area_code": "21"}, user="test")
    add("extension", number="100", name="Alice")
    pbx.apply()
    phones = carrier()
    add("trunk", name="telco", host="127.0.0.1", port=phones.telco_port, match=[f"127.0.0.1:{phones.telco_port}"])
    add("trunk", name="backup", host="127.0.0.1", port=phones.telco_b_port,
        match=[f"127.0.0.1:{phones.telco_b_port}"])
    dead_port = free_port()  # nothing answers there
    add("trunk", name="dead", host="127.0.0.1", port=dead_port, match=[f"127.0.0.1:{dead_port}"], qualify_seconds=2)
    add("outbound_route", name="mobiles", patterns=[{"match": "_1NXXXXXXXXX"}], trunks=["telco", "backup"],
        least_cost=True)
    add("outbound_route", name="cheapest-first", patterns=[{"match": "_71NXXXXXXXXX", "strip": 1}],
        trunks=["backup", "telco", "dead"], least_cost=True)
    today = datetime.date.today()
    rates_csv.import_bytes("telco", (HEADER + ",mobile,0.20,6/6,0.10,,CNY,\r\n").encode(), today, "test")
    rates_csv.import_bytes("backup", (HEADER + ",mobile,0.08,1/1,,,CNY,\r\n138,,0.90,1/1,,,CNY,\r\n").encode(),
                           today, "test")
    rates_csv.import_bytes("dead", (HEADER + ",mobile,0.01,60/60,,,CNY,\r\n").encode(), today, "test")
    pbx.apply()
    deadline = time.monotonic() + 15  # the dead trunk's qualify finds it dead, as it would long before a call
    while time.monotonic() < deadline and "Unavail" not in pbx.cli("pjsip show aor dead"):
        time.sleep(0.3)
    for number in (MOBILE, VIA_DEAD):
        phones.set_behaviour(number, "answer", hold=3, ring=0)

    mark = phones.mark()
    phones.call("ph100", MOBILE, tag="cheap", hold=10)
    phones.call("ph100", "7" + VIA_DEAD, tag="failover", hold=10)
    for tag in ("cheap", "failover"):
        phones.wait_for("CallerHangup", lambda e, t=tag: e.get("Tag") == t, since=mark, timeout=45)

    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    deadline = time.monotonic() + 30  # Asterisk writes a record when the call's channels are gone
    while time.monotonic() < deadline and not (_leg(MOBILE, "backup") and _leg(VIA_DEAD, "telco")):
        collector.collect_once(sources)
        time.sleep(0.3)
    cheap, failover = _leg(MOBILE, "backup"), _leg(VIA_DEAD, "telco")
    assert cheap and failover, [(r.trunk, r.number, r.disposition, r.lastapp) for r in CallRecord.select()]
    # the configured first trunks carried nothing: telco for the mobile, backup for the other
    assert _leg(MOBILE, "telco") is None and _leg(VIA_DEAD, "backup") is None
    assert cheap.billsec > 0 and failover.billsec > 0
    assert calls.cost_of(cheap) == _expected(cheap.billsec, "0.08", 1, 1, "0")
    assert calls.cost_of(failover) == _expected(failover.billsec, "0.20", 6, 6, "0.10")
    assert all(r.cost_minor in (None, 0) for r in CallRecord.select().where(CallRecord.trunk == "dead"))
