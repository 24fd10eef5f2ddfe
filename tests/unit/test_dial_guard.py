"""The dial guard (appliance.billing.guard): the decision rule alone (inputs to allow/refuse and the call's
limit), then the same rule fed from a real database: call records, calls in progress, the out-of-hours
schedule, budgets, alerts, and the migration's default for an existing site.  The lab test places the calls."""

from __future__ import annotations

import datetime
import sqlite3
import time
from contextlib import closing

import pytest

from appliance.billing import guard, rates_csv
from appliance.billing.guard import Usage, decide
from appliance.model.models import CallRecord, GuardCall
from appliance.site import localtime, service
from appliance.site.numbering import NumberClass

C = NumberClass
HEADER = "prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description\r\n"


@pytest.mark.parametrize(("permission", "allowed", "refused"), [
    ("internal", {C.INTERNAL}, {C.LOCAL, C.TOLL_FREE, C.MOBILE, C.UNKNOWN}),
    ("local", {C.LOCAL, C.TOLL_FREE}, {C.NATIONAL, C.UNKNOWN, C.MOBILE}),
    ("national", {C.NATIONAL, C.UNKNOWN}, {C.MOBILE, C.INTERNATIONAL}),
    ("mobile", {C.MOBILE, C.NATIONAL}, {C.INTERNATIONAL, C.PREMIUM}),
    ("international", {C.INTERNATIONAL}, {C.PREMIUM}),
    ("premium", set(NumberClass), set()),
])
def test_each_permission_allows_its_classes_and_those_below(permission, allowed, refused):
    for number_class in allowed | {C.EMERGENCY}:
        assert decide(number_class, permission, []).allow, number_class
    for number_class in refused:
        decision = decide(number_class, permission, [])
        assert not decision.allow and decision.reason == f"class:{number_class.value}"


SPENT = [Usage("extension:200", calls_now=5, max_calls=1, day_seconds=999, daily_cap=60, month_seconds=9999,
               monthly_cap=60, spent_minor=90000, budget_minor=100),
         Usage("site", calls_now=100, max_calls=2, day_seconds=999, daily_cap=6)]


def test_emergency_numbers_are_never_blocked_by_class_cap_budget_or_schedule():
    decision = decide(C.EMERGENCY, "internal", SPENT, out_of_hours_permission="internal", budget_blocks=True,
                      per_minute_minor=100)
    assert decision.allow and decision.limit_seconds == 0 and decision.reason == "emergency"


def test_the_call_is_limited_to_the_smallest_allowance_left_and_refused_when_none_is():
    usages = [Usage("extension:200", day_seconds=100, daily_cap=600, month_seconds=3000, monthly_cap=3300),
              Usage("site", day_seconds=0, daily_cap=7200)]
    assert decide(C.MOBILE, "mobile", usages).limit_seconds == 300  # the month's 300 s < the day's 500 s
    assert decide(C.MOBILE, "mobile", [Usage("site")]).limit_seconds == 0  # no cap: no limit
    done = [Usage("extension:200", day_seconds=600, daily_cap=600), Usage("site", daily_cap=7200)]
    refused = decide(C.MOBILE, "mobile", done)
    assert not refused.allow and refused.reason == "daily_minutes:extension:200"
    assert ("extension:200", "daily_minutes") in refused.alerts
    site_full = decide(C.LOCAL, "mobile", [Usage("extension:200"), Usage("site", month_seconds=60, monthly_cap=60)])
    assert not site_full.allow and site_full.reason == "monthly_minutes:site"


def test_calls_at_once_are_limited_per_extension_and_for_the_site():
    assert decide(C.LOCAL, "local", [Usage("extension:200", calls_now=1, max_calls=2)]).allow
    refused = decide(C.LOCAL, "local", [Usage("extension:200", calls_now=2, max_calls=2)])
    assert not refused.allow and refused.reason == "calls:extension:200"
    assert decide(C.LOCAL, "local", [Usage("site", calls_now=3, max_calls=3)]).reason == "calls:site"


def test_out_of_hours_lowers_the_permission_but_never_raises_it():
    assert decide(C.MOBILE, "mobile", [], out_of_hours_permission="internal").reason == "out_of_hours:mobile"
    assert decide(C.INTERNAL, "mobile", [], out_of_hours_permission="internal").allow
    assert decide(C.MOBILE, "local", [], out_of_hours_permission="premium").reason == "class:mobile"


