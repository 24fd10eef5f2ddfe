"""The Costs page through real HTTP: priced calls summed per department and month, exactly; the top
destinations and bundles; the chart (SVG, no script) and CSV; for admins and supervisors only."""

from __future__ import annotations

import datetime
import sqlite3
from decimal import Decimal

import pytest

from appliance.billing import rates_csv
from appliance.callcenter import collector
from appliance.site import service
from tests.unit.test_call_cost import HEADER, _cdr
from tests.web.test_pages import login

# the console over the SQL of the call records and reports: on SQLite and on PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_engines


def _priced_calls(tmp_path) -> None:
    service.save_settings({"country_code": "86", "area_code": "21"}, user="test")
    for number, department in (("200", "Sales"), ("201", "Sales"), ("202", "Support")):
        service.save_object("extension", {"number": number, "name": f"User {number}", "department": department},
                            user="test")
    service.save_object("trunk", {"name": "telco", "host": "192.0.2.10"}, user="test")
    rates_csv.import_bytes("telco", (HEADER + ",mobile,0.10,6/6,,10,CNY,\r\n,,0.07,60/60,,,CNY,\r\n").encode(),
                           datetime.date(2026, 11, 1), "test")
    cdr = tmp_path / "linebox-cdr.db"
    rows = []
    for i in range(30):  # 30 calls of 61 s from each extension: 66 s charged each at 0.10/min = 0.11
        for ext in ("200", "201", "202"):
            rows.append((f"{ext}.{i}", f"2026-11-{1 + i % 28:02d} 10:00:00", "ANSWERED", 61, "trunk:telco",
                         f"PJSIP/1391234{i:04d}@telco,300"))
    _cdr(cdr, rows)
    with sqlite3.connect(cdr) as db:  # each call from its extension's own channel
        db.execute("UPDATE cdr SET channel = 'PJSIP/' || substr(uniqueid, 1, 3) || '-00000001'")
    collector.collect_cdr(cdr)


def test_a_supervisor_sees_cost_per_department_and_month_exactly(console, tmp_path):
    _priced_calls(tmp_path)
    supervisor = login(console, "supervisor")
    args = "from=2026-11-01&to=2026-11-30&by=department&period=month"
    page = supervisor.get(f"/costs?{args}")
    assert page.status == 200
    # 90 calls, each 66 s charged (0.11 CNY); the bundle's 10 free minutes paid the first nine calls of the
    # month whatever extension made them, and 6 s of the tenth (0.10): 80 x 0.11 + 0.10 = 8.90 CNY
    start = page.body.index('id="cost-report"')
    table = page.body[start:page.body.index("</table>", start)]
    sales = Decimal(table.split("Sales</td>")[1].split("<td>")[3].split(" CNY")[0])
    support = Decimal(table.split("Support</td>")[1].split("<td>")[3].split(" CNY")[0])
    assert sales + support == Decimal("8.90")
    assert "<td>mobile</td><td>10</td>" in page.body and "(100.0 %)" in page.body  # the mobile line's bundle
    exported = supervisor.get(f"/costs.csv?{args}")
    lines = exported.body.splitlines()
    assert lines[0] == "period,department,currency,calls,seconds,cost"
    assert sorted(line.split(",")[1] for line in lines[1:]) == ["Sales", "Support"]
    assert sum(int(line.split(",")[3]) for line in lines[1:]) == 90
    chart = supervisor.get(f"/costs/chart.svg?{args}")
    assert chart.status == 200 and "<svg" in chart.body and "<script" not in chart.body
    assert "Sales" in chart.body
    # per queue: these calls belong to no queue call, so the report is empty, and the page says so
    by_queue = supervisor.get("/costs?from=2026-11-01&to=2026-11-30&by=queue&period=month")
    assert by_queue.status == 200 and '<option value="queue" selected>' in by_queue.body
    assert 'id="cost-report"' not in by_queue.body


def test_costs_are_for_admins_and_supervisors(console):
    assert login(console, "admin").get("/costs").status == 200
    assert login(console, "agent").get("/costs").status == 403
    assert login(console, "technician").get("/costs").status == 403
