"""Users (role, delete, reset), Settings, failover order by buttons, and HTTPS with its plain-HTTP redirect."""

from __future__ import annotations

import html
import http.client
import re
import socket
import ssl

import pytest

from appliance.access import accounts, apitokens
from appliance.model.models import AuditEntry
from appliance.services import tls
from appliance.services.http_server import make_redirect_server, make_server
from appliance.site import service
from appliance.web.app import create_app
from tests.web.test_pages import errors_of, form_errors, login


def last_audit() -> AuditEntry:
    return AuditEntry.select().order_by(AuditEntry.id.desc()).get()


def role_error(body: str, username: str) -> str:
    match = re.search(rf'<p class="error" id="role-{re.escape(username)}-error">(.*?)</p>', body)
    return html.unescape(match.group(1)) if match else ""


def selected_role(body: str, username: str) -> str:
    select = re.search(rf'<select id="role-{re.escape(username)}".*?</select>', body, re.S).group(0)
    return re.search(r'<option value="(\w+)" selected>', select).group(1)


# ---------------------------------------------------------------- users


def test_admin_changes_a_role_and_it_applies_at_once(console, admin_password):
    admin = login(console, "admin")
    accounts.create_user("dana", "dana password 1", "technician", actor="test")
    dana = console.browser()
    dana.login("dana", "dana password 1")
    assert dana.get("/extensions/new").status == 403

    response = admin.submit("/users/dana/role", {"role": "admin"}, form_page="/users")
    assert response.status == 302
    assert "dana is now admin." in admin.get("/users").body
    assert accounts.get_user("dana").role == "admin"
    assert dana.get("/extensions/new").status == 302  # the role change ended her open session ...
    dana.login("dana", "dana password 1")
    assert dana.get("/extensions/new").status == 200  # ... and her next one has the new role
    row = last_audit()
    assert (row.user, row.action, row.kind, row.key) == ("admin", "update", "user", "dana")
    assert (row.before["role"], row.after["role"]) == ("technician", "admin")


def test_the_last_admin_and_yourself_cannot_be_demoted(console, admin_password):
    admin = login(console, "admin")
    accounts.create_user("tech", "tech password 1", "technician", actor="test")
    before = AuditEntry.select().count()
    response = admin.submit("/users/admin/role", {"role": "technician"}, form_page="/users")
    assert response.status == 422
    assert role_error(response.body, "admin") == "you cannot change your own role: ask another admin"
    assert selected_role(response.body, "admin") == "technician"  # what was chosen stays shown
    assert accounts.get_user("admin").role == "admin"

    # another admin may not demote the last admin either
    accounts.create_user("boss", "boss password 1", "admin", actor="test")
    boss = console.browser()
    boss.login("boss", "boss password 1")
    assert boss.submit("/users/admin/role", {"role": "agent"}, form_page="/users").status == 302
    response = boss.submit("/users/boss/role", {"role": "agent"}, form_page="/users")
    assert role_error(response.body, "boss") == "you cannot change your own role: ask another admin"
    with pytest.raises(Exception, match="last admin"):
        accounts.set_role("boss", "agent", actor="someone-else")
    response = boss.submit("/users/tech/role", {"role": "root"}, form_page="/users")
    assert response.status == 422 and "'root' is not a role" in role_error(response.body, "tech")
    assert AuditEntry.select().count() == before + 2  # the boss's creation and the one allowed change


def test_delete_a_user_after_confirming(console, admin_password):
    admin = login(console, "admin")
    accounts.create_user("temp", "temp password 1", "technician", actor="test")
    token = apitokens.create_token("temp", "script", actor="test")
    temp = console.browser()
    temp.login("temp", "temp password 1")
    assert 'href="/users/temp/delete"' in admin.get("/users").body

    confirm = admin.get("/users/temp/delete")
    assert confirm.status == 200 and "Delete user temp?" in confirm.body
    assert accounts.get_user("temp") is not None  # asking is not deleting
    response = admin.submit("/users/temp/delete", {})
    assert response.status == 302
    assert "User temp deleted." in admin.get("/users").body
    assert accounts.get_user("temp") is None
    assert apitokens.user_for_token(token) is None  # its API tokens went with it
    assert temp.get("/").status == 302  # its session ended
    row = last_audit()
    assert (row.user, row.action, row.kind, row.key, row.after) == ("admin", "delete", "user", "temp", None)
    assert admin.get("/users/temp/delete").status == 404


def test_yourself_and_the_last_admin_cannot_be_deleted(console, admin_password):
    admin = login(console, "admin")
    response = admin.submit("/users/admin/delete", {})
    assert response.status == 409
    assert "you cannot delete your own account" in response.body
    accounts.create_user("boss", "boss password 1", "admin", actor="test")
    accounts.set_role("admin", "technician", actor="boss")
    with pytest.raises(Exception, match="boss is the last admin and cannot be deleted"):
        accounts.delete_user("boss", actor="admin")
    assert accounts.get_user("boss") is not None


