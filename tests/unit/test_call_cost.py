"""Every call through a trunk priced as the collector stores its record (appliance.billing.calls): the trunk
that carried it, the number's class, the bundle, replays and re-pricing.  The lab test places the calls."""

from __future__ import annotations

import datetime
import sqlite3
import zoneinfo
from contextlib import closing
from decimal import Decimal

import pytest
from click.testing import CliRunner

from appliance.billing import calls, legs, rates_csv, reports
from appliance.callcenter import collector
from appliance.cli.linebox import main
from appliance.model.models import AuditEntry, CallRecord
from appliance.site import localtime, service

# the SQL of the data model: runs on SQLite and on PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_engines

HEADER = "prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description\r\n"


@pytest.mark.parametrize(("userfield", "lastapp", "lastdata", "expected"), [
    ("trunk:telco", "Dial", "PJSIP/013912345678@telco,300^2", ("telco", "013912345678")),
    ("trunk:pri", "Dial", "DAHDI/g1/60001234,300", ("pri", "60001234")),
    ("", "Dial", "PJSIP/200,25,tT", ("", "")),  # an extension, not a trunk
    ("trunk:telco", "Queue", "700,t", ("", "")),
    ("trunk:telco", "Dial", "Local/1@x", ("", "")),
])
def test_the_trunk_and_number_of_a_leg_come_from_the_dialplans_mark_and_the_dial(userfield, lastapp, lastdata,
                                                                                  expected) -> None:
    assert legs.trunk_leg(userfield, lastapp, lastdata) == expected


def _cdr(path, rows: list[tuple[str, str, str, int, str, str]]) -> None:
    """(uniqueid, start, disposition, billsec, userfield, lastdata) rows as cdr_sqlite3_custom writes them."""
    with closing(sqlite3.connect(path)) as cdr, cdr:
        cdr.execute(f"CREATE TABLE IF NOT EXISTS cdr (AcctId INTEGER PRIMARY KEY, {', '.join(collector.CDR_FIELDS)})")
        for uniqueid, start, disposition, billsec, userfield, lastdata in rows:
            cdr.execute("INSERT INTO cdr (uniqueid, sequence, linkedid, start_time, src, dst, channel, lastapp,"
                        " billsec, disposition, userfield, lastdata)"
                        " VALUES (?, '0', ?, ?, '200', '0139', 'PJSIP/200-0000001f', 'Dial', ?, ?, ?, ?)",
                        (uniqueid, uniqueid, start, str(billsec), disposition, userfield, lastdata))


@pytest.fixture
def site(install):
    service.save_settings({"country_code": "86", "area_code": "21"}, user="test")
    for name in ("telco", "backup"):
        service.save_object("trunk", {"name": name, "host": "192.0.2.10"}, user="test")
    day = datetime.date(2026, 12, 1)
    rates_csv.import_bytes("telco", (HEADER + ",mobile,0.12,60/60,0.05,2,CNY,\r\n,local,0.02,6/6,,,CNY,\r\n").encode(),
                           day, "test")
    rates_csv.import_bytes("backup", (HEADER + ",,0.30,1/1,,,CNY,\r\n").encode(), day, "test")
    return install


def _record(uniqueid: str) -> CallRecord:
    return CallRecord.get(CallRecord.uniqueid == uniqueid)


def cost(uniqueid: str) -> str | None:
    amount = calls.cost_of(_record(uniqueid))
    return None if amount is None else str(amount)


def test_each_leg_is_priced_by_the_trunk_that_carried_it_with_the_bundle_used_in_order(site, tmp_path) -> None:
    cdr_db = tmp_path / "linebox-cdr.db"
    _cdr(cdr_db, [
        ("1.1", "2026-12-07 09:00:00", "ANSWERED", 61, "trunk:telco", "PJSIP/13912345678@telco,300"),
        ("1.2", "2026-12-07 09:05:00", "ANSWERED", 100, "trunk:telco", "PJSIP/13912345679@telco,300"),
        ("2.1", "2026-12-07 10:00:00", "NO ANSWER", 0, "trunk:telco", "PJSIP/60001234@telco,300^2"),  # failover:
        ("2.2", "2026-12-07 10:00:03", "ANSWERED", 61, "trunk:backup", "PJSIP/60001234@backup,300"),  # ... here
        ("3.1", "2026-12-07 11:00:00", "ANSWERED", 30, "trunk:telco", "PJSIP/00441632960000@telco,300"),
        ("4.1", "2026-12-07 12:00:00", "ANSWERED", 30, "", "PJSIP/201,25"),
    ])
    collector.collect_cdr(cdr_db)
    first, second = _record("1.1"), _record("1.2")
    # 2 free minutes: the first call (120 s charged) uses them all, the fee is still due
    assert (first.number_class, cost("1.1"), first.currency, first.free_seconds) == ("mobile", "0.05", "CNY", 120)
    assert (cost("1.2"), second.free_seconds) == ("0.29", 0)  # 0.05 + 0.12 x 2 min
    assert (first.extension, first.number) == ("200", "13912345678")
    assert (_record("2.1").trunk, cost("2.1")) == ("telco", "0.00")  # not answered: nothing
    assert (_record("2.2").trunk, _record("2.2").number_class, cost("2.2")) == ("backup", "local", "0.31")
    assert (_record("3.1").number_class, cost("3.1")) == ("international", None)  # no line: no rate, not free
    assert (_record("4.1").trunk, _record("4.1").extension, cost("4.1")) == ("", "", None)


