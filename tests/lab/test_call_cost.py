"""What real calls cost: outbound calls through two trunks with different rate tables, one reached by
failover, each call record priced by the collector to the cent (issue 20).

The expected cost is worked out here from the billed seconds Asterisk recorded, with the rules the admin
guide states (increment rounding up, fee, half-up to the cent), independently of appliance.billing.
"""

from __future__ import annotations

import datetime
import time
from decimal import ROUND_HALF_UP, Decimal

import pytest

from appliance.billing import calls, rates_csv
from appliance.callcenter import collector
from appliance.model.models import CallRecord
from appliance.site import service
from lab.instance import free_port
from tests.lab.helpers import add

pytestmark = pytest.mark.lab

HEADER = "prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description\r\n"
MOBILE = "13912345678"  # the telco trunk's mobile rate: 0.12/min, 60/60, 0.05 a call
LOCAL = "60001234"  # a Shanghai fixed line through the backup: 0.30/min per second


def _expected(billsec: int, per_minute: str, first: int, following: int, fee: str) -> Decimal:
    if billsec <= 0:
        return Decimal("0.00")
    charged = first if billsec <= first else first + ((billsec - first + following - 1) // following) * following
    exact = Decimal(fee) + Decimal(per_minute) * charged / 60
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _leg(number: str, trunk: str) -> CallRecord | None:
    return (CallRecord.select().where((CallRecord.number == number) & (CallRecord.trunk == trunk)
                                      & (CallRecord.disposition == "ANSWERED")).first())


def test_calls_through_two_trunks_one_by_failover_are_priced_to_the_cent(pbx, carrier):
    service.save_settings({"country_code": "86", "area_code": "21"}, user="test")
    add("extension", number="100", name="Alice")
    pbx.apply()
    phones = carrier()
    add("trunk", name="telco", host="127.0.0.1", port=phones.telco_port, match=[f"127.0.0.1:{phones.telco_port}"])
    dead_port = free_port()  # nothing answers there
    add("trunk", name="primary", host="127.0.0.1", port=dead_port, match=[f"127.0.0.1:{dead_port}"],
        qualify_seconds=2)
    add("trunk", name="backup", host="127.0.0.1", port=phones.telco_b_port,
        match=[f"127.0.0.1:{phones.telco_b_port}"], qualify_seconds=2)
    add("outbound_route", name="mobiles", patterns=[{"match": "_1NXXXXXXXXX"}], trunks=["telco"])
    add("outbound_route", name="city", patterns=[{"match": "_9NXXXXXXX", "strip": 1}], trunks=["primary", "backup"])
    today = datetime.date.today()
    rates_csv.import_bytes("telco", (HEADER + ",mobile,0.12,60/60,0.05,,CNY,\r\n").encode(), today, "test")
    rates_csv.import_bytes("primary", (HEADER + ",,1.00,60/60,1,,CNY,\r\n").encode(), today, "test")
    rates_csv.import_bytes("backup", (HEADER + ",local,0.30,1/1,,,CNY,\r\n").encode(), today, "test")
    pbx.apply()
    deadline = time.monotonic() + 15  # the primary's qualify finds it dead, as it would long before a call
    while time.monotonic() < deadline and "Unavail" not in pbx.cli("pjsip show aor primary"):
        time.sleep(0.3)
    for number in (MOBILE, LOCAL):
        phones.set_behaviour(number, "answer", hold=3, ring=0)

    mark = phones.mark()
    phones.call("ph100", MOBILE, tag="mobile", hold=10)
    phones.call("ph100", "9" + LOCAL, tag="local", hold=10)
    for tag in ("mobile", "local"):
        phones.wait_for("CallerHangup", lambda e, t=tag: e.get("Tag") == t, since=mark, timeout=45)

    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    deadline = time.monotonic() + 30  # Asterisk writes a record when the call's channels are gone
    while time.monotonic() < deadline and not (_leg(MOBILE, "telco") and _leg(LOCAL, "backup")):
        collector.collect_once(sources)
        time.sleep(0.3)
    mobile, local = _leg(MOBILE, "telco"), _leg(LOCAL, "backup")
    assert mobile and local, [(r.trunk, r.number, r.disposition, r.lastapp) for r in CallRecord.select()]
    assert mobile.billsec > 0 and local.billsec > 0
    assert (mobile.number_class, mobile.currency) == ("mobile", "CNY")
    assert calls.cost_of(mobile) == _expected(mobile.billsec, "0.12", 60, 60, "0.05")
    assert mobile.extension == "100" and local.extension == "100"
    assert (local.number_class, local.currency) == ("local", "CNY")
    assert calls.cost_of(local) == _expected(local.billsec, "0.30", 1, 1, "0")
    # the dead primary carried nothing and cost nothing, whether or not Asterisk kept a record of the try
    assert all(r.cost_minor in (None, 0) for r in CallRecord.select().where(CallRecord.trunk == "primary"))
    collector.collect_once(sources)  # another round (as the service keeps doing) changes no price
    assert (_leg(MOBILE, "telco").cost_minor, _leg(LOCAL, "backup").cost_minor) == (mobile.cost_minor,
                                                                                     local.cost_minor)
