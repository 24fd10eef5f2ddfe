"""The admin's gateway page: lists gateways and the unknown MACs, and adopts one (login, role, CSRF)."""

from __future__ import annotations

from appliance.access import accounts
from appliance.gateways import service as gateways
from appliance.site import service
from tests.gateways.conftest import http_get
from tests.web.conftest import Browser, free_port


def test_admin_sees_unknown_macs_and_adopts_one(served, monkeypatch):
    monkeypatch.setenv(gateways.PROVISION_PORT_ENV, "8080")
    service.save_settings({"ami_port": free_port()}, "test")  # nothing answers there: state unknown
    accounts.throttle.clear()
    accounts.ensure_first_admin()
    accounts.set_password("admin", "correct horse battery", actor="test")
    assert http_get(f"{served}/provision/cfg000b82777777.xml").status == 404

    anonymous = Browser(served)
    assert anonymous.get("/gateways").status == 302  # to the login page

    browser = Browser(served)
    browser.login("admin", "correct horse battery")
    page = browser.get("/gateways")
    assert page.status == 200 and 'data-mac="000b82777777"' in page.body and "port state unknown" in page.body
    # what the admin types into a gateway: the provisioning server's plain-HTTP URL on this box
    assert '<code id="provisioning-url">http://127.0.0.1:8080/provision/</code>' in page.body
    assert "<code>127.0.0.1:8080/provision</code>" in page.body  # Grandstream's Config Server Path
    assert "http://127.0.0.1:8080/provision/spa$MA.xml" in page.body  # Cisco's Profile Rule
    done = browser.submit("/gateways/adopt", {"mac": "000b82777777", "model": "ht814", "name": "Hall"},
                          form_page="/gateways", follow=True)
    assert done.status == 200 and "adopted" in done.body
    gw = gateways.get_gateway("000b82777777")
    assert gw is not None and gw["name"] == "Hall" and len(gw["ports"]) == 4
    assert 'data-mac="000b82777777" data-port="4"' in done.body

    refused = browser.submit("/gateways/adopt", {"mac": "000b82777778", "model": "ht814"}, form_page="/gateways",
                             follow=True)
    assert "no request from 000b82777778" in refused.body
    assert browser.request("POST", "/gateways/adopt", {"mac": "000b82777777", "model": "ht814"}).status == 400