def test_a_replayed_record_keeps_its_price_and_repricing_a_period_is_explicit_and_audited(site, tmp_path) -> None:
    cdr_db = tmp_path / "linebox-cdr.db"
    _cdr(cdr_db, [("1.1", "2026-12-07 09:00:00", "ANSWERED", 30, "trunk:backup", "PJSIP/60001234@backup,300")])
    collector.collect_cdr(cdr_db)
    assert cost("1.1") == "0.15"
    # the carrier's new prices, entered later from the same day: the stored record is not touched ...
    rates_csv.import_bytes("backup", (HEADER + ",,0.60,1/1,,,CNY,\r\n").encode(), datetime.date(2026, 12, 1), "t")
    (tmp_path / "linebox-cdr.db").unlink()
    _cdr(cdr_db, [("1.1", "2026-12-07 09:00:00", "ANSWERED", 30, "trunk:backup", "PJSIP/60001234@backup,300")])
    collector.collect_cdr(cdr_db)  # a new CDR database replays the row: INSERT OR IGNORE keeps the stored one
    assert cost("1.1") == "0.15"
    # ... until the admin re-prices the period
    done = CliRunner().invoke(main, ["--home", str(site.home), "rates", "reprice", "--from", "2026-12-07"])
    assert done.exit_code == 0 and "priced 1 call record(s) from 2026-12-07 to 2026-12-07" in done.output
    assert cost("1.1") == "0.30"
    entry = AuditEntry.get(AuditEntry.action == "reprice")
    assert entry.key == "2026-12-07..2026-12-07" and entry.after == {"records": 1, "inbound_records": 0}
    assert calls.reprice(datetime.date(2026, 12, 8), datetime.date(2026, 12, 31), "alice") == 0
    # the reports (read from the daily roll-up) follow the new price, counted once
    (row,) = reports.cost_report(datetime.date(2026, 12, 1), datetime.date(2026, 12, 31), "trunk", "total")
    assert (row.key, row.calls, row.cost) == ("backup", 1, Decimal("0.30"))


def test_cost_reports_sum_exactly_per_group_and_the_cli_prints_them(site, tmp_path) -> None:
    service.save_object("extension", {"number": "200", "name": "Li", "department": "Sales"}, user="test")
    cdr_db = tmp_path / "linebox-cdr.db"
    _cdr(cdr_db, [(f"9.{i}", f"2026-12-{1 + i:02d} 09:00:00", "ANSWERED", 7, "trunk:backup",
                   "PJSIP/60001234@backup,300") for i in range(3)])  # 3 x 7 s at 0.30/min per second: 0.035 -> 0.04
    collector.collect_cdr(cdr_db)
    (row,) = reports.cost_report(datetime.date(2026, 12, 1), datetime.date(2026, 12, 31), "department", "month")
    assert (row.period, row.key, row.calls, row.seconds, row.cost, row.currency) == (
        "2026-12", "Sales", 3, 21, Decimal("0.12"), "CNY")
    by_day = reports.cost_report(datetime.date(2026, 12, 1), datetime.date(2026, 12, 2), "class", "day")
    assert [(r.period, r.key, r.cost) for r in by_day] == [("2026-12-01", "local", Decimal("0.04")),
                                                           ("2026-12-02", "local", Decimal("0.04"))]
    _cdr(cdr_db, [("9.9", "2026-12-05 09:00:00", "ANSWERED", 9, "trunk:telco", "PJSIP/0044123@telco,300")])
    collector.collect_cdr(cdr_db)  # a number the telco table does not price (its lines: mobile, local)
    assert reports.unpriced_calls(datetime.date(2026, 12, 1), datetime.date(2026, 12, 31)) == 1
    assert reports.unpriced_calls(datetime.date(2026, 12, 6), datetime.date(2026, 12, 31)) == 0
    (top,) = reports.top_destinations(datetime.date(2026, 12, 1), datetime.date(2026, 12, 31))
    assert (top.number, top.calls, top.cost) == ("60001234", 3, Decimal("0.12"))
    out = CliRunner().invoke(main, ["--home", str(site.home), "cost", "report", "--by", "extension",
                                    "--from", "2026-12-01", "--to", "2026-12-31", "--csv"])
    assert out.exit_code == 0 and out.output.splitlines() == ["period,extension,currency,calls,seconds,cost",
                                                              "2026-12,200,CNY,3,21,0.12"]


