"""New console pages in Chromium: failover order by buttons (with and without JavaScript), Settings, Users."""

from __future__ import annotations

import re

import pytest

from appliance.access import accounts
from appliance.site import service
from tests.browser.conftest import ADMIN_PASSWORD, DESKTOP, login, shot

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def route():
    for name in ("telco", "backup", "mobile"):
        service.save_object("trunk", {"name": name, "host": f"{name}.example.net"}, "test", create=True)
    service.save_object("outbound_route", {"name": "national", "patterns": [{"match": "_0X."}],
                                           "trunks": ["telco", "backup"]}, "test", create=True)


def order(page) -> list[str]:
    return page.locator("#trunks-order li[data-item] .name").all_inner_texts()


def test_failover_order_with_up_and_down_buttons(admin_page, served, route):
    page = admin_page
    page.goto(served.at("/outbound-routes/edit/national"))
    assert order(page) == ["telco", "backup"]
    assert page.is_disabled("button[aria-label='Move telco up']")
    page.fill("#trunks_add", "mobile")
    page.click("#trunks-add")  # adding goes through the server: the list comes back with it, nothing saved
    page.wait_for_selector("li[data-item='mobile']")
    assert order(page) == ["telco", "backup", "mobile"]
    page.click("button[aria-label='Move mobile up']")  # moved in place by the page's script
    page.click("button[aria-label='Move mobile up']")
    assert order(page) == ["mobile", "telco", "backup"]
    assert page.inner_text("#trunks-order li[data-item='mobile'] .order") == "1."
    assert page.is_disabled("button[aria-label='Move mobile up']")
    assert service.get_object("outbound_route", "national").trunks == ["telco", "backup"]
    shot(page, "33-outbound-route-failover-order")
    page.click("#save")
    page.wait_for_url(re.compile(r"/outbound-routes/$"))
    assert service.get_object("outbound_route", "national").trunks == ["mobile", "telco", "backup"]


def test_failover_order_works_without_javascript(chromium, served, route):
    context = chromium.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        accounts.set_password("admin", ADMIN_PASSWORD, actor="test")
        login(page, served, "admin", ADMIN_PASSWORD)
        page.wait_for_url(served.at("/"))
        page.goto(served.at("/outbound-routes/edit/national"))
        with page.expect_navigation():
            page.click("button[aria-label='Move telco down']")  # a plain form post
        assert order(page) == ["backup", "telco"]
        with page.expect_navigation():
            page.click("button[aria-label='Remove telco']")
        assert order(page) == ["backup"]
        page.click("#save")
        page.wait_for_url(re.compile(r"/outbound-routes/$"))
        assert service.get_object("outbound_route", "national").trunks == ["backup"]
    finally:
        context.close()


def test_settings_page_shows_errors_next_to_fields(admin_page, served):
    page = admin_page
    page.click("nav.sidenav >> text=Settings")
    page.wait_for_url(served.at("/settings"))
    page.fill("#sip_port", "99999")
    page.fill("#recording_retention_days", "30")
    page.click("#save")
    assert page.inner_text("#sip_port-error") == "must be at most 65535"
    assert page.input_value("#sip_port") == "99999" and page.input_value("#recording_retention_days") == "30"
    assert service.load_settings().recording_retention_days == 0
    shot(page, "34-settings-error")
    page.fill("#sip_port", "5080")
    page.click("#save")
    page.wait_for_url(served.at("/settings"))
    assert "Settings saved." in page.inner_text(".flash")
    assert (service.load_settings().sip_port, service.load_settings().recording_retention_days) == (5080, 30)
    shot(page, "35-settings")


def test_users_change_role_and_delete_with_confirmation(admin_page, served):
    accounts.create_user("dana", "dana password 1", "technician", actor="test")
    page = admin_page
    page.goto(served.at("/users"))
    page.select_option("#role-admin", "technician")
    page.click("#set-role-admin")
    assert page.inner_text("#role-admin-error") == "you cannot change your own role: ask another admin"
    assert accounts.get_user("admin").role == "admin"
    page.select_option("#role-dana", "supervisor")
    page.click("#set-role-dana")
    page.wait_for_url(served.at("/users"))
    assert "dana is now supervisor." in page.inner_text(".flash")
    assert accounts.get_user("dana").role == "supervisor"
    shot(page, "36-users")
    page.click("#delete-dana")
    page.wait_for_url(served.at("/users/dana/delete"))
    assert accounts.get_user("dana") is not None
    shot(page, "37-user-delete-confirm")
    page.click("#confirm-delete")
    page.wait_for_url(served.at("/users"))
    assert "User dana deleted." in page.inner_text(".flash")
    assert accounts.get_user("dana") is None
    page.goto(served.at("/users/admin/delete"))
    page.click("#confirm-delete")
    assert "you cannot delete your own account" in page.inner_text(".problems")
    assert accounts.get_user("admin") is not None