def test_a_budget_warns_at_its_level_and_blocks_only_when_the_admin_chose_so():
    half = [Usage("department:Sales", spent_minor=8000, budget_minor=10000)]
    warned = decide(C.MOBILE, "mobile", half, warn_percent=80)
    assert warned.allow and warned.limit_seconds == 0 and ("department:Sales", "budget_warning") in warned.alerts
    # blocking: 20.00 left at 0.12/min after a 0.05 fee pays for (2000 - 5) * 60 / 12 = 9975 s
    limited = decide(C.MOBILE, "mobile", half, budget_blocks=True, fee_minor=5, per_minute_minor=12)
    assert limited.allow and limited.limit_seconds == 9975
    spent = [Usage("extension:200", spent_minor=10000, budget_minor=10000)]
    assert decide(C.MOBILE, "mobile", spent).allow  # warn only
    refused = decide(C.MOBILE, "mobile", spent, budget_blocks=True, per_minute_minor=12)
    assert not refused.allow and refused.reason == "budget:extension:200"


# ---- fed from the database ----------------------------------------------------------------------------

def _asterisk_time(epoch: float) -> str:
    return localtime.asterisk_text(epoch)


def _record(uniqueid: str, start: float, billsec: int, cost_minor: int | None = None, extension: str = "200") -> None:
    CallRecord.create(uniqueid=uniqueid, sequence=0, linkedid=uniqueid, start=_asterisk_time(start),
                      billsec=billsec, duration=billsec, disposition="ANSWERED", extension=extension, trunk="telco",
                      number="13912345678", number_class="mobile", cost_minor=cost_minor, currency="CNY")


@pytest.fixture
def site(install):
    service.save_settings({"country_code": "86", "area_code": "21", "timezone": "Asia/Shanghai"}, user="test")
    service.save_object("extension", {"number": "200", "name": "Ann", "department": "Sales"}, user="test")
    service.save_object("trunk", {"name": "telco", "host": "192.0.2.10"}, user="test")
    return install


def _last_midday() -> float:
    """The most recent noon of the site's day: minutes of "today" counted around it never cross a midnight
    (a test run near the site's midnight, 16:00 UTC in Shanghai, saw the day end between two checks)."""
    local = datetime.datetime.now(localtime.site_zone())
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    return (noon if noon <= local else noon - datetime.timedelta(days=1)).timestamp()


def _check(number: str, now: float, uniqueid: str = "call-1", calls: int = 0) -> guard.Check:
    return guard.check("PJSIP/200-00000001", number, ["telco"], uniqueid, lambda extension: calls, now=now)


def test_a_site_without_a_country_still_knows_chinas_emergency_numbers(install):
    from appliance.site.numbering import NumberPlan, classify, emergency_short_numbers
    service.save_object("extension", {"number": "200", "name": "Ann", "dial_permission": "internal"}, user="test")
    for number in ("110", "119", "120", "122", "112"):
        assert classify(number, NumberPlan()).number_class == C.EMERGENCY, number
        assert _check(number, time.time()).decision.allow, number
    assert emergency_short_numbers(NumberPlan()) == ["110", "112", "119", "120", "122"]


def test_a_new_site_blocks_international_and_premium_and_lets_emergency_out(site):
    now = time.time()
    assert _check("13912345678", now).decision.allow  # mobile
    refused = _check("0044207946000", now).decision
    assert not refused.allow and refused.reason == "class:international"
    for number in ("110", "119", "120", "122", "112"):
        assert _check(number, now).decision.reason == "emergency", number


def test_minutes_used_are_the_records_of_the_day_plus_calls_in_progress(site):
    service.save_object("extension", {**service.get_object("extension", "200").model_dump(), "daily_minutes": 10},
                        user="test")
    now = _last_midday()
    _record("old", now - 40 * 86400, 3000)  # another month: does not count
    _record("today", now - 600, 240)
    first = _check("13912345678", now, "call-1").decision
    assert first.allow and first.limit_seconds == 360
    # the first call is in progress for 100 s: the second gets what is left after it
    second = _check("13912345678", now + 100, "call-2").decision
    assert second.allow and second.limit_seconds == 260
    guard.call_ended("call-1", 100)  # hung up after 100 s answered; not yet collected: still counts
    assert _check("13912345678", now + 150, "call-3").decision.limit_seconds == 10 * 60 - 240 - 100 - 50
    _record("call-1", now, 100)  # collected: counted once, from its record
    # a row a restart left behind counts no more than its allowance, and is gone after a day
    GuardCall.create(uniqueid="stale", extension="200", started=now - 3000, limit_seconds=30)
    assert _check("13912345678", now + 150, "call-4").decision.limit_seconds == 600 - 240 - 100 - 50 - 30 - 0
    assert GuardCall.get_or_none(GuardCall.uniqueid == "call-1") is None  # its record counts now, not the row
    assert _check("13912345678", now + 2 * 86400, "call-5").decision.limit_seconds == 600


