"""The console's Hardware page and the object pages of ports, spans and DAHDI trunks, per role."""

from __future__ import annotations

import html

import pytest

from appliance.site import service
from hardware import detect
from tests.web.test_pages import login

U = "test"


@pytest.fixture
def hardware_site(console):
    install = console.app.extensions["linebox.install"]
    device = detect.DetectedDevice(
        bus="pci", address="0000:04:00.0", sys_path="/sys/devices/pci0000:00/0000:00:1c.4/0000:04:00.0",
        vendor="d161", device="1420", subvendor="0005", subdevice="0000", status="known", vendor_name="Digium",
        model="TE420 (5th gen, PCI Express)", expected_driver="wct4xxp", driver=None, state=None,
        card={"ports": [{"kind": "e1t1", "count": 4}]}, advice=("driver not loaded: modprobe wct4xxp",))
    detect.save(detect.Inventory((device,)), install.inventory_file)
    service.save_object("dahdi_trunk", {"name": "telco", "group": 1}, U, create=True)
    service.save_object("span", {"span": 1, "card": "pci:0000:04:00.0", "trunk": "telco"}, U, create=True)
    service.save_object("analog_port", {"channel": 1, "kind": "fxs", "extension": "100", "card": "pci:0000:03:00.0",
                                        "port": 1}, U, create=True)
    return console


@pytest.mark.parametrize("role", ["admin", "technician"])
def test_hardware_page_shows_cards_and_what_is_assigned(hardware_site, role):
    page = html.unescape(login(hardware_site, role).get("/hardware").body)
    assert "Digium TE420 (5th gen, PCI Express)" in page and "driver not loaded: modprobe wct4xxp" in page
    assert "E1 PRI, cpe side, euroisdn, ccs/hdb3/crc4" in page and "DAHDI trunk telco" in page
    assert "pci:0000:03:00.0 <small>not found by the last scan</small>" in page and "extension 100" in page
    assert "DAHDI/g1" in page and "span 1, channel" not in page  # the trunk lists its lines
    assert ("Add a span" in page) == (role == "admin")
    assert 'href="/hardware"' in page


@pytest.mark.parametrize("role", ["supervisor", "agent"])
def test_hardware_page_is_not_for_call_center_roles(hardware_site, role):
    assert login(hardware_site, role).get("/hardware").status == 403


def test_technician_reads_a_span_but_cannot_change_it(hardware_site):
    browser = login(hardware_site, "technician")
    assert browser.get("/spans/edit/1").status == 200
    token = browser.get("/").csrf_token()
    response = browser.request("POST", "/spans/edit/1", {"csrf_token": token, "span": "1", "trunk": "telco",
                                                          "card": "x", "line_type": "t1"})
    assert response.status == 403
    assert service.get_object("span", "1").card == "pci:0000:04:00.0"


def test_admin_gets_the_field_named_for_a_bad_span(hardware_site):
    browser = login(hardware_site, "admin")
    fields = {"span": "2", "source": "card", "loc": "", "card": "pci:0000:04:00.0", "local_span": "2",
              "line_type": "t1", "switch_type": "national", "framing": "esf", "coding": "b8zs", "crc4": "on",
              "timing": "2", "lbo": "0", "side": "cpe", "trunk": "telco"}
    response = browser.submit("/spans/new", fields, form_page="/spans/new")
    assert response.status == 422
    assert "CRC4 exists on E1 only: turn it off for a T1 span" in html.unescape(response.body)
    del fields["crc4"]
    assert browser.submit("/spans/new", fields, form_page="/spans/new").status == 302
    assert service.get_object("span", "2").line_type == "t1"
