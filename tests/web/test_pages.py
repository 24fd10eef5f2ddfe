"""The configuration pages over real HTTP (cheroot, no browser): roles, object forms, CSV, apply, audit, users."""

from __future__ import annotations

import csv
import html
import io
import re
import time
import urllib.request

import pytest

from appliance.access import accounts
from appliance.model.database import database
from appliance.model.models import AuditEntry, Extension
from appliance.site import queries, service
from appliance.web import diffview, objectforms
from appliance.web.pages import audit as audit_view
from appliance.web.pages.common import SLUGS
from appliance.web.roles import require_role

MAIN_PAGES = ["/extensions/", "/trunks/", "/voicemail-boxes/", "/ring-groups/", "/moh-classes/",
              "/announcements/", "/time-conditions/", "/inbound-routes/", "/outbound-routes/",
              "/extensions/edit/100", "/apply", "/audit", "/users"]
ADMIN_ONLY_PAGES = ["/extensions/new", "/trunks/new", "/extensions/delete/100", "/extensions/import"]


def login(console, role: str):
    """A browser logged in as a user of ``role`` (the admin for 'admin')."""
    if role == "admin":
        accounts.set_password("admin", "correct horse battery", actor="test")
        username, password = "admin", "correct horse battery"
    else:
        username, password = f"{role}1", f"{role} password 1"
        if accounts.get_user(username) is None:
            accounts.create_user(username, password, role, actor="test")
    browser = console.browser()
    assert browser.login(username, password).status == 302
    return browser


def errors_of(body: str) -> dict[str, str]:
    pattern = r'<p class="error" id="([\w-]+)-error">(.*?)</p>'
    return {m.group(1): html.unescape(m.group(2)) for m in re.finditer(pattern, body)}


