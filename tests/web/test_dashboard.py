"""The status page shows span alarms (or says plainly there is no card) and gateway port states."""

from __future__ import annotations

import re

from appliance.gateways import service as gateways
from tests.hardware.fake_sysfs import make_fake_sysfs
from tests.web.test_pages import login


def test_dashboard_says_plainly_when_there_are_no_spans(console, tmp_path):
    console.app.config["LINEBOX_SYSFS"] = str(tmp_path / "empty-sys")
    body = login(console, "technician").get("/").body
    assert "No DAHDI spans on this box: there is no telephony card, or its driver is not loaded." in body
    assert "No FXO/FXS gateway adopted." in body


def test_dashboard_lists_span_alarms_with_advice(console, tmp_path):
    console.app.config["LINEBOX_SYSFS"] = str(make_fake_sysfs(tmp_path / "sys"))
    body = login(console, "supervisor").get("/").body
    rows = dict(re.findall(r'<tr data-span="(\d+)">(.*?)</tr>', body, re.S))
    assert sorted(rows) == ["1", "2", "3", "4", "5"]
    assert "TE4/0/1" in rows["1"] and 'class="state ok">OK' in rows["1"]
    assert 'class="state bad">LOS, RED' in rows["2"]  # as DAHDI names its alarms
    assert 'class="state bad">YELLOW' in rows["3"]
    assert '<p class="hint">' in rows["2"]  # and what to do about it


def test_dashboard_shows_gateway_ports_even_when_asterisk_is_down(console, tmp_path):
    console.app.config["LINEBOX_SYSFS"] = str(tmp_path / "empty-sys")
    gateways.adopt("000b82aabbcc", "ht802", "test", name="Lobby ATA", address="192.0.2.20")
    body = login(console, "admin").get("/").body
    assert "Lobby ATA" in body
    assert "port states unknown: Asterisk is not reachable" in body