def test_a_call_at_half_past_midnight_in_beijing_is_priced_and_counted_on_that_local_day(site, tmp_path) -> None:
    service.save_settings({"timezone": "Asia/Shanghai"}, user="test")
    # the carrier's new price from 2 December; a call at 00:30 on the 2nd in Beijing (16:30 UTC on the 1st)
    rates_csv.import_bytes("backup", (HEADER + ",,0.60,1/1,,,CNY,\r\n").encode(), datetime.date(2026, 12, 2), "t")
    moment = datetime.datetime(2026, 12, 2, 0, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    cdr_db = tmp_path / "linebox-cdr.db"
    _cdr(cdr_db, [("5.1", localtime.asterisk_text(moment.timestamp()), "ANSWERED", 60, "trunk:backup",
                   "PJSIP/60001234@backup,300")])
    collector.collect_cdr(cdr_db)
    assert cost("5.1") == "0.60"  # the table in force on the 2nd, Beijing's day
    (row,) = reports.cost_report(datetime.date(2026, 12, 1), datetime.date(2026, 12, 31), "trunk", "day")
    assert (row.period, row.cost) == ("2026-12-02", Decimal("0.60"))
    assert calls.reprice(datetime.date(2026, 12, 2), datetime.date(2026, 12, 2), "alice") == 1
    assert calls.reprice(datetime.date(2026, 12, 1), datetime.date(2026, 12, 1), "alice") == 0


def test_queue_calls_legs_count_for_the_queue_that_answered_and_its_agent(site, tmp_path) -> None:
    from appliance.model.models import QueueCall

    base = datetime.datetime(2026, 12, 7, 9, 0).timestamp()
    cdr_db = tmp_path / "linebox-cdr.db"
    legs_ = [  # (uniqueid, linkedid, seconds after base, billsec): 0.30/min per second through backup
        ("q1.2", "q1", 40, 60),  # q1: left queue 701 for 700, answered there by 201, forwarded out: 0.30
        ("q2.2", "q2", 100, 30),  # q2: in 700, nobody answered (an outside number rang in): 0.15
        ("q3.2", "q3", 200, 10),  # q3: 701 then 702, neither answered: the last one, 702: 0.05
        ("x.1", "x", 300, 20),  # no queue call: only in the other reports
    ]
    with closing(sqlite3.connect(cdr_db)) as cdr, cdr:
        cdr.execute(f"CREATE TABLE cdr (AcctId INTEGER PRIMARY KEY, {', '.join(collector.CDR_FIELDS)})")
        for uniqueid, linkedid, after, billsec in legs_:
            cdr.execute("INSERT INTO cdr (uniqueid, sequence, linkedid, start_time, src, dst, channel, lastapp,"
                        " billsec, disposition, userfield, lastdata) VALUES (?, '0', ?, ?, '200', '0139',"
                        " 'PJSIP/200-0000001f', 'Dial', ?, 'ANSWERED', 'trunk:backup', 'PJSIP/60001234@backup,300')",
                        (uniqueid, linkedid, localtime.asterisk_text(base + after), str(billsec)))
    collector.collect_cdr(cdr_db)
    stays = (("q1", "701", 0, "timeout", ""), ("q1", "700", 20, "answered", "201"), ("q2", "700", 90, "abandoned", ""),
             ("q3", "701", 150, "timeout", ""), ("q3", "702", 180, "timeout", ""))
    for callid, queue, entered, outcome, agent in stays:
        QueueCall.create(callid=callid, queue=queue, entered=int(base) + entered, outcome=outcome, agent=agent)
    first, last = datetime.date(2026, 12, 1), datetime.date(2026, 12, 31)
    by_queue = reports.cost_report(first, last, "queue", "month")
    assert [(r.period, r.key, r.calls, r.seconds, r.cost) for r in by_queue] == [
        ("2026-12", "700", 2, 90, Decimal("0.45")), ("2026-12", "702", 1, 10, Decimal("0.05"))]
    by_agent = reports.cost_report(first, last, "agent", "day")
    assert [(r.period, r.key, r.calls, r.cost) for r in by_agent] == [
        ("2026-12-07", "201", 1, Decimal("0.30")), ("2026-12-07", "", 2, Decimal("0.20"))]
    assert reports.cost_report(datetime.date(2026, 12, 8), last, "queue", "total") == []
    # a site half an hour off the box's zone: the day of each leg is read from its start's minute, not hour
    assert reports._bucket_length(first, zoneinfo.ZoneInfo("Asia/Kolkata")) == 16
    out = CliRunner().invoke(main, ["--home", str(site.home), "cost", "report", "--by", "queue", "--period", "total",
                                    "--from", "2026-12-01", "--to", "2026-12-31", "--csv"])
    assert out.exit_code == 0 and out.output.splitlines() == ["period,queue,currency,calls,seconds,cost",
                                                              ",700,CNY,2,90,0.45", ",702,CNY,1,10,0.05"]


def test_a_trunk_with_an_inbound_line_charges_the_calls_it_receives_once_per_call(site, tmp_path) -> None:
    from appliance.model.models import QueueCall

    # the backup carrier charges 0.06/min by the minute for calls it delivers, and 0.10 a call
    rates_csv.import_bytes("backup", (HEADER + ",,0.30,1/1,,,CNY,\r\n,inbound,0.06,60/60,0.10,,CNY,\r\n").encode(),
                           datetime.date(2026, 12, 1), "test")
    base = datetime.datetime(2026, 12, 7, 9, 0).timestamp()
    cdr_db = tmp_path / "linebox-cdr.db"
    rows = [  # (uniqueid, sequence, channel, seconds after base, billsec, userfield, lastapp, lastdata)
        # a caller on backup: answered by the IVR (50 s), then talks to an agent (70 s): 120 s in all,
        # 2 minutes: 0.10 + 0.12 = 0.22, whatever the split into two records
        ("in.1", 0, "PJSIP/backup-00000001", 0, 50, "inbound:main", "Queue", "700"),
        ("in.1", 1, "PJSIP/backup-00000001", 50, 70, "inbound:main", "Dial", "PJSIP/201"),
        ("in.2", 0, "PJSIP/telco-00000002", 10, 30, "inbound:main", "Queue", "700"),  # telco: no inbound line
        ("in.3", 0, "PJSIP/backup-00000003", 20, 0, "inbound:main", "Queue", "700"),  # never answered: free
    ]
    with closing(sqlite3.connect(cdr_db)) as cdr, cdr:
        cdr.execute(f"CREATE TABLE cdr (AcctId INTEGER PRIMARY KEY, {', '.join(collector.CDR_FIELDS)})")
        for uniqueid, sequence, channel, after, billsec, userfield, lastapp, lastdata in rows:
            cdr.execute("INSERT INTO cdr (uniqueid, sequence, linkedid, start_time, src, dst, channel, lastapp,"
                        " billsec, disposition, userfield, lastdata) VALUES (?, ?, ?, ?, '13912345678', '60001234',"
                        " ?, ?, ?, ?, ?, ?)",
                        (uniqueid, str(sequence), uniqueid, localtime.asterisk_text(base + after), channel, lastapp,
                         str(billsec), "ANSWERED" if billsec else "NO ANSWER", userfield, lastdata))
    collector.collect_cdr(cdr_db)
    first = CallRecord.get((CallRecord.uniqueid == "in.1") & (CallRecord.sequence == 0))
    second = CallRecord.get((CallRecord.uniqueid == "in.1") & (CallRecord.sequence == 1))
    assert (first.inbound_trunk, first.inbound_cost_minor, first.inbound_currency) == ("backup", 16, "CNY")  # 1 min
    assert second.inbound_cost_minor == 6  # the second minute: the call's whole price is 0.22
    assert (first.trunk, first.cost_minor) == ("", None)  # not an outbound leg
    telco = CallRecord.get(CallRecord.uniqueid == "in.2")
    assert (telco.inbound_trunk, telco.inbound_cost_minor) == ("telco", None)
    assert CallRecord.get(CallRecord.uniqueid == "in.3").inbound_cost_minor == 0
    month = (datetime.date(2026, 12, 1), datetime.date(2026, 12, 31))
    (row,) = reports.cost_report(*month, "inbound", "total")
    assert (row.key, row.calls, row.seconds, row.cost) == ("backup", 1, 120, Decimal("0.22"))
    assert reports.cost_report(*month, "trunk", "total") == []  # outbound calls: none
    QueueCall.create(callid="in.1", queue="700", entered=int(base) + 5, outcome="answered", agent="201")
    (by_agent,) = reports.cost_report(*month, "agent", "total")
    assert (by_agent.key, by_agent.cost) == ("201", Decimal("0.22"))
    # re-pricing the day prices the inbound legs again, the same way, counted once
    assert calls.reprice(datetime.date(2026, 12, 7), datetime.date(2026, 12, 7), "alice") == 0
    (row,) = reports.cost_report(*month, "inbound", "total")
    assert (row.calls, row.cost) == (1, Decimal("0.22"))
    assert CallRecord.get((CallRecord.uniqueid == "in.1") & (CallRecord.sequence == 1)).inbound_cost_minor == 6
    # the call-record search adds the charge for receiving the call to the call's cost
    from appliance.callcenter import callrecords
    (found,), _total = callrecords.search_calls(callrecords.Search(number="60001234", queue="700"))
    assert found.linkedid == "in.1" and found.cost == Decimal("0.22") and found.currency == "CNY"
    assert [leg.inbound_cost for leg in found.legs] == [Decimal("0.16"), Decimal("0.06")]


def test_past_days_per_queue_are_rolled_up_once_and_again_when_a_late_record_arrives(site, tmp_path) -> None:
    from appliance.billing import queue_costs
    from appliance.model.models import CostDay, QueueCall

    day = datetime.date.today() - datetime.timedelta(days=10)  # settled: read from the roll-up
    base = datetime.datetime.combine(day, datetime.time(10, 0)).timestamp()
    cdr_db = tmp_path / "linebox-cdr.db"

    def leg(uniqueid: str, linkedid: str, after: int, billsec: int) -> None:
        with closing(sqlite3.connect(cdr_db)) as cdr, cdr:
            fields = ", ".join(collector.CDR_FIELDS)
            cdr.execute(f"CREATE TABLE IF NOT EXISTS cdr (AcctId INTEGER PRIMARY KEY, {fields})")
            cdr.execute("INSERT INTO cdr (uniqueid, sequence, linkedid, start_time, src, dst, channel, lastapp,"
                        " billsec, disposition, userfield, lastdata) VALUES (?, '0', ?, ?, '200', '0139',"
                        " 'PJSIP/200-1', 'Dial', ?, 'ANSWERED', 'trunk:backup', 'PJSIP/60001234@backup,300')",
                        (uniqueid, linkedid, localtime.asterisk_text(base + after), str(billsec)))

    rates_csv.import_bytes("backup", (HEADER + ",,0.30,1/1,,,CNY,\r\n").encode(), day - datetime.timedelta(days=5), "t")
    leg("a.2", "a", 10, 60)  # 0.30
    collector.collect_cdr(cdr_db)
    QueueCall.create(callid="a", queue="700", entered=int(base), outcome="answered", agent="201")
    queue_costs.forget_queue_days([day.isoformat()])  # what the collector does when it stores a queue call
    (row,) = reports.cost_report(day, day, "queue", "total")
    assert (row.key, row.calls, row.cost) == ("700", 1, Decimal("0.30"))
    rolled = CostDay.select().where((CostDay.dimension == "queue") & (CostDay.day == day.isoformat()))
    assert [(r.key, r.cost_minor) for r in rolled] == [("700", 30)]
    assert reports.cost_report(day, day, "agent", "day")[0].key == "201"  # the same roll-up
    # a record of that day collected late: the collector drops the day's roll-up, the report counts it
    leg("a.3", "a", 300, 30)  # 0.15, same call
    collector.collect_cdr(cdr_db)
    assert not CostDay.select().where((CostDay.dimension == "queue-day") & (CostDay.day == day.isoformat())).exists()
    (row,) = reports.cost_report(day, day, "queue", "total")
    assert (row.calls, row.cost) == (2, Decimal("0.45"))
    # a queue call stored late through queue_log changes who answered: the day is rolled up again
    queue_log = tmp_path / "queue_log"
    entered = int(base) + 5
    queue_log.write_text(f"{entered}|a|701|NONE|ENTERQUEUE||200|1\n{entered + 2}|a|701|PJSIP/202|CONNECT|2|x|1\n")
    collector.collect_queue_log(queue_log)
    by_queue = {r.key: r.cost for r in reports.cost_report(day, day, "queue", "total")}
    assert by_queue == {"701": Decimal("0.45")}, [(q.queue, q.outcome, q.agent) for q in QueueCall.select()]