def test_only_admins_manage_users(console):
    accounts.create_user("victim", "victim password 1", "agent", actor="test")
    tech = login(console, "technician")
    token = tech.get("/users").csrf_token()
    body = tech.get("/users").body
    assert "Change role" not in body and "/users/victim/delete" not in body
    assert tech.request("POST", "/users/victim/role", {"csrf_token": token, "role": "admin"}).status == 403
    assert tech.request("POST", "/users/victim/delete", {"csrf_token": token}).status == 403
    assert tech.get("/users/victim/delete").status == 403
    assert accounts.get_user("victim").role == "agent"


def test_user_changes_need_the_csrf_token(console, admin_password):
    admin = login(console, "admin")
    accounts.create_user("victim", "victim password 1", "agent", actor="test")
    assert admin.request("POST", "/users/victim/role", {"role": "admin"}).status == 400
    assert admin.request("POST", "/users/victim/delete", {}).status == 400
    assert admin.request("POST", "/settings", {"sip_port": "5070"}).status == 400
    assert admin.request("POST", "/outbound-routes/new", {"name": "x", "move": "trunks:add"}).status == 400
    assert accounts.get_user("victim").role == "agent" and service.load_settings().sip_port == 5060


# ---------------------------------------------------------------- settings


def test_settings_page_saves_and_audits(console, admin_password):
    admin = login(console, "admin")
    page = admin.get("/settings")
    assert page.status == 200
    for name in service.load_settings().model_dump():  # every setting has its field
        assert f'name="{name}"' in page.body, name
    values = {**{k: str(v) for k, v in service.load_settings().model_dump().items()},
              "recording_retention_days": "90", "sip_port": "5070"}
    response = admin.submit("/settings", values)
    assert response.status == 302
    assert "Settings saved." in admin.get("/settings").body
    settings = service.load_settings()
    assert (settings.recording_retention_days, settings.sip_port) == (90, 5070)
    row = last_audit()
    assert (row.user, row.kind, row.before["sip_port"], row.after["sip_port"]) == ("admin", "settings", 5060, 5070)


def test_bad_settings_show_next_to_their_fields_and_keep_what_was_typed(console, admin_password):
    admin = login(console, "admin")
    before = service.load_settings()
    count = AuditEntry.select().count()
    values = {**{k: str(v) for k, v in before.model_dump().items()},
              "sip_port": "99999", "rtp_start": "30000", "rtp_end": "20000", "recording_retention_days": "many"}
    response = admin.submit("/settings", values)
    assert response.status == 422
    errors = errors_of(response.body)
    assert errors["sip_port"] == "must be at most 65535"
    assert errors["recording_retention_days"] == "must be a whole number (not 'many')"
    assert "Nothing was saved" in form_errors(response.body)[0]
    assert 'value="many"' in response.body and 'value="99999"' in response.body
    assert "Traceback" not in response.body
    assert service.load_settings() == before and AuditEntry.select().count() == count
    values = {**{k: str(v) for k, v in before.model_dump().items()}, "rtp_start": "30000", "rtp_end": "20000"}
    assert errors_of(admin.submit("/settings", values).body)["rtp_end"] == "must be above rtp_start"


@pytest.mark.parametrize("role", ["technician", "supervisor", "agent"])
def test_settings_are_for_admins_only(console, role):
    browser = login(console, role)
    assert browser.get("/settings").status == 403
    token = browser.get("/").csrf_token()
    assert browser.request("POST", "/settings", {"csrf_token": token, "sip_port": "5070"}).status == 403
    assert 'href="/settings"' not in browser.get("/").body
    assert service.load_settings().sip_port == 5060


# ---------------------------------------------------------------- failover order


ROUTE = {"name": "national", "position": "10", "patterns": "_0X.", "caller_id": "", "caller_id_name": ""}


def trunk_order(body: str) -> list[str]:
    listing = re.search(r'<ol class="failover" id="trunks-order".*?</ol>', body, re.S).group(0)
    return re.findall(r'<input type="hidden" name="trunks" value="([^"]+)">', listing)


