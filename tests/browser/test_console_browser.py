"""The console in a real browser: first login, forms, errors, roles, apply, and a screenshot of each main page."""

from __future__ import annotations

import re

import pytest

from appliance.access import accounts
from appliance.model.models import AuditEntry, Extension
from appliance.provisioning import apply as apply_mod
from appliance.site import service
from tests.browser.conftest import TABLET, login, shot

pytestmark = pytest.mark.timeout(120)


def test_first_login_forces_a_password_change(page, served):
    page.goto(served.url)
    assert "/login" in page.url
    login(page, served, "admin", served.one_time_password)
    page.wait_for_url(re.compile(r"/password$"))
    assert "one-time password" in page.inner_text(".notice")
    shot(page, "01-first-login-password-change")

    page.goto(served.at("/extensions/"))  # every page leads back to the password change
    assert page.url.endswith("/password")

    page.fill("#current_password", served.one_time_password)
    page.fill("#new_password", "a much better password")
    page.fill("#confirm", "a much better password")
    page.click("main button[type=submit]")
    page.wait_for_url(served.at("/"))
    assert page.inner_text("h1") == "Status"
    assert "Your password is changed." in page.inner_text(".flash")
    assert page.is_visible("nav.sidenav >> text=Extensions")
    assert accounts.verify_login("admin", "a much better password") is not None


def test_create_an_extension_through_the_form_then_apply_it(admin_page, served):
    page = admin_page
    page.click("nav.sidenav >> text=Extensions")
    page.wait_for_url(served.at("/extensions/"))
    page.click("#new-object")
    page.fill("#number", "205")
    page.fill("#name", "Reception desk")
    page.check("#voicemail")
    page.fill("#email", "reception@example.org")
    page.select_option("#recording", "on_demand")
    shot(page, "03-extension-new-form")
    page.click("#save")
    page.wait_for_url(re.compile(r"/extensions/\?q=205$"))
    assert "Extension 205 created" in page.inner_text(".flash")
    row = page.locator("tr[data-key='205']")
    assert "Reception desk" in row.inner_text() and "On demand (feature code)" in row.inner_text()
    ext = service.get_object("extension", "205")
    assert ext.voicemail and ext.email == "reception@example.org"

    page.click("nav.sidenav >> text=Apply")
    page.wait_for_url(served.at("/apply"))
    added = page.locator("#diff pre.diff span.add").all_text_contents()
    # the phone itself was saved live (its rows); what waits for Apply is its new number range and its mailbox
    assert "+exten => _2XX,1,Gosub(sub-local,s,1(${EXTEN}))" in added, added
    assert any(line.startswith("+205 => ********,") for line in added)  # the voicemail PIN, masked
    assert ext.password not in page.content()
    colour = page.eval_on_selector("#diff pre.diff span.add", "e => getComputedStyle(e).backgroundColor")
    assert colour != "rgba(0, 0, 0, 0)"  # + lines are coloured by the stylesheet
    shot(page, "05-apply-pending")

    page.click("#apply-now")
    page.wait_for_selector("#steps")
    steps = page.locator("#steps tbody tr")
    names = [steps.nth(i).locator("td").first.inner_text() for i in range(steps.count())]
    # no Asterisk here: the extensions' rows are written (objects), the files swapped, the reload skipped
    assert names == ["check", "render", "diff", "objects", "stage", "swap", "reload"], names
    assert page.locator("#steps td.state.bad").count() == 0
    assert page.locator("#steps td.state.ok").count() == len(names)
    assert re.search(r"\d+ ms", page.inner_text("#steps"))
    assert "generation 000001 is live" in page.inner_text("#result")
    shot(page, "06-apply-result")

    page.goto(served.at("/apply"))
    assert page.is_visible("#no-changes")
    assert "live" in page.inner_text("#generations")


