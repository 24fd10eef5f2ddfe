"""The console over real HTTP: first login, forced password change, status page, errors, CSRF, throttling."""

from __future__ import annotations

import re

from appliance.access import accounts
from appliance.web.app import create_app


def test_unauthenticated_status_redirects_to_login(console):
    response = console.browser().get("/")
    assert response.status == 302
    assert response.location.endswith("/login?next=%2F")


def test_first_login_forces_password_change_then_shows_status(console):
    browser = console.browser()
    response = browser.login("admin", console.one_time_password)
    assert response.status == 302 and response.location.endswith("/password")

    # every other page sends the user back until the one-time password is replaced
    response = browser.get("/")
    assert response.status == 302 and response.location.endswith("/password")
    page = browser.get("/password")
    assert page.status == 200 and "one-time password" in page.body

    new_password = "a much better password"
    response = browser.submit("/password", {"current_password": console.one_time_password,
                                            "new_password": new_password, "confirm": new_password})
    assert response.status == 302 and response.location.endswith("/")

    status = browser.get("/")
    assert status.status == 200
    assert "Asterisk is not reachable" in status.body
    assert re.search(r'id="count-extensions">2<', status.body)
    assert re.search(r'id="count-trunks">0<', status.body)
    assert "Memory" in status.body and "Disk" in status.body
    assert "Traceback" not in status.body

    # the one-time password is gone, the new one works
    assert console.browser().login("admin", console.one_time_password).status == 401
    assert console.browser().login("admin", new_password).location.endswith("/")


def test_logout_ends_the_session(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    assert browser.get("/").status == 200
    response = browser.submit("/logout", {}, form_page="/")
    assert response.status == 302 and response.location.endswith("/login")
    assert browser.get("/").status == 302


def test_logout_is_post_only(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    assert browser.get("/logout").status == 405
    assert browser.get("/").status == 200


def test_wrong_password_is_shown_next_to_the_field_and_username_kept(console, admin_password):
    response = console.browser().login("admin", "not the password")
    assert response.status == 401
    assert re.search(r'<p class="error" id="password-error">wrong username or password</p>', response.body)
    assert re.search(r'<input[^>]*id="username"[^>]*value="admin"', response.body)
    assert "not the password" not in response.body


def test_empty_fields_are_named(console):
    response = console.browser().login("", "")
    assert response.status == 422
    assert 'id="username-error">enter your username<' in response.body
    assert 'id="password-error">enter your password<' in response.body


def test_sixth_bad_login_is_throttled_even_with_the_right_password(console, admin_password):
    browser = console.browser()
    for _ in range(5):
        assert browser.login("admin", "wrong password!").status == 401
    response = browser.login("admin", "wrong password!")
    assert response.status == 429
    assert "too many failed logins; try again in 5 minutes" in response.body
    assert browser.login("admin", admin_password).status == 429
    # the lock is per username: other users are not locked out by it
    accounts.create_user("tech", "technician pass", "technician", actor="test")
    assert console.browser().login("tech", "technician pass").status == 302


def test_post_without_csrf_token_is_rejected(console, admin_password):
    browser = console.browser()
    browser.get("/login")
    response = browser.request("POST", "/login", {"username": "admin", "password": admin_password})
    assert response.status == 400
    assert "missing security token" in response.body
    assert browser.get("/").status == 302  # not logged in

    browser.login("admin", admin_password)
    assert browser.request("POST", "/logout", {}).status == 400
    assert browser.get("/").status == 200  # still logged in


def test_session_cookie_flags(console, admin_password):
    response = console.browser().login("admin", admin_password)
    cookies = response.headers.get_all("Set-Cookie")
    session = [c for c in cookies if c.startswith("linebox_session=")]
    assert session, cookies
    flags = [part.strip().lower() for part in session[-1].split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags  # plain HTTP here; see the HTTPS test below
    assert any(flag.startswith("expires=") for flag in flags)  # 30-minute permanent session


def test_cookies_are_secure_when_served_over_https(console, install):
    app = create_app(install, https=True)
    response = app.test_client().get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_password_change_rules_are_shown_next_to_the_fields(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    response = browser.submit("/password", {"current_password": admin_password,
                                            "new_password": "short", "confirm": "short"})
    assert response.status == 422
    assert 'id="new_password-error">must be at least 10 characters long<' in response.body
    response = browser.submit("/password", {"current_password": "wrong current pw",
                                            "new_password": "long enough now", "confirm": "long enough now"})
    assert 'id="current_password-error">is not your current password<' in response.body
    response = browser.submit("/password", {"current_password": admin_password,
                                            "new_password": "long enough now", "confirm": "something else"})
    assert 'id="confirm-error">does not match the new password<' in response.body
    assert accounts.verify_login("admin", admin_password) is not None  # nothing changed


def test_password_change_ends_other_sessions(console, admin_password):
    first, second = console.browser(), console.browser()
    first.login("admin", admin_password)
    second.login("admin", admin_password)
    new_password = "another fine password"
    first.submit("/password", {"current_password": admin_password, "new_password": new_password,
                               "confirm": new_password})
    assert first.get("/").status == 200
    assert second.get("/").status == 302


def test_login_never_redirects_off_the_console(console, admin_password):
    browser = console.browser()
    token = browser.get("/login").csrf_token()
    response = browser.request("POST", "/login?next=//evil.example/",
                               {"csrf_token": token, "username": "admin", "password": admin_password})
    assert response.status == 302
    assert response.location == "/"


def test_error_pages_are_friendly(console, admin_password):
    browser = console.browser()
    missing = browser.get("/no-such-page")
    assert missing.status == 404 and "Page not found" in missing.body
    browser.login("admin", admin_password)
    boom = browser.get("/test-boom")
    assert boom.status == 500
    assert "Something went wrong" in boom.body
    assert "Traceback" not in boom.body and "secret internal detail" not in boom.body


def test_pages_use_only_local_assets_and_safe_headers(console):
    response = console.browser().get("/login")
    assert "http://" not in response.body and "https://" not in response.body
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    css = console.browser().get("/static/linebox.css")
    assert css.status == 200 and "@import" not in css.body and "url(" not in css.body