def test_failover_order_moves_with_up_and_down_buttons(console, admin_password):
    for name in ("telco", "backup", "mobile"):
        service.save_object("trunk", {"name": name, "host": f"{name}.example.net"}, "test", create=True)
    service.save_object("outbound_route", {**ROUTE, "patterns": [{"match": "_0X."}],
                                           "trunks": ["telco", "backup"]}, "test", create=True)
    admin = login(console, "admin")
    page = admin.get("/outbound-routes/edit/national").body
    assert trunk_order(page) == ["telco", "backup"]
    count = AuditEntry.select().count()

    # each button is a plain form post: the page comes back rearranged and nothing is stored yet
    form = {**ROUTE, "trunks": ["telco", "backup"], "trunks_add": "mobile", "move": "trunks:add"}
    response = admin.submit("/outbound-routes/edit/national", form)
    assert response.status == 200 and trunk_order(response.body) == ["telco", "backup", "mobile"]
    form = {**ROUTE, "name": "national", "trunks": ["telco", "backup", "mobile"], "move": "trunks:2:up"}
    response = admin.submit("/outbound-routes/edit/national", form)
    assert trunk_order(response.body) == ["telco", "mobile", "backup"]
    form = {**ROUTE, "trunks": ["telco", "mobile", "backup"], "move": "trunks:0:down"}
    response = admin.submit("/outbound-routes/edit/national", form)
    assert trunk_order(response.body) == ["mobile", "telco", "backup"]
    form = {**ROUTE, "trunks": ["mobile", "telco", "backup"], "move": "trunks:2:remove"}
    response = admin.submit("/outbound-routes/edit/national", form)
    assert trunk_order(response.body) == ["mobile", "telco"]
    assert service.get_object("outbound_route", "national").trunks == ["telco", "backup"]
    assert AuditEntry.select().count() == count
    assert 'disabled>&uarr; Up' in response.body  # the first trunk cannot go higher

    response = admin.submit("/outbound-routes/edit/national", {**ROUTE, "trunks": ["mobile", "telco"]})
    assert response.status == 302
    assert service.get_object("outbound_route", "national").trunks == ["mobile", "telco"]
    row = last_audit()
    assert (row.before["trunks"], row.after["trunks"]) == (["telco", "backup"], ["mobile", "telco"])


def test_adding_a_missing_trunk_is_refused_next_to_the_list(console, admin_password):
    service.save_object("trunk", {"name": "telco", "host": "telco.example.net"}, "test", create=True)
    admin = login(console, "admin")
    response = admin.submit("/outbound-routes/new", {**ROUTE, "trunks": ["telco"], "trunks_add": "nope"})
    assert response.status == 422
    assert errors_of(response.body)["trunks"] == "trunk nope does not exist"
    assert trunk_order(response.body) == ["telco", "nope"]  # kept as typed
    assert service.get_object("outbound_route", "national") is None


# ---------------------------------------------------------------- HTTPS, HSTS and the plain-HTTP redirect


@pytest.fixture
def https_console(console, tmp_path):
    """The same install served over HTTPS (self-signed), with a plain-HTTP port that redirects to it."""
    files = tls.ensure(tmp_path / "tls")
    server = make_server(create_app(console.app.extensions["linebox.install"], https=True), "127.0.0.1", 0,
                         certificate=files.certificate, private_key=files.private_key)
    redirect = make_redirect_server(server.port, "127.0.0.1", 0)
    server.start()
    redirect.start()
    try:
        yield server, redirect
    finally:
        redirect.close()
        server.close()


def _raw_http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer


def test_plain_http_redirects_to_https_and_https_sends_hsts(https_console):
    server, redirect = https_console
    answer = _raw_http(redirect.port, b"GET /extensions/?q=10%2020 HTTP/1.1\r\nHost: pbx.example.lan:8080\r\n"
                                      b"Connection: close\r\n\r\n")
    head = answer.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 301 ")
    assert f"Location: https://pbx.example.lan:{server.port}/extensions/?q=10%2020" in head

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the self-signed certificate of a fresh install
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=5)
    connection.request("GET", "/login")
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Strict-Transport-Security") == "max-age=31536000"
    assert "Secure" in response.getheader("Set-Cookie", "") or response.getheader("Set-Cookie") is None
    connection.close()


def test_redirect_does_not_echo_a_forged_host_or_path(https_console):
    server, redirect = https_console
    answer = _raw_http(redirect.port, b"GET /login HTTP/1.1\r\nHost: evil.example/\"><script>\r\n"
                                      b"Connection: close\r\n\r\n").decode("latin-1")
    assert f"Location: https://127.0.0.1:{server.port}/login\r\n" in answer
    answer = _raw_http(redirect.port, b"GET //evil.example/x HTTP/1.1\r\nHost: box\r\nConnection: close\r\n\r\n")
    assert b"Location: https://evil.example" not in answer and b"Location: //" not in answer


def test_plain_http_console_sends_no_hsts(console):
    connection = http.client.HTTPConnection("127.0.0.1", int(console.url.rsplit(":", 1)[1]), timeout=5)
    connection.request("GET", "/login")
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Strict-Transport-Security") is None
    connection.close()