def test_a_bad_value_shows_an_error_next_to_its_field_and_writes_nothing(admin_page, served):
    page = admin_page
    before = (Extension.select().count(), AuditEntry.select().count())
    page.goto(served.at("/extensions/new"))
    page.fill("#number", "20a")
    page.fill("#name", "Typed name")
    page.fill("#ring_seconds", "2")
    page.click("#save")
    page.wait_for_selector("#number-error")
    assert page.inner_text("#field-number .error") == "'20a' is not allowed here: use 2 to 8 digits"
    assert page.inner_text("#field-ring_seconds .error") == "must be at least 5"
    assert page.locator("#field-name .error").count() == 0
    assert page.input_value("#number") == "20a" and page.input_value("#name") == "Typed name"
    assert page.get_attribute("#number", "aria-invalid") == "true"
    # the error sits right under its input
    field_box = page.locator("#number").bounding_box()
    error_box = page.locator("#number-error").bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 20
    assert abs(error_box["x"] - field_box["x"]) < 5
    shot(page, "04-extension-error")
    assert (Extension.select().count(), AuditEntry.select().count()) == before


def test_a_technician_cannot_change_anything(page, served):
    accounts.create_user("tech", "technician password", "technician", actor="test")
    login(page, served, "tech", "technician password")
    page.wait_for_url(served.at("/"))
    page.goto(served.at("/extensions/"))
    assert page.locator("#new-object").count() == 0
    assert page.locator("text=Import CSV").count() == 0
    assert page.locator("tr[data-key='100'] >> text=Edit").count() == 0
    assert page.locator("tr[data-key='100'] >> text=Delete").count() == 0
    page.click("tr[data-key='100'] >> text=View")
    assert page.is_disabled("#name") and page.is_disabled("#recording")
    assert page.locator("#save").count() == 0
    shot(page, "10-technician-read-only")

    before = AuditEntry.select().count()
    token = page.get_attribute("input[name=csrf_token]", "value")
    response = page.request.post(served.at("/extensions/edit/100"),
                                 form={"csrf_token": token, "number": "100", "name": "Hacked", "recording": "never"})
    assert response.status == 403
    for path in ("/extensions/new", "/extensions/delete/100", "/apply", "/users"):
        assert page.request.post(served.at(path), form={"csrf_token": token}).status == 403, path
    assert page.goto(served.at("/extensions/new")).status == 403
    assert "Not allowed" in page.inner_text("h1")
    assert service.get_object("extension", "100").name == "Desk 100"
    assert AuditEntry.select().count() == before


def _sample_site() -> None:
    """A small office: a few desks, two trunks with failover, office hours, routes in and out."""
    save = service.save_object
    for number, name, voicemail, email in [("102", "O'Brien, Pat \"Accounts\"", True, "accounts@example.org"),
                                           ("103", "Dr. María Núñez", True, "m.nunez@example.org"),
                                           ("104", "Warehouse", False, ""), ("105", "Meeting room", False, "")]:
        save("extension", {"number": number, "name": name, "voicemail": voicemail, "email": email}, "installer",
             create=True)
    save("trunk", {"name": "telco", "registration": True, "host": "sip.telco.example", "username": "acct1",
                   "password": "s3cretpass", "codecs": ["alaw", "ulaw"]}, "installer", create=True)
    save("trunk", {"name": "backup", "host": "192.0.2.10", "match": ["192.0.2.10"], "codecs": ["ulaw"]},
         "installer", create=True)
    save("ring_group", {"number": "600", "name": "Front desk", "members": ["100", "101", "102"],
                        "fallback": "voicemail:102"}, "installer", create=True)
    save("moh_class", {"name": "calm", "directory": "/var/lib/linebox/moh/calm"}, "installer", create=True)
    save("announcement", {"name": "closed", "sound": "custom/closed", "destination": "voicemail:102"},
         "installer", create=True)
    save("time_condition", {"name": "office", "timezone": "Europe/London",
                            "ranges": [{"days": "mon-fri", "start": "08:30", "end": "17:30"},
                                       {"days": "sat", "start": "09:00", "end": "12:00"}],
                            "holidays": [{"date": "2026-12-25", "name": "Christmas"}],
                            "open_destination": "ringgroup:600", "closed_destination": "announcement:closed"},
         "installer", create=True)
    save("inbound_route", {"name": "main", "did": "441632960000", "destination": "timecondition:office"},
         "installer", create=True)
    save("outbound_route", {"name": "emergency", "position": 0, "patterns": [{"match": "999"}, {"match": "112"}],
                            "trunks": ["telco", "backup"]}, "installer", create=True)
    save("outbound_route", {"name": "national", "position": 10,
                            "patterns": [{"match": "_0NXXXXXXXX"}, {"match": "_90NXXXXXXXX", "strip": 1}],
                            "trunks": ["telco", "backup"], "caller_id": "441632960000"}, "installer", create=True)


