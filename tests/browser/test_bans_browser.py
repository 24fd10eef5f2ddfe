"""The Bans page in a real browser: the admin sees who is banned and why, and unbans with the button."""

from __future__ import annotations

import pytest

from appliance.security import bans
from appliance.site import service
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.timeout(120)


def test_admin_sees_a_ban_and_unbans_it(admin_page, served):
    service.save_settings({"ban_failures": 3}, user="test")
    for _ in range(3):  # recorded only: the ban service (not running here) would put it in the firewall
        bans.record_failure("198.51.100.7", "ChallengeResponseFailed", account="100", enforce=False)
    page = admin_page
    page.goto(served.at("/"))
    page.get_by_role("link", name="Bans").click()
    row = page.locator("#bans-in-force tbody tr")
    assert row.count() == 1
    assert "198.51.100.7" in row.inner_text() and "3 failures in 60 s" in row.inner_text()
    assert "198.51.100.7" in page.locator("#failures").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "bans.png"), full_page=True)
    page.get_by_role("button", name="Unban").click()
    page.wait_for_url(served.at("/bans"))
    assert "198.51.100.7 unbanned." in page.content()
    assert page.locator("#bans-in-force").count() == 0
    assert "(admin)" in page.locator("#bans-ended").inner_text()
    assert not bans.active("198.51.100.7")
