"""A trunk's rate-table page through real HTTP: an admin edits the table as CSV text or a file; a bad line
stores nothing and is named; technicians read; others are refused."""

from __future__ import annotations

import datetime
import html

from appliance.billing import rates
from appliance.model.models import Rate
from appliance.site import service
from tests.web.test_backups import _post_file
from tests.web.test_pages import login

HEADER = "prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description\n"


def _trunk() -> str:
    service.save_object("trunk", {"name": "telco", "host": "192.0.2.10"}, user="test")
    return "telco"


def test_admin_saves_a_table_from_a_date_and_a_bad_line_is_named_with_nothing_stored(console):
    trunk = _trunk()
    admin = login(console, "admin")
    empty = admin.get(f"/rates/{trunk}")
    assert empty.status == 200 and 'id="no-rates"' in empty.body
    assert f'href="/rates/{trunk}"' in admin.get(f"/trunks/edit/{trunk}").body
    token = empty.csrf_token()
    table = HEADER + "8613,,0.12,60/60,0.05,,CNY,mobiles\n,local,0.02,6/6,,,CNY,\n"
    bad = admin.submit(f"/rates/{trunk}", {"csrf_token": token, "valid_from": "2026-01-01",
                                                  "table": table + "99,,-1,,,,,\n"})
    assert bad.status == 422 and Rate.select().count() == 0
    assert "line 4: per_minute: must be an amount of 0 or more" in html.unescape(bad.body)
    assert "99,,-1" in bad.body  # what was typed stays in the box
    saved = admin.submit(f"/rates/{trunk}", {"csrf_token": token, "valid_from": "2026-01-01",
                                                    "table": table})
    assert saved.status == 302
    start, lines = rates.table_in_force(trunk, datetime.date.today())
    assert start == datetime.date(2026, 1, 1) and [ln.per_minute for ln in lines] == ["0.02", "0.12"]
    shown = admin.get(f"/rates/{trunk}")
    assert 'id="rates"' in shown.body and "mobiles" in shown.body
    exported = admin.get(f"/rates/{trunk}/export.csv")
    assert exported.status == 200 and exported.body.splitlines()[2] == "8613,,0.12,60/60,0.05,0,CNY,mobiles"
    uploaded = _post_file(admin, f"/rates/{trunk}", "telco.csv", (HEADER + ",,0.3,1/1,,,USD,\n").encode(),
                          {"csrf_token": token, "valid_from": "2030-01-01"})
    assert uploaded.status == 302 and rates.table_dates(trunk)[-1] == datetime.date(2030, 1, 1)
    bad_day = admin.submit(f"/rates/{trunk}", {"csrf_token": token, "valid_from": "someday",
                                                      "table": table})
    assert bad_day.status == 422 and "is not a date" in bad_day.body


def test_technicians_read_the_table_and_others_are_refused(console):
    trunk = _trunk()
    technician = login(console, "technician")
    page = technician.get(f"/rates/{trunk}")
    assert page.status == 200 and 'id="save-rates"' not in page.body
    refused = technician.request("POST", f"/rates/{trunk}", {"csrf_token": page.csrf_token(),
                                                                    "table": HEADER + ",,1,,,,,\n"})
    assert refused.status == 403 and Rate.select().count() == 0
    assert login(console, "supervisor").get(f"/rates/{trunk}").status == 403
    assert login(console, "admin").get("/rates/nope").status == 404
