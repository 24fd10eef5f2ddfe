"""What a user sees in Chromium: pages and fields named in words, the tab icon, the reports' list of queues."""

from __future__ import annotations

import re

from appliance.site import service
from tests.browser.conftest import shot


def _queues() -> None:
    for number, name in (("500", "Orders"), ("501", "After-sales")):
        service.save_object("queue", {"number": number, "name": name, "members": [{"extension": "100"}]}, "test",
                            create=True)


def test_pages_and_fields_are_named_in_words(admin_page, served):
    """The raw labels of the report ("Ivrs", "Ivr menu main", "Dahdi trunks", "Moh class", "Wrapup seconds")."""
    page = admin_page
    _queues()
    service.save_object("ivr", {"name": "main", "greeting": "hello-world",
                                "options": [{"digit": "1", "destination": "queue:500"}]}, "test", create=True)
    page.click("nav.sidenav >> text=IVR menus")
    page.wait_for_url(served.at("/ivrs/"))
    assert page.title() == "IVR menus · Linebox" and page.inner_text("h1") == "IVR menus"
    page.click("#objects >> text=main")
    page.wait_for_url(served.at("/ivrs/edit/main"))
    assert page.title() == "IVR menu main · Linebox"
    assert page.inner_text("#timeout_seconds-label") == "Wait for a key (seconds)"

    page.click("nav.sidenav >> text=DAHDI trunks")
    page.wait_for_url(served.at("/dahdi-trunks/"))
    assert page.inner_text("h1") == "DAHDI trunks" and "No DAHDI trunks yet." in page.inner_text("main")

    page.goto(served.at("/queues/edit/500"))
    assert page.inner_text("#wrapup_seconds-label") == "Wrap-up time (seconds)"
    assert page.inner_text("#moh_class-label") == "Music on hold class"
    assert page.locator("#strategy option:checked").inner_text() == "Round robin (remembers the last)"
    shot(page, "60-queue-form-in-words")


def test_the_tab_has_the_consoles_own_icon(admin_page, served):
    """The icon the page links to is served by the box and is an image the browser can draw (no 404)."""
    page = admin_page
    href = page.get_attribute("link[rel=icon]", "href")
    assert href == "/favicon.ico"
    width = page.evaluate("""() => new Promise(done => {
        const icon = new Image();
        icon.onload = () => done(icon.naturalWidth);
        icon.onerror = () => done(0);
        icon.src = document.querySelector('link[rel=icon]').href;
    })""")
    assert width >= 16


def test_reports_offer_the_sites_queues_to_choose_from(admin_page, served):
    page = admin_page
    _queues()
    page.click("nav.sidenav >> text=Reports")
    page.wait_for_url(re.compile(r"/reports"))
    options = page.locator("select#queue option").all_inner_texts()
    assert options == ["All queues", "500 Orders", "501 After-sales"]
    assert page.locator("select#queue option:checked").inner_text() == "All queues"
    page.select_option("select#queue", label="501 After-sales")
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"[?&]queue=501\b"))
    assert page.locator("select#queue option:checked").inner_text() == "501 After-sales"
    shot(page, "61-reports-queue-select")
    page.select_option("select#queue", label="All queues")
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"queue=(&|$)"))
    assert page.locator("select#queue option:checked").inner_text() == "All queues"
