"""The call trace page through real HTTP: the path drawn as an SVG with the taken branch highlighted, the
steps with their reasons, the reverse question, bad input named; in Chinese too; not for agents."""

from __future__ import annotations

import re

from appliance.site import service
from tests.web.test_pages import login


def _site() -> None:
    service.save_settings({"timezone": "Asia/Shanghai"}, user="test")
    for kind, item in (
        ("extension", {"number": "201", "name": "Ann", "voicemail": True}),
        ("queue", {"number": "701", "name": "Orders & <Returns>", "max_wait_seconds": 30, "overflow": "voicemail:201"}),
        ("ivr", {"name": "main", "greeting": "beep", "options": [{"digit": "1", "destination": "queue:701"}]}),
        ("time_condition", {"name": "office", "timezone": "Asia/Shanghai",
                            "ranges": [{"days": "mon-fri", "start": "09:00", "end": "18:00"}],
                            "holidays": [{"date": "2026-12-25", "name": "Christmas"}],
                            "open_destination": "ivr:main", "closed_destination": "voicemail:201"}),
        ("inbound_route", {"name": "main", "did": "5550100", "destination": "timecondition:office"}),
    ):
        service.save_object(kind, item, user="test", create=True)


def test_the_path_is_drawn_with_the_branch_taken_and_the_reasons(console):
    _site()
    technician = login(console, "technician")
    page = technician.get("/trace?did=5550100&caller=%2B8613800000000&at=2026-12-07+10:00&digits=1&no_answer=1")
    assert page.status == 200
    svg = page.body[page.body.index("<svg"):page.body.index("</svg>")]
    assert "<script" not in svg and "style=" not in svg
    assert "queue 701 (Orders &amp; &lt;Returns&gt;)" in svg and "<Returns>" not in page.body  # names escaped
    assert len(re.findall(r'<g class="step"', svg)) == 5  # route, time condition, IVR, queue, voicemail
    assert "time condition office" in svg and "key 1" in svg
    assert "closed → voicemail box 201" in svg  # a branch not taken, beside its step
    steps = page.body[page.body.index('id="trace-steps"'):]
    assert "open: mon-fri 09:00–18:00 (it is Mon 2026-12-07 10:00 in Asia/Shanghai)" in steps
    assert "a message in voicemail box 201" in page.body
    holiday = technician.get("/trace?did=5550100&at=2026-12-25+10:00")
    assert "closed: holiday Christmas" in holiday.body
    reaches = technician.get("/trace?reaches=queue:701")
    ways = reaches.body[reaches.body.index('id="ways"'):]
    assert "IVR menu main: key 1" in ways and "time condition office: open" in ways


def test_bad_input_is_named_and_agents_may_not_look(console):
    _site()
    admin = login(console, "admin")
    bad = admin.get("/trace?did=5550100&at=soon")
    assert bad.status == 200 and "at: &#39;soon&#39; is not a time" in bad.body and "<svg" not in bad.body
    injected = admin.get("/trace?did=%3Cscript%3E")
    assert "<script>" not in injected.body and "is not a phone number" in injected.body
    assert login(console, "agent").get("/trace").status == 403
    assert login(console, "supervisor").get("/trace").status == 200


def test_the_trace_reads_in_chinese(console):
    _site()
    admin = login(console, "admin")
    admin.submit("/language", {"language": "zh_CN", "next": "/trace"}, form_page="/")
    page = admin.get("/trace?did=5550100&at=2026-12-07+10:00&digits=1&no_answer=1")
    assert page.status == 200 and "呼叫会去哪里？" in page.body
    svg = page.body[page.body.index("<svg"):page.body.index("</svg>")]
    assert "时间条件 office" in svg and "上班：mon-fri 09:00–18:00（Asia/Shanghai 当地时间" in svg
    assert "按键 1" in svg and "队列 701" in svg
    assert "在语音信箱 201 留言" in page.body


def test_a_call_on_a_dahdi_trunk_is_traced_from_the_trunk(console):
    _site()
    service.save_object("dahdi_trunk", {"name": "fxo", "group": 1, "destination": "queue:701"}, user="test",
                        create=True)
    admin = login(console, "admin")
    form = admin.get("/trace")
    assert '<option value="fxo"' in form.body and "DAHDI trunk fxo" in form.body
    page = admin.get("/trace?did=&trunk=fxo&at=2026-12-07+10:00")
    svg = page.body[page.body.index("<svg"):page.body.index("</svg>")]
    assert "1. DAHDI trunk fxo" in svg and "2. queue 701" in svg


def test_a_number_dialled_out_shows_its_route_and_the_trunks_cheapest_first(console):
    import datetime

    from appliance.billing import rates_csv
    header = "prefix,class,per_minute,increment,connection_fee,free_minutes,currency,description\r\n"
    service.save_settings({"country_code": "86", "area_code": "21"}, user="test")
    for name in ("telco", "backup"):
        service.save_object("trunk", {"name": name, "host": "192.0.2.10"}, user="test", create=True)
    service.save_object("outbound_route", {"name": "mobiles", "least_cost": True, "trunks": ["telco", "backup"],
                                           "patterns": [{"match": "_1NXXXXXXXXX"}]}, user="test", create=True)
    rates_csv.import_bytes("telco", (header + ",mobile,0.20,60/60,,,CNY,\r\n").encode(), datetime.date(2026, 1, 1), "t")
    rates_csv.import_bytes("backup", (header + ",mobile,0.08,60/60,,,CNY,\r\n").encode(), datetime.date(2026, 1, 1),
                           "t")
    admin = login(console, "admin")
    page = admin.get("/trace?outbound=13912345678&at=2026-12-07+10:00")
    assert page.status == 200
    assert "Outbound route mobiles (pattern _1NXXXXXXXXX) sends 13912345678 (mobile) on 2026-12-07." in page.body
    table = page.body[page.body.index('id="outbound-trunks"'):]
    assert table.index("backup") < table.index("telco") and "0.08 CNY/min" in table
    nowhere = admin.get("/trace?outbound=555&at=2026-12-07+10:00")
    assert "No outbound route takes this number" in nowhere.body
    bad = admin.get("/trace?outbound=%3Cscript%3E")
    assert "<script>" not in bad.body and "is not a dialled number" in bad.body