def form_errors(body: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="error form-error" role="alert">(.*?)</p>', body)]


def input_value(body: str, name: str) -> str:
    pattern = rf'<(?:input|textarea)[^>]*\bname="{name}"[^>]*?(?:value="([^"]*)"[^>]*>|>([^<]*)</textarea>)'
    match = re.search(pattern, body)
    assert match, f"no input {name}"
    return html.unescape(match.group(1) if match.group(1) is not None else match.group(2))


def audit_count() -> int:
    return AuditEntry.select().count()


# ---------------------------------------------------------------- roles


def test_every_console_view_is_guarded(console):
    """Every page view carries require_role; only log in/out, password, status, static pages and the icon do not."""
    unguarded = {"static", "views.favicon", "auth.login", "auth.logout", "auth.password", "views.status", "_boom",
                 "i18n.choose",  # the language switch, on the login page too
                 # devices fetch their provisioning file without a login (MAC + optional password)
                 "gateways.provision.file", "gateways.provision.file_with_password"}
    for rule in console.app.url_map.iter_rules():
        if rule.endpoint in unguarded or rule.endpoint.startswith("api"):
            continue
        view = console.app.view_functions[rule.endpoint]
        assert getattr(view, "linebox_roles", None), f"{rule.rule} ({rule.endpoint}) has no require_role"


def test_the_icon_is_served_from_the_box(console):
    """Browsers ask every site for /favicon.ico, before anyone logs in: an icon, not a 404, and no CDN."""
    with urllib.request.urlopen(console.url + "/favicon.ico", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/vnd.microsoft.icon"
        assert response.read(4) == b"\0\0\1\0"  # an icon file's header
    login_page = console.browser().get("/login").body
    assert re.search(r'<link rel="icon" href="/favicon.ico">', login_page)


def test_require_role_rejects_unknown_roles():
    with pytest.raises(ValueError):
        require_role("root")
    with pytest.raises(ValueError):
        require_role()


@pytest.mark.parametrize("role", ["admin", "technician", "supervisor", "agent"])
def test_role_matrix_for_pages(console, role):
    browser = login(console, role)
    assert browser.get("/").status == 200
    for path in MAIN_PAGES:
        expected = 200 if role in ("admin", "technician") else 403
        response = browser.get(path)
        assert response.status == expected, (role, path, response.status)
    for path in ADMIN_ONLY_PAGES:
        assert browser.get(path).status == (200 if role == "admin" else 403), (role, path)
    nav = browser.get("/").body
    assert ('href="/extensions/"' in nav) == (role in ("admin", "technician"))
    assert ('href="/apply"' in nav) == (role in ("admin", "technician"))


def test_unauthenticated_pages_redirect_to_login(console):
    for path in [*MAIN_PAGES, *ADMIN_ONLY_PAGES]:
        response = console.browser().get(path)
        assert response.status == 302 and "/login?next=" in response.location, path


@pytest.mark.parametrize("role", ["technician", "supervisor", "agent"])
def test_only_admins_can_change_anything(console, role):
    browser = login(console, role)
    token = browser.get("/").csrf_token()  # the log-out form's token: valid for any form of this session
    before = audit_count()
    posts = [
        ("/extensions/new", {"number": "150", "name": "Sneaky", "recording": "never"}),
        ("/extensions/edit/100", {"number": "100", "name": "Renamed", "recording": "never"}),
        ("/extensions/delete/100", {}),
        ("/extensions/import", {}),
        ("/apply", {}),
        ("/apply/rollback/000001", {}),
        ("/users", {"username": "mallory", "role": "admin"}),
        ("/users/admin/reset", {}),
    ]
    for path, fields in posts:
        response = browser.request("POST", path, {"csrf_token": token, **fields})
        assert response.status == 403, (role, path, response.status)
        assert "Not allowed" in response.body
    assert audit_count() == before
    assert service.get_object("extension", "100").name == "Desk 100"
    assert accounts.get_user("mallory") is None
    assert not (console.app.extensions["linebox.install"].config_root / "live").exists()


def test_technician_sees_no_edit_buttons_and_a_read_only_form(console):
    browser = login(console, "technician")
    listing = browser.get("/extensions/").body
    assert "New extension" not in listing and "Import CSV" not in listing and ">Delete<" not in listing
    assert ">View<" in listing and "Export CSV" in listing
    form = browser.get("/extensions/edit/100").body
    assert "Read only" in form
    assert 'id="save"' not in form
    assert re.search(r'<input type="text" id="name" name="name" disabled', form)
    apply_page = browser.get("/apply").body
    assert 'id="apply-now"' not in apply_page
    users = browser.get("/users").body
    assert "Create user" not in users and "Reset password" not in users


# ---------------------------------------------------------------- lists: search and paging


def test_page_objects_searches_keys_and_names_and_pages(install):
    Extension.insert_many([{"number": str(1000 + i), "name": f"Agent {i:03d}", "password": "x" * 24,
                            "voicemail_pin": "1234"} for i in range(120)]).execute()
    Extension.insert_many([{"number": "99", "name": "Lobby 50%_off", "password": "x" * 24,
                            "voicemail_pin": "1234"}]).execute()
    items, total = queries.page_objects("extension", "", 50, 0)
    assert total == 121 and len(items) == 50
    assert items[0].number == "99" and items[1].number == "1000"  # numbers in numeric order
    items, total = queries.page_objects("extension", "", 50, 100)
    assert total == 121 and [e.number for e in items][-1] == "1119"
    assert queries.page_objects("extension", "agent 01", 50, 0)[1] == 10  # name, case-insensitive
    assert queries.page_objects("extension", "1011", 50, 0)[1] == 1  # number
    assert [e.number for e in queries.page_objects("extension", "50%_", 50, 0)[0]] == ["99"]  # wildcards literal
    assert queries.page_objects("extension", "%", 50, 0)[1] == 1


def test_list_page_searches_and_pages(console, admin_password):
    Extension.insert_many([{"number": str(2000 + i), "name": f"Agent {i:03d}", "password": "x" * 24,
                            "voicemail_pin": "1234"} for i in range(120)]).execute()
    browser = console.browser()
    browser.login("admin", admin_password)
    first = browser.get("/extensions/").body
    assert "1–50 of 122" in first
    assert first.count('<tr data-key=') == 50
    third = browser.get("/extensions/?page=3").body
    assert "101–122 of 122" in third and third.count('<tr data-key=') == 22
    assert 'href="/extensions/?page=2"' in third
    found = browser.get("/extensions/?q=agent+11").body
    assert "1–10 of 10 matching" in found and 'data-key="2110"' in found
    assert 'href="/extensions/?q=agent+11&amp;page=2"' not in found
    found = browser.get("/extensions/?q=Agent+0&page=2").body
    assert "51–100 of 100" in found and 'href="/extensions/?q=Agent+0&amp;page=1"' in found
    assert "No extensions match" in browser.get("/extensions/?q=nobody").body
    assert browser.get("/extensions/?page=abc").status == 200


def test_list_and_edit_pages_stay_fast_with_10000_extensions(console, admin_password):
    Extension.insert_many([{"number": str(10000 + i), "name": f"User {i}", "password": "x" * 24,
                            "voicemail_pin": "1234"} for i in range(10_000)]).execute()
    service.save_object("ring_group", {"number": "600", "name": "Sales", "members": ["100", "101"]}, "test",
                        create=True)
    browser = console.browser()
    browser.login("admin", admin_password)
    timings = {}
    for path in ["/extensions/", "/extensions/?page=150", "/extensions/?q=User+99", "/extensions/edit/15000",
                 "/ring-groups/edit/600"]:
        browser.get(path)  # warm up
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            response = browser.get(path)
            samples.append(time.perf_counter() - start)
            assert response.status == 200
        timings[path] = sorted(samples)[2]
    print("median page times (s):", {k: round(v, 3) for k, v in timings.items()})
    assert "1–50 of 10002" in browser.get("/extensions/").body
    # a destination select with 10,000 extensions would be ~1 MB: it becomes a text input with suggestions
    ring_group = browser.get("/ring-groups/edit/600").body
    assert len(ring_group) < 50_000 and 'list="fallback-list"' in ring_group
    assert all(t < 1.0 for t in timings.values()), timings  # generous for CI; make bench measures p95


# ---------------------------------------------------------------- create, edit, delete


def test_create_extension_through_the_form(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    form = browser.get("/extensions/new").body
    assert input_value(form, "ring_seconds") == "25"
    assert input_value(form, "password") == ""  # never a generated secret in the page
    assert "Leave empty to generate one." in form
    response = browser.submit("/extensions/new", {"number": "102", "name": "Reception", "voicemail": "on",
                                                  "email": "desk@example.org", "recording": "always",
                                                  "ring_seconds": "30", "password": "", "voicemail_pin": "",
                                                  "options": "direct_media=no\n"})
    assert response.status == 302 and response.location.endswith("/extensions/?q=102")
    ext = service.get_object("extension", "102")
    assert (ext.name, ext.voicemail, ext.recording, ext.ring_seconds) == ("Reception", True, "always", 30)
    assert ext.options == {"direct_media": "no"} and len(ext.password) == 24 and len(ext.voicemail_pin) == 6
    listing = browser.get(response.location, follow=True).body
    assert "Extension 102 created" in listing and 'data-key="102"' in listing
    entry = AuditEntry.select().order_by(AuditEntry.id.desc()).get()
    assert (entry.user, entry.action, entry.kind, entry.key) == ("admin", "create", "extension", "102")


def test_bad_values_are_shown_next_to_their_fields_kept_and_nothing_stored(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    before = audit_count()
    response = browser.submit("/extensions/new", {"number": "12a", "name": "Kept name", "recording": "never",
                                                  "ring_seconds": "999", "email": "not-an-email",
                                                  "options": "direct_media=no\nnot an option"})
    assert response.status == 422
    errors = errors_of(response.body)
    assert errors["number"] == "'12a' is not allowed here: use 2 to 8 digits"
    assert errors["ring_seconds"] == "must be at most 300"
    assert errors["email"] == "'not-an-email' is not allowed here: use an e-mail address such as " \
        "name@example.com, or nothing"
    assert errors["options"] == "line 2: write key=value"
    assert "name" not in errors
    assert input_value(response.body, "number") == "12a"
    assert input_value(response.body, "name") == "Kept name"
    assert input_value(response.body, "options") == "direct_media=no\nnot an option"
    assert 'aria-invalid="true"' in response.body and "Traceback" not in response.body
    assert audit_count() == before and Extension.select().count() == 2


def test_number_taken_by_another_object_is_named_at_the_number_field(console, admin_password):
    service.save_object("ring_group", {"number": "600", "name": "Sales", "members": ["100"]}, "test", create=True)
    browser = console.browser()
    browser.login("admin", admin_password)
    response = browser.submit("/extensions/new", {"number": "600", "name": "Clash", "recording": "never"})
    assert response.status == 422
    assert "600 is already used by" in errors_of(response.body)["number"]
    response = browser.submit("/extensions/new", {"number": "100", "name": "Twin", "recording": "never"})
    assert errors_of(response.body)["number"] == "extension 100 already exists"


def test_edit_keeps_secrets_unless_a_new_one_is_typed(console, admin_password):
    old = service.get_object("extension", "100")
    browser = console.browser()
    browser.login("admin", admin_password)
    form = browser.get("/extensions/edit/100").body
    assert old.password not in form and old.voicemail_pin not in form
    assert "Leave empty to keep the current one." in form
    fields = {"number": "100", "name": "Desk one hundred", "recording": "never", "ring_seconds": "25",
              "password": "", "voicemail_pin": "", "email": "", "options": ""}
    assert browser.submit("/extensions/edit/100", fields).status == 302
    new = service.get_object("extension", "100")
    assert (new.name, new.password, new.voicemail_pin) == ("Desk one hundred", old.password, old.voicemail_pin)
    assert browser.submit("/extensions/edit/100", {**fields, "password": "NewSecret12345"}).status == 302
    assert service.get_object("extension", "100").password == "NewSecret12345"
    entry = AuditEntry.select().order_by(AuditEntry.id.desc()).get()
    assert "NewSecret12345" not in str(entry.after) and old.password not in str(entry.before)


def test_rename_through_the_edit_form(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    response = browser.submit("/extensions/edit/101", {"number": "111", "name": "Desk 101", "recording": "never"})
    assert response.status == 302
    assert service.get_object("extension", "101") is None and service.get_object("extension", "111") is not None
    assert browser.get("/extensions/edit/101").status == 404


def test_every_kind_round_trips_through_its_form(console, admin_password):
    """Lists as text: members, codecs, match, patterns, ordered trunks, ranges, holidays, options."""
    browser = console.browser()
    browser.login("admin", admin_password)
    posts = [
        ("trunks", {"name": "carrier-a", "host": "sip.example.net", "port": "5060", "registration": "on",
                    "username": "acct1", "password": "s3cret", "codecs": "alaw\nulaw", "max_channels": "30",
                    "match": "192.0.2.10\n198.51.100.0/24", "qualify_seconds": "30", "options": ""}),
        ("trunks", {"name": "carrier-b", "host": "203.0.113.5", "codecs": "ulaw", "match": "203.0.113.5"}),
        ("voicemail-boxes", {"number": "700", "name": "Support box", "pin": "", "email": ""}),
        ("ring-groups", {"number": "600", "name": "Sales", "strategy": "hunt", "members": "101\n100",
                         "ring_seconds": "20", "fallback": "voicemail:700"}),
        ("moh-classes", {"name": "calm", "directory": "/var/lib/linebox/moh/calm", "sort": "alpha"}),
        ("announcements", {"name": "welcome", "sound": "custom/welcome", "destination": "ringgroup:600"}),
        ("time-conditions", {"name": "office", "timezone": "Europe/Istanbul",
                             "ranges": "mon-fri 09:00-18:00\nsat 10:00-13:00",
                             "holidays": "2026-01-01 New year\n2026-10-29",
                             "open_destination": "announcement:welcome", "closed_destination": "voicemail:700"}),
        ("inbound-routes", {"name": "main", "did": "02125550100", "cid": "", "destination": "timecondition:office"}),
        ("outbound-routes", {"name": "national", "position": "10", "patterns": "_0XXXXXXXXXX\n_9NXXXXXX|1|0212",
                             "trunks": "carrier-b\ncarrier-a", "caller_id": "02125550100", "caller_id_name": ""}),
    ]
    for slug, fields in posts:
        response = browser.submit(f"/{slug}/new", fields)
        assert response.status == 302, (slug, errors_of(response.body), form_errors(response.body))
    route = service.get_object("outbound_route", "national")
    assert route.trunks == ["carrier-b", "carrier-a"]
    assert [p.model_dump() for p in route.patterns] == [{"match": "_0XXXXXXXXXX", "strip": 0, "prepend": ""},
                                                        {"match": "_9NXXXXXX", "strip": 1, "prepend": "0212"}]
    tc = service.get_object("time_condition", "office")
    assert [r.model_dump() for r in tc.ranges] == [{"days": "mon-fri", "start": "09:00", "end": "18:00"},
                                                   {"days": "sat", "start": "10:00", "end": "13:00"}]
    assert [h.model_dump() for h in tc.holidays] == [{"date": "2026-01-01", "name": "New year"},
                                                     {"date": "2026-10-29", "name": "holiday"}]
    trunk = service.get_object("trunk", "carrier-a")
    assert trunk.codecs == ["alaw", "ulaw"] and trunk.match == ["192.0.2.10", "198.51.100.0/24"]
    assert service.get_object("ring_group", "600").members == ["101", "100"]

    # the edit pages show the same text back, in order
    page = browser.get("/outbound-routes/edit/national").body
    assert input_value(page, "patterns") == "_0XXXXXXXXXX\n_9NXXXXXX|1|0212"
    assert re.findall(r'<input type="hidden" name="trunks" value="([^"]+)">', page) == ["carrier-b", "carrier-a"]
    assert "<code>carrier-a</code>, <code>carrier-b</code>" in page  # the existing trunks are listed
    page = browser.get("/time-conditions/edit/office").body
    assert input_value(page, "ranges") == "mon-fri 09:00-18:00\nsat 10:00-13:00"
    assert input_value(page, "holidays") == "2026-01-01 New year\n2026-10-29 holiday"
    assert '<option value="announcement:welcome" selected>' in page
    # the failover list may still be posted as text (one trunk per line); its buttons are tested in test_admin_pages
    fields = dict(posts[-1][1], trunks="carrier-a\ncarrier-b")
    assert browser.submit("/outbound-routes/edit/national", fields).status == 302
    assert service.get_object("outbound_route", "national").trunks == ["carrier-a", "carrier-b"]
    # the lists summarise the objects
    listing = browser.get("/outbound-routes/").body
    assert "_0XXXXXXXXXX, _9NXXXXXX|1|0212" in listing and "carrier-a, carrier-b" in listing
    assert "time condition office" in browser.get("/inbound-routes/").body


def test_call_center_kinds_get_forms_too(console, admin_password):
    """Kinds added to the registry later get their pages without web code: queue members, IVR options."""
    browser = console.browser()
    browser.login("admin", admin_password)
    response = browser.submit("/queues/new", {"number": "500", "name": "Support", "strategy": "rrmemory",
                                              "members": "100\n101 2", "escalation": "30 1\n90 5",
                                              "overflow": "extension:100", "moh_class": "default",
                                              "announce_position": "on", "recording": "always"})
    assert response.status == 302, (errors_of(response.body), form_errors(response.body))
    queue = service.get_object("queue", "500")
    assert [m.model_dump() for m in queue.members] == [{"extension": "100", "penalty": 0},
                                                       {"extension": "101", "penalty": 2}]
    assert input_value(browser.get("/queues/edit/500").body, "members") == "100\n101 2"
    response = browser.submit("/ivrs/new", {"name": "main", "greeting": "", "greeting_text": "",
                                            "invalid_sound": "invalid",
                                            "timeout_destination": "hangup", "invalid_destination": "hangup"})
    assert errors_of(response.body) == {
        "greeting_text": "give the menu a greeting: a sound (greeting) or a text to speak (greeting_text)"}
    response = browser.submit("/ivrs/new", {"name": "main", "greeting": "custom/menu",
                                            "options": "1 queue:500\n2 extension:101\n3",
                                            "timeout_destination": "hangup", "invalid_destination": "hangup"})
    assert errors_of(response.body)["options"] == \
        "line 3: option 3: give a destination, or a language the key switches to"
    response = browser.submit("/ivrs/new", {"name": "main", "greeting": "custom/menu",
                                            "options": "1 queue:500\n2 extension:101", "invalid_sound": "beep",
                                            "timeout_destination": "queue:500", "invalid_destination": "hangup"})
    assert response.status == 302, errors_of(response.body)
    assert [o.destination for o in service.get_object("ivr", "main").options] == ["queue:500", "extension:101"]
    assert '<option value="ivr:main">' in browser.get("/inbound-routes/new").body


def test_trunk_failover_time_is_set_on_its_form(console, admin_password):
    """The trunk form has the failover time: empty means the default, tenths are kept, and a value too short
    to let a healthy carrier ring is refused next to the field, with what was typed kept."""
    browser = console.browser()
    browser.login("admin", admin_password)
    page = html.unescape(browser.get("/trunks/new").body)
    assert "Failover after (seconds)" in page and "route's next trunk" in page
    fields = {"name": "carrier-a", "host": "sip.example.net", "codecs": "alaw", "failover_seconds": ""}
    response = browser.submit("/trunks/new", fields)
    assert response.status == 302, (errors_of(response.body), form_errors(response.body))
    assert service.get_object("trunk", "carrier-a").failover_seconds == 2.0
    fields["failover_seconds"] = "0.5"
    response = browser.submit("/trunks/edit/carrier-a", fields)
    assert response.status == 422
    assert errors_of(response.body)["failover_seconds"] == ("must be 0 (never fail over on time) or from 1 to "
                                                            "60 seconds")
    assert input_value(response.body, "failover_seconds") == "0.5"
    assert errors_of(browser.submit("/trunks/edit/carrier-a", {**fields, "failover_seconds": "soon"}).body)[
        "failover_seconds"] == "must be a number (not 'soon')"
    assert browser.submit("/trunks/edit/carrier-a", {**fields, "failover_seconds": "4.5"}).status == 302
    assert service.get_object("trunk", "carrier-a").failover_seconds == 4.5
    assert input_value(browser.get("/trunks/edit/carrier-a").body, "failover_seconds") == "4.5"


def test_list_field_errors_name_their_line(console, admin_password):
    service.save_object("trunk", {"name": "carrier-a", "host": "sip.example.net"}, "test", create=True)
    browser = console.browser()
    browser.login("admin", admin_password)
    response = browser.submit("/outbound-routes/new", {
        "name": "intl", "position": "0", "patterns": "_00X.\n\n_0X.|x|+\n_1|2|3|4", "trunks": "carrier-a\nnope"})
    assert response.status == 422
    assert errors_of(response.body)["patterns"] == "line 4: write match|strip|prepend (three parts at most)"
    response = browser.submit("/outbound-routes/new", {
        "name": "intl", "position": "0", "patterns": "_00X.\n\n_0X.|x|+", "trunks": "carrier-a\nnope"})
    assert errors_of(response.body)["patterns"] == "line 3: strip: must be a whole number (not 'x')"
    response = browser.submit("/outbound-routes/new", {
        "name": "intl", "position": "0", "patterns": "_00X.", "trunks": "carrier-a\nnope"})
    assert errors_of(response.body)["trunks"] == "trunk nope does not exist"
    response = browser.submit("/time-conditions/new", {
        "name": "hours", "timezone": "Mars/Base", "ranges": "mon-fri 17:00-09:00\nevery day",
        "holidays": "", "open_destination": "hangup", "closed_destination": "extension:555"})
    errors = errors_of(response.body)
    assert errors["ranges"] == "line 2: write days and hours like mon-fri 09:00-17:00"
    assert errors["timezone"] == "unknown time zone 'Mars/Base'"
    response = browser.submit("/time-conditions/new", {
        "name": "hours", "timezone": "UTC", "ranges": "mon-fri 17:00-09:00",
        "holidays": "", "open_destination": "hangup", "closed_destination": "extension:555"})
    errors = errors_of(response.body)
    assert errors["ranges"] == "line 1: end: must be later than start"
    response = browser.submit("/time-conditions/new", {
        "name": "hours", "timezone": "UTC", "ranges": "mon-fri 09:00-17:00",
        "holidays": "", "open_destination": "hangup", "closed_destination": "extension:555"})
    assert errors_of(response.body)["closed_destination"] == "extension 555 does not exist"
    assert '<option value="extension:555" selected>extension:555 (does not exist)</option>' in response.body
    assert service.list_objects("time_condition") == [] and service.list_objects("outbound_route") == []


def test_delete_asks_first_and_refuses_while_in_use(console, admin_password):
    service.save_object("ring_group", {"number": "600", "name": "Sales", "members": ["101"]}, "test", create=True)
    browser = console.browser()
    browser.login("admin", admin_password)
    confirm = browser.get("/extensions/delete/100")
    assert confirm.status == 200 and "Delete extension 100?" in confirm.body
    assert service.get_object("extension", "100") is not None  # a GET deletes nothing
    response = browser.submit("/extensions/delete/100", {})
    assert response.status == 302
    assert service.get_object("extension", "100") is None
    response = browser.submit("/extensions/delete/101", {})
    assert response.status == 409
    body = html.unescape(response.body)
    assert "extension 101 is used by ring group 600 (members): change that first" in body
    assert "does not exist" not in body
    assert service.get_object("extension", "101") is not None
    assert browser.get("/extensions/delete/999").status == 404


def test_unknown_kinds_and_objects_are_404(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    assert browser.get("/widgets/").status == 404
    assert browser.get("/extensions/edit/999").status == 404
    assert browser.get("/trunks/edit/nope").status == 404


def test_form_fields_follow_the_schemas():
    for slug, k in SLUGS.items():
        fields = {f.name: f for f in objectforms.form_fields(k.name)}
        assert list(fields) == list(k.schema.model_fields), slug
        for secret in k.secrets:
            assert fields[secret].widget == "password"
    ext = {f.name: f for f in objectforms.form_fields("extension")}
    assert ext["voicemail"].widget == "checkbox" and ext["recording"].choices == ("never", "always", "on_demand")
    tc = {f.name: f for f in objectforms.form_fields("time_condition")}
    assert tc["ranges"].widget == "lines" and tc["open_destination"].widget == "destination"
    assert {f.name: f for f in objectforms.form_fields("trunk")}["options"].widget == "options"


# ---------------------------------------------------------------- CSV


def csv_text(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def upload(console, admin_password, data: bytes):
    client = console.app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"csrf_token": token, "username": "admin", "password": admin_password})
    page = client.get("/extensions/import").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/extensions/import", data={"csrf_token": token, "file": (io.BytesIO(data), "ext.csv")},
                       content_type="multipart/form-data")


def test_csv_export(console, admin_password):
    service.save_object("extension", {"number": "102", "name": "=HYPERLINK(\"x\")", "voicemail": True,
                                      "email": "a@example.org"}, "test", create=True)
    browser = console.browser()
    browser.login("admin", admin_password)
    response = browser.get("/extensions/export.csv")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.body)))
    assert rows[0] == ["number", "name", "voicemail", "email", "recording", "department", "dial_permission",
                       "max_outbound_calls", "daily_minutes", "monthly_minutes", "monthly_budget"]
    assert rows[1] == ["100", "Desk 100", "no", "", "never", "", "", "0", "0", "0", ""]
    assert rows[3][:5] == ["102", "'=HYPERLINK(\"x\")", "yes", "a@example.org", "never"]  # no formula in a spreadsheet
    assert service.get_object("extension", "100").password not in response.body


def test_csv_import_stores_nothing_unless_every_row_is_valid(console, admin_password):
    before = audit_count()
    data = csv_text([["number", "name", "voicemail", "email", "recording"],
                     ["200", "Alice", "yes", "alice@example.org", "never"],
                     ["20x", "Bob", "no", "", "never"],
                     ["202", "", "maybe", "", "sometimes"],
                     ["200", "Alice again", "", "", ""]])
    response = upload(console, admin_password, data)
    assert response.status_code == 422
    body = html.unescape(response.get_data(as_text=True))
    assert "row 3: number: '20x' is not allowed here" in body
    assert "row 4: name: is required" in body
    assert "row 4: voicemail: must be yes or no" in body
    assert "row 4: recording: must be one of 'never', 'always' or 'on_demand'" in body
    assert "row 5: number: 200 is already in row 2" in body
    assert Extension.select().count() == 2 and audit_count() == before

    # valid rows but one clashes with a ring group: checked in the transaction, rolled back whole
    service.save_object("ring_group", {"number": "600", "name": "Sales", "members": ["100"]}, "test", create=True)
    before = audit_count()
    response = upload(console, admin_password, csv_text([["number", "name"], ["300", "Carol"], ["600", "Dave"]]))
    assert response.status_code == 422
    assert "row 3: " in response.get_data(as_text=True) and "600 is already used by" in response.get_data(as_text=True)
    assert service.get_object("extension", "300") is None and audit_count() == before


def test_csv_import_creates_and_updates(console, admin_password):
    old = service.get_object("extension", "100")
    data = "\ufeffnumber,name,voicemail,recording\r\n100,Front desk,yes,\r\n\r\n103,'=Carol,,always\r\n".encode()
    response = upload(console, admin_password, data)
    assert response.status_code == 302, response.get_data(as_text=True)
    updated = service.get_object("extension", "100")
    assert (updated.name, updated.voicemail, updated.recording) == ("Front desk", True, "never")
    assert updated.password == old.password  # kept
    created = service.get_object("extension", "103")
    assert (created.name, created.recording, len(created.password)) == ("=Carol", "always", 24)


def test_csv_carries_dial_permissions_caps_and_budgets_and_names_a_bad_cell(console, admin_password):
    data = csv_text([["number", "name", "department", "dial_permission", "daily_minutes", "monthly_budget"],
                     ["100", "Front desk", "Sales", "international", "0.5", "300.50"]])
    assert upload(console, admin_password, data).status_code == 302
    ext = service.get_object("extension", "100")
    assert (ext.department, ext.dial_permission, ext.daily_minutes, ext.monthly_budget) == (
        "Sales", "international", 0.5, "300.50")
    browser = console.browser()
    browser.login("admin", admin_password)
    rows = list(csv.reader(io.StringIO(browser.get("/extensions/export.csv").body)))
    assert rows[1] == ["100", "Front desk", "no", "", "never", "Sales", "international", "0", "0.5", "0", "300.50"]
    bad = upload(console, admin_password, csv_text([["number", "name", "dial_permission"], ["100", "Desk", "world"]]))
    assert bad.status_code == 422 and "row 2: dial_permission" in bad.get_data(as_text=True)
    assert service.get_object("extension", "100").dial_permission == "international"


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe\x00n", "the file is not UTF-8 text"),
    (b"", "the file is empty"),
    (b"number,name,colour\n100,a,red\n", "row 1: unknown column(s) colour"),
    (b"name\nx\n", "row 1: missing column(s) number"),
    (b"number,name\n", "the file has a header but no rows"),
    (b"number,name\n100,a,extra\n", "row 2: 3 cells but 2 columns"),
])
def test_csv_import_reports_bad_files(console, admin_password, data, message):
    response = upload(console, admin_password, data)
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))