def test_a_reached_cap_shows_on_the_status_page_until_the_admin_raises_it(site):
    service.save_settings({"outbound_daily_minutes": 2}, user="test")
    now = _last_midday()
    _record("a", now - 60, 120)
    refused = _check("13912345678", now).decision
    assert not refused.allow and refused.reason == "daily_minutes:site"
    alerts = guard.current_alerts(now)
    assert [(a.scope, a.limit, a.blocking) for a in alerts] == [("site", "daily_minutes", True)]
    service.save_settings({"outbound_daily_minutes": 5}, user="test")
    assert guard.current_alerts(now) == []
    assert _check("13912345678", now).decision.limit_seconds == 180


def test_a_department_budget_blocks_with_the_time_its_money_pays_for(site):
    rates_csv.import_bytes("telco", (HEADER + ",mobile,0.60,1/1,,,CNY,\r\n").encode(),
                           datetime.date.today() - datetime.timedelta(days=40), "test")
    service.save_settings({"department_budgets": "Sales=10", "budget_action": "block"}, user="test")
    now = time.time()
    _record("a", now - 60, 600, cost_minor=900)  # 9.00 of 10.00 spent
    decision = _check("13912345678", now).decision
    assert decision.allow and decision.limit_seconds == 100  # 1.00 at 0.60/min
    _record("b", now - 30, 100, cost_minor=100)
    refused = _check("13912345678", now, "call-2").decision
    assert not refused.allow and refused.reason == "budget:department:Sales"
    assert ("department:Sales", "budget") in [(a.scope, a.limit) for a in guard.current_alerts(now)]


def test_out_of_hours_only_internal_and_emergency(site):
    service.save_object("time_condition", {"name": "office", "timezone": "Asia/Shanghai",
                                           "ranges": [{"days": "mon-fri", "start": "09:00", "end": "18:00"}],
                                           "open_destination": "hangup", "closed_destination": "hangup"},
                        user="test")
    service.save_settings({"outbound_hours": "office"}, user="test")
    zone = localtime.site_zone()
    monday_noon = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=zone).timestamp()
    monday_night = datetime.datetime(2026, 12, 7, 18, 0, tzinfo=zone).timestamp()
    assert _check("13912345678", monday_noon).decision.allow
    assert _check("13912345678", monday_night).decision.reason == "out_of_hours:mobile"
    assert _check("110", monday_night).decision.allow


def test_an_upgraded_site_keeps_dialling_everything_a_new_one_blocks_international(tmp_path):
    from appliance.model import migrations
    path = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE extension (id INTEGER PRIMARY KEY, number VARCHAR(255))")
        db.execute("CREATE TABLE setting (key VARCHAR(255) PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO extension (number) VALUES ('200')")
        db.commit()
    import peewee
    old = peewee.SqliteDatabase(str(path))
    from appliance.model import models
    with old.bind_ctx(models.GUARD_TABLES):
        migrations._v24_dial_guard(old)
    rows = dict(old.execute_sql("SELECT key, value FROM setting").fetchall())
    columns = {c.name for c in old.get_columns("extension")}
    old.close()
    assert rows == {"dial_permission_default": "premium"}
    assert {"dial_permission", "daily_minutes", "monthly_budget"} <= columns


def test_the_call_records_say_which_calls_the_guard_refused_and_why(install):
    from click.testing import CliRunner

    from appliance.cli.linebox import main
    CallRecord.create(uniqueid="1.1", sequence=0, linkedid="1.1", start=_asterisk_time(time.time() - 60), src="100",
                      dst="00442079460000", disposition="ANSWERED", userfield="refused:class:international")
    result = CliRunner().invoke(main, ["--home", str(install.home), "calls", "--today"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[2].split()[3:5] == ["00442079460000", "REFUSED"]
    assert lines[3].strip() == "refused by the dial guard: class:international"
