"""The console in Chromium with the lab's real Asterisk 22 behind it: create an extension, apply, see it in Asterisk.

The console is the production server (cheroot) over the ``pbx`` fixture's install, so Apply writes the
generation that Asterisk reads and reloads it through AMI, exactly as on the appliance.
"""

from __future__ import annotations

import re

import pytest

from appliance.access import accounts
from appliance.services.http_server import make_server
from appliance.web.app import create_app
from tests.browser.conftest import ADMIN_PASSWORD, Served, login, shot

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def served_pbx(pbx):
    accounts.throttle.clear()
    accounts.ensure_first_admin()
    accounts.set_password("admin", ADMIN_PASSWORD, actor="test")
    server = make_server(create_app(pbx.install), "127.0.0.1", 0)
    server.start()
    try:
        yield Served(server.url, "")
    finally:
        server.close()
        accounts.throttle.clear()


def test_create_an_extension_apply_it_and_asterisk_has_it(page, served_pbx, pbx):
    assert "No matching endpoints" in pbx.cli("pjsip show endpoint 205") or "205" not in pbx.cli("pjsip show endpoints")
    login(page, served_pbx, "admin", ADMIN_PASSWORD)
    page.wait_for_url(served_pbx.at("/"))
    assert page.inner_text("#asterisk-state") == "Running"  # the dashboard talks to the real Asterisk
    assert re.match(r"22\.", page.inner_text("#asterisk-version"))
    shot(page, "40-lab-status-with-asterisk")

    page.goto(served_pbx.at("/extensions/new"))
    page.fill("#number", "205")
    page.fill("#name", "Reception desk")
    page.click("#save")
    page.wait_for_url(re.compile(r"/extensions/\?q=205$"))
    assert "Extension 205 created" in page.inner_text(".flash")

    page.click("nav.sidenav >> text=Apply")
    page.wait_for_url(served_pbx.at("/apply"))
    # the phone is live since the save (its rows); its new number range waits for Apply
    added = page.locator("#diff pre.diff span.add").all_text_contents()
    assert "+exten => _2XX,1,Gosub(sub-local,s,1(${EXTEN}))" in added, added
    page.click("#apply-now")
    page.wait_for_selector("#steps", timeout=60_000)
    steps = page.locator("#steps tbody tr")
    names = [steps.nth(i).locator("td").first.inner_text() for i in range(steps.count())]
    # the new range is a dialplan change; the phone's endpoint is rows, so res_pjsip is not reloaded for it
    assert any(n.startswith("reload: dialplan reload") for n in names) and "verify" in names, names
    assert not any("res_pjsip" in n for n in names), names
    assert page.locator("#steps td.state.bad").count() == 0, page.inner_text("#steps")
    shot(page, "41-lab-apply-result")

    endpoint = pbx.cli("pjsip show endpoint 205")
    assert re.search(r"^\s*Endpoint:\s+205[/\s]", endpoint, re.MULTILINE), endpoint
    assert "Reception desk" in endpoint  # the caller ID name the form set
