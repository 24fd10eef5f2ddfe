"""The console shows stored moments in the site's time zone and names the zone (issue 18).

Linebox stores moments in UTC; a Beijing site's admin reads the audit log, users, API tokens and bans
in Beijing time, the column headers saying which zone the times are in.
"""

from __future__ import annotations

import re
from datetime import datetime

from appliance.model.models import AuditEntry
from appliance.site import localtime, service
from tests.web.test_pages import login


def test_a_beijing_site_reads_the_audit_log_and_users_in_beijing_time(console):
    service.save_settings({"timezone": "Asia/Shanghai"}, "test")
    AuditEntry.create(when=datetime(2026, 11, 9, 16, 30, 0), user="lihua", action="update", kind="queue", key="700",
                      before={}, after={})  # 16:30 UTC = 00:30 the next day in Beijing
    admin = login(console, "admin")
    audit = admin.get("/audit?user=lihua")
    assert audit.status == 200
    assert "When (Asia/Shanghai)" in audit.body
    assert re.search(r'<td class="nowrap">2026-11-10 00:30:00</td>', audit.body), audit.body

    users = admin.get("/users")
    assert "Created (Asia/Shanghai)" in users.body and "Created (UTC)" not in users.body

    service.save_settings({"timezone": "UTC"}, "test")
    audit = admin.get("/audit?user=lihua")
    assert "When (UTC)" in audit.body and "2026-11-09 16:30:00" in audit.body  # a UTC site as before


def test_switching_the_settings_page_to_chinese_brings_cn_tones_and_beijing_time(console):
    admin = login(console, "admin")
    values = {k: str(v) for k, v in service.load_settings().model_dump().items() if not isinstance(v, bool)}
    values.update({"caller_name_lookup": "on", "language": "zh"})  # every field as the form posts it
    assert admin.submit("/settings", values).status == 302
    settings = service.load_settings()
    assert (settings.language, settings.tone_zone, settings.timezone) == ("zh", "cn", "Asia/Shanghai")
    # a zone typed in the same save wins
    service.save_settings({"language": "en", "tone_zone": "us", "timezone": localtime.box_timezone()}, "test")
    values.update({"timezone": "Asia/Hong_Kong"})
    assert admin.submit("/settings", values).status == 302
    assert (service.load_settings().tone_zone, service.load_settings().timezone) == ("cn", "Asia/Hong_Kong")
