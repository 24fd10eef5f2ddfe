"""Console sessions that end, login throttling per source address, API tokens that expire: over real HTTP.

Each test here failed before server-side sessions (migration 14): a copied cookie kept answering
``/api/v1/me`` after log out and each use pushed its expiry further; a role change left sessions
alive; five wrong passwords from anyone locked the real admin out; guesses spread over many names
were never throttled; tokens never expired.  Other machines on the LAN are other 127.x addresses.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from appliance.access import accounts, apitokens, sessions
from appliance.errors import SiteError
from appliance.model import throttle
from appliance.model.models import AuditEntry, ConsoleSession
from tests.web.conftest import Browser, free_port

ROOT = Path(__file__).resolve().parents[2]
ATTACKER = "127.0.0.2"
OFFICE = "127.0.0.3"


def me_status(browser: Browser) -> int:
    return browser.get("/api/v1/me").status


def copied(browser: Browser) -> Browser:
    """Another client holding the same cookies: what someone who copied the cookie has."""
    thief = Browser(browser.base)
    for cookie in browser.jar:
        thief.jar.set_cookie(copy.copy(cookie))
    return thief


def test_logout_ends_the_session_even_for_a_copied_cookie(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    thief = copied(browser)
    assert me_status(thief) == 200
    browser.submit("/logout", {}, form_page="/")
    assert me_status(browser) == 401
    assert me_status(thief) == 401  # before: 200, the signed cookie alone was the session
    assert thief.get("/").status == 302


def age_session(**delta: float) -> None:
    """Move the stored sessions' login (``created``) or last use (``last_seen``) into the past, in the database."""
    for row in ConsoleSession.select():
        changes = {name: getattr(row, name) - timedelta(seconds=seconds) for name, seconds in delta.items()}
        ConsoleSession.update(**changes).where(ConsoleSession.id == row.id).execute()