MAIN_PAGES = [
    ("02-status", "/"),
    ("11-extensions", "/extensions/"),
    ("12-extension-edit", "/extensions/edit/101"),
    ("13-trunks", "/trunks/"),
    ("14-trunk-edit", None),
    ("15-ring-groups", "/ring-groups/"),
    ("16-time-condition-edit", None),
    ("17-inbound-routes", "/inbound-routes/"),
    ("18-outbound-routes", "/outbound-routes/"),
    ("19-outbound-route-edit", None),
    ("20-apply", "/apply"),
    ("21-audit", "/audit"),
    ("22-users", "/users"),
    ("23-extensions-import", "/extensions/import"),
]


def test_screenshots_of_the_main_pages(admin_page, served, install):
    """Each main page at 1366×768 (and a few on a tablet): rendered, nothing wider than the window."""
    _sample_site()
    # applied once, then changed: the apply page shows a small diff (with a changed secret redacted)
    assert apply_mod.apply(service.snapshot(), install.facts(), install.target(), user="installer").ok
    service.save_object("extension", {**service.get_object("extension", "101").model_dump(), "name": "Dr. Lee"},
                        "admin")
    service.save_object("trunk", {**service.get_object("trunk", "telco").model_dump(), "password": "n3wpass"},
                        "admin")
    page = admin_page
    first = {k: service.list_objects(k)[0] for k in ("trunk", "time_condition", "outbound_route")}
    paths = {
        "14-trunk-edit": f"/trunks/edit/{first['trunk'].name}",
        "16-time-condition-edit": f"/time-conditions/edit/{first['time_condition'].name}",
        "19-outbound-route-edit": f"/outbound-routes/edit/{first['outbound_route'].name}",
    }
    for name, path in MAIN_PAGES:
        response = page.goto(served.at(path or paths[name]))
        assert response.status == 200, name
        assert "Traceback" not in page.content()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366, f"{name} is {width} px wide"
        shot(page, name)

    page.set_viewport_size(TABLET)
    for name, path in [("30-tablet-extensions", "/extensions/"), ("31-tablet-outbound-route-edit",
                                                                    paths["19-outbound-route-edit"]),
                       ("32-tablet-apply", "/apply")]:
        page.goto(served.at(path))
        assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"], name
        shot(page, name)


def test_charts_of_a_period_with_no_calls_say_so_in_full(admin_page, served):
    """A fresh box's report charts are whole images whose "no calls" text fits inside them (it was clipped)."""
    admin_page.goto(served.at("/reports"))
    images = admin_page.locator("img.chart")
    assert images.count() == 3
    for i in range(3):  # every chart loaded as an image (a 500 shows as a broken image: width 0)
        assert admin_page.evaluate("(img) => img.complete && img.naturalWidth", images.nth(i).element_handle()) > 0
    for name in ("service-level", "abandonment"):
        admin_page.goto(served.at(f"/reports/chart/{name}.svg"))
        box = admin_page.evaluate("""() => {
            const svg = document.querySelector('svg');
            const text = [...document.querySelectorAll('text')].find(t => t.textContent.includes('No calls'));
            const b = text.getBBox();
            return {x: b.x, width: b.width, svg: svg.viewBox.baseVal.width || svg.width.baseVal.value};
        }""")
        assert box["x"] >= 0 and box["x"] + box["width"] <= box["svg"], (name, box)