# ---------------------------------------------------------------- apply


def test_apply_page_shows_the_diff_applies_and_rolls_back(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    page = browser.get("/apply").body
    assert "These files would change" in page and '<span class="add">' in page
    assert service.get_object("extension", "100").password not in page  # apply redacts
    assert "********" in page
    response = browser.submit("/apply", {}, form_page="/apply")
    assert response.status == 200
    steps = re.findall(r'<tr class="(ok|fail)">\s*<td>([^<]+)</td>', response.body)
    assert [name for _, name in steps] == ["check", "render", "diff", "objects", "stage", "swap", "reload"]
    assert all(state == "ok" for state, _ in steps)
    assert "Asterisk not managed here" in response.body and "generation 000001 is live" in response.body
    assert "Nothing to apply" in browser.get("/apply").body

    # saved without the object road (as an import does), in a new number range: the dialplan's pattern and the
    # extension's rows (shown as the sections they replace) wait for Apply
    service.save_object("extension", {"number": "202", "name": "New desk"}, "test", create=True)
    page = browser.get("/apply").body
    assert "extensions.conf" in page and "objects.sqlite3" in page and re.search(r'<span class="add">\+\[202\]', page)
    browser.submit("/apply", {}, form_page="/apply")
    page = browser.get("/apply").body
    assert "Roll back to this" in page and "000002" in page
    response = browser.submit("/apply/rollback/000001", {}, form_page="/apply")
    assert "Done: generation 000001 is live" in response.body
    target = console.app.extensions["linebox.install"].target()
    assert target.live_generation().name == "000001"
    assert "These files would change" in browser.get("/apply").body  # the stored site is ahead again
    assert "does not exist" in browser.submit("/apply/rollback/000099", {}, form_page="/apply").body

    # a change of a secret alone: the file changes, the diff (redacted) cannot show it, the page says so
    browser.submit("/apply", {}, form_page="/apply")
    ext = service.get_object("extension", "100")
    service.save_object("extension", {**ext.model_dump(), "password": "AnotherSecret123"}, "test")
    page = browser.get("/apply").body
    assert "<code>objects.sqlite3</code>: only passwords or secrets changed (not shown)." in page
    assert "AnotherSecret123" not in page


def test_apply_page_says_why_the_site_cannot_be_applied(console, admin_password):
    # a site made inconsistent behind the service's back (e.g. an old import): apply's own check names it
    service.save_object("ring_group", {"number": "600", "name": "Sales", "members": ["101"]}, "test", create=True)
    with database.atomic():
        Extension.delete().where(Extension.number == "101").execute()
    browser = console.browser()
    browser.login("admin", admin_password)
    page = html.unescape(browser.get("/apply").body)
    assert "cannot be applied" in page and "ring group 600 members: extension 101 does not exist" in page
    assert 'id="apply-now"' not in page


# ---------------------------------------------------------------- audit


def test_audit_page_filters_pages_and_shows_field_changes(console, admin_password):
    service.save_object("extension", {**service.get_object("extension", "100").model_dump(), "name": "Renamed"},
                        "alice")
    for i in range(55):
        service.save_object("moh_class", {"name": f"moh{i}", "directory": "/tmp/moh"}, "bob", create=True)
    browser = console.browser()
    browser.login("admin", admin_password)
    page = html.unescape(browser.get("/audit?kind=extension&user=alice").body)
    assert "1–1 of 1 changes" in page
    assert "<del>Desk 100</del> → <ins>Renamed</ins>" in page
    assert "password" not in page.split('id="audit"')[1]  # unchanged secrets are not listed
    page = browser.get("/audit?user=bob").body
    assert "1–50 of 55 changes" in page and 'href="/audit?user=bob&amp;page=2"' in page
    assert "51–55 of 55" in browser.get("/audit?user=bob&page=2").body
    assert 'option value="moh_class"' in page and 'option value="alice"' in page


def test_audit_changes_are_compact_and_in_schema_order():
    before = {"name": "r", "position": 0, "patterns": [{"match": "_0X.", "strip": 0, "prepend": ""}],
              "trunks": ["a", "b"], "caller_id": "", "caller_id_name": ""}
    after = {**before, "trunks": ["b", "a"], "patterns": [{"match": "_0X.", "strip": 1, "prepend": "9"}]}
    assert [(c.field, c.before, c.after) for c in audit_view.changes(before, after, "outbound_route")] == [
        ("patterns", "_0X.", "_0X.|1|9"), ("trunks", "a, b", "b, a")]
    created = audit_view.changes(None, before, "outbound_route")
    assert [c.field for c in created] == ["name", "position", "patterns", "trunks"]  # empty values left out
    assert audit_view.changes({"x": "a" * 200}, {"x": "b"}, "user")[0].before.endswith("…")


def test_diff_view_classes_lines_and_cuts_long_files():
    diff = ("--- live/a.conf\n+++ new/a.conf\n@@ -1,2 +1,2 @@\n ctx\n-old\n+new\n"
            "--- live/b.conf\n+++ new/b.conf\n@@ -0,0 +1,5 @@\n" + "".join(f"+l{i}\n" for i in range(5)))
    a, b = diffview.parse(diff, max_lines=3)
    assert (a.name, a.lines, a.added, a.removed, a.new_file) == (
        "a.conf", [("hunk", "@@ -1,2 +1,2 @@"), ("ctx", " ctx"), ("del", "-old")], 1, 1, False)
    assert a.hidden == 1
    assert (b.name, b.added, b.hidden, b.new_file) == ("b.conf", 5, 3, True)


# ---------------------------------------------------------------- users


def test_users_create_and_reset_with_one_time_passwords(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    response = browser.submit("/users", {"username": "tech", "role": "technician"})
    assert response.status == 200
    password = re.search(r'id="one-time-password">([^<]+)<', response.body).group(1)
    assert len(password) == accounts.ONE_TIME_LENGTH
    assert password not in browser.get("/users").body  # shown once
    tech = console.browser()
    assert tech.login("tech", password).location.endswith("/password")

    response = browser.submit("/users", {"username": "Bad Name", "role": "agent"})
    assert response.status == 422 and "lower-case letters" in errors_of(response.body)["username"]
    response = browser.submit("/users", {"username": "tech", "role": "agent"})
    assert errors_of(response.body)["username"] == "user tech already exists"
    response = browser.submit("/users", {"username": "eve", "role": "root"})
    assert response.status == 422 and accounts.get_user("eve") is None

    response = browser.submit("/users/tech/reset", {}, form_page="/users")
    second = re.search(r'id="one-time-password">([^<]+)<', response.body).group(1)
    assert second != password
    assert console.browser().login("tech", password).status == 401
    assert console.browser().login("tech", second).location.endswith("/password")
    assert browser.submit("/users/nobody/reset", {}, form_page="/users").status == 404