def test_a_session_ends_after_its_idle_lifetime(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    age_session(last_seen=sessions.idle_lifetime().total_seconds() - 60)
    assert me_status(browser) == 200  # used within the idle time: alive, and its last use is now
    age_session(last_seen=sessions.idle_lifetime().total_seconds() - 60)
    assert me_status(browser) == 200
    age_session(last_seen=sessions.idle_lifetime().total_seconds() + 1)
    assert me_status(browser) == 401


def test_using_a_session_never_extends_it_past_its_absolute_lifetime(console, admin_password):
    browser = console.browser()
    browser.login("admin", admin_password)
    age_session(created=sessions.absolute_lifetime().total_seconds() - 60)
    assert me_status(browser) == 200
    age_session(created=61)  # busy all along (last use just now), but logged in longer ago than allowed
    assert me_status(browser) == 401
    assert browser.get("/").status == 302


def test_role_change_and_deletion_end_the_users_sessions(console, admin_password):
    accounts.create_user("sup", "supervisor secret", "supervisor", actor="test")
    accounts.create_user("agent1", "agent one secret", "agent", actor="test")
    sup, agent, admin = console.browser(), console.browser(), console.browser()
    sup.login("sup", "supervisor secret")
    agent.login("agent1", "agent one secret")
    admin.login("admin", admin_password)
    assert me_status(sup) == 200 and me_status(agent) == 200
    assert admin.submit("/users/sup/role", {"role": "agent"}, form_page="/users").status == 302
    assert me_status(sup) == 401  # before: 200 (the session outlived the role it was opened with)
    assert admin.submit("/users/agent1/delete", {}, form_page="/users/agent1/delete").status == 302
    assert me_status(agent) == 401
    assert me_status(admin) == 200


def test_an_admins_password_reset_ends_the_users_sessions(console, admin_password):
    accounts.create_user("sup", "supervisor secret", "supervisor", actor="test")
    sup, admin = console.browser(), console.browser()
    sup.login("sup", "supervisor secret")
    admin.login("admin", admin_password)
    admin.submit("/users/sup/reset", {}, form_page="/users")
    assert me_status(sup) == 401


def test_guessing_from_one_address_does_not_lock_the_admin_out_elsewhere(console, admin_password):
    attacker = console.browser(source=ATTACKER)
    for _ in range(accounts.MAX_FAILURES):
        assert attacker.login("admin", "guessing wrong").status == 401
    assert attacker.login("admin", admin_password).status == 429  # the guesser is locked out ...
    office = console.browser(source=OFFICE)
    assert office.login("admin", admin_password).status == 302  # ... the admin is not (before: 429)
    assert me_status(office) == 200


def test_guesses_spread_over_many_names_are_throttled_per_address(console, admin_password):
    accounts.create_user("tech", "technician pass", "technician", actor="test")
    attacker = console.browser(source=ATTACKER)
    for n in range(accounts.MAX_ADDRESS_FAILURES):  # 20 names, one try each
        assert attacker.login(f"user{n}", "guessing wrong").status == 401
    refused = attacker.login("tech", "technician pass")  # even a right password, from that address
    assert refused.status == 429 and "too many failed logins" in refused.body  # before: 302
    assert console.browser(source=OFFICE).login("tech", "technician pass").status == 302


def test_every_failed_login_reaches_the_ban_hook(console, admin_password):
    seen: list[throttle.SourceFailure] = []
    throttle.register_ban_hook(seen.append)
    try:
        attacker = console.browser(source=ATTACKER)
        for _ in range(accounts.MAX_FAILURES):
            attacker.login("admin", "guessing wrong")
    finally:
        throttle.unregister_ban_hook(seen.append)
    assert [(f.service, f.address) for f in seen] == [("console-login", ATTACKER)] * accounts.MAX_FAILURES
    assert [f.locked_until is not None for f in seen] == [False] * (accounts.MAX_FAILURES - 1) + [True]


def _serve(home: Path, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "LISTEN_FDS")}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "appliance.cli", "--home", str(home), "serve", "--address",
                                 "127.0.0.1", "--port", str(port), "--no-tls"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def _wait_until_serving(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError(f"the console did not answer within {timeout} s: {log.read_text()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_the_lock_and_a_live_session_survive_a_restart_of_the_console(tmp_path):
    """Before: the counters lived in the process, and a restart forgot them."""
    home = tmp_path / "home"
    subprocess.run([sys.executable, "-m", "appliance.cli", "--home", str(home), "init"], cwd=ROOT, check=True,
                   capture_output=True, timeout=60)
    from appliance.install import Install
    from appliance.model.database import close_database
    Install.load(home).open()
    try:
        accounts.create_user("boss", "the boss password", "admin", actor="test")
    finally:
        close_database()
    port, log = free_port(), tmp_path / "console.log"
    url = f"http://127.0.0.1:{port}"
    proc = _serve(home, port, log)
    try:
        _wait_until_serving(url, proc, log)
        attacker, boss = Browser(url, source=ATTACKER), Browser(url)
        for _ in range(accounts.MAX_FAILURES):
            assert attacker.login("boss", "guessing wrong").status == 401
        assert boss.login("boss", "the boss password").status == 302
        _stop(proc)
        proc = _serve(home, port, log)
        _wait_until_serving(url, proc, log)
        assert attacker.login("boss", "the boss password").status == 429
        assert me_status(boss) == 200
    finally:
        _stop(proc)


def test_token_expiry_is_checked_and_named(install):
    accounts.create_user("alice", "alice's password", "agent", actor="test")
    for days in (-1, apitokens.MAX_DAYS + 1):
        with pytest.raises(SiteError) as error:
            apitokens.create_token("alice", "x", "test", expires_days=days)
        assert [p.where for p in error.value.problems] == ["expires_days"]
    apitokens.create_token("alice", "forever", "test", expires_days=0)
    assert apitokens.list_tokens("alice")[0]["expires"] is None


def test_the_users_page_lists_tokens_and_revokes_one_audited(console, admin_password):
    accounts.create_user("sup", "supervisor secret", "supervisor", actor="test")
    token = apitokens.create_token("sup", "wallboard tv", "test")
    admin = console.browser()
    admin.login("admin", admin_password)
    page = admin.get("/users")
    assert 'data-token="sup/wallboard tv"' in page.body and token not in page.body
    response = admin.submit("/users/sup/tokens/wallboard%20tv/revoke", {}, form_page="/users")
    assert response.status == 302
    assert apitokens.list_tokens("sup") == [] and apitokens.user_for_token(token) is None
    entry = AuditEntry.select().where(AuditEntry.kind == "api_token").order_by(AuditEntry.id.desc()).first()
    assert (entry.user, entry.action, entry.key) == ("admin", "delete", "sup/wallboard tv")


def test_failed_logins_and_refused_fetches_are_counted_by_the_bans(console, admin_password):
    """The console's throttle feeds the one ban service: each failed login from an address is a failure
    of that address in ``linebox bans`` and ``diag`` (loopback is counted, never banned: its own test
    proves that any other address is banned at the Nth failure)."""
    from appliance.security import bans

    attacker = console.browser(source=ATTACKER)
    for _ in range(3):
        attacker.login("admin", "guessing wrong")
    counted = {(source, service): n for source, service, n in bans.failure_counts(timedelta(minutes=5))}
    assert counted.get((ATTACKER, "console-login")) == 3
