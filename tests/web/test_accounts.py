"""Console users: argon2 hashes, validation naming the field, audit without passwords, throttling."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher

from appliance.access import accounts
from appliance.errors import SiteError
from appliance.model.models import AuditEntry, User


@pytest.fixture(autouse=True)
def _fresh_throttle():
    accounts.throttle.clear()
    yield
    accounts.throttle.clear()


def audit_text() -> str:
    return json.dumps([[e.user, e.action, e.kind, e.key, e.before, e.after] for e in AuditEntry.select()])


def problem_fields(error: pytest.ExceptionInfo) -> list[str]:
    return [p.where for p in error.value.problems]


def test_first_admin_gets_a_one_time_password_once(install):
    password = accounts.ensure_first_admin()
    assert password and len(password) == 16
    assert not set(password) & set("0O1lI")
    user = User.get(User.username == "admin")
    assert user.role == "admin" and user.must_change_password
    assert user.password_hash.startswith("$argon2")
    assert password not in user.password_hash
    assert accounts.ensure_first_admin() is None
    assert User.select().count() == 1


def test_audit_records_users_without_passwords(install):
    password = accounts.ensure_first_admin()
    accounts.create_user("sup", "supervisor secret", "supervisor", actor="admin")
    accounts.set_password("sup", "a new supervisor secret", actor="admin")
    entries = list(AuditEntry.select().where(AuditEntry.kind == "user").order_by(AuditEntry.id))
    assert [(e.user, e.action, e.key) for e in entries] == [
        ("system", "create", "admin"), ("admin", "create", "sup"), ("admin", "set-password", "sup")]
    assert entries[1].after == {"username": "sup", "role": "supervisor", "must_change_password": False}
    assert entries[2].after["password"] == "changed"
    text = audit_text()
    for secret in (password, "supervisor secret", "a new supervisor secret", "$argon2"):
        assert secret not in text


@pytest.mark.parametrize(("username", "password", "role", "field"), [
    ("bob", "long enough pw", "root", "role"),
    ("bob", "too short", "agent", "password"),
    ("Bob Smith", "long enough pw", "agent", "username"),
    ("", "long enough pw", "agent", "username"),
])
def test_create_user_refuses_bad_input_naming_the_field(install, username, password, role, field):
    with pytest.raises(SiteError) as error:
        accounts.create_user(username, password, role, actor="admin")
    assert problem_fields(error) == [field]
    assert User.select().count() == 0 and AuditEntry.select().count() == 0


def test_create_user_refuses_a_duplicate(install):
    accounts.create_user("agent1", "agent password", "agent", actor="admin")
    with pytest.raises(SiteError) as error:
        accounts.create_user("agent1", "other password", "agent", actor="admin")
    assert problem_fields(error) == ["username"]
    assert "already exists" in str(error.value)


def test_verify_login(install):
    accounts.create_user("tech", "technician pass", "technician", actor="admin")
    assert accounts.verify_login("tech", "technician pass").username == "tech"
    assert accounts.verify_login("tech", "technician pasS") is None
    assert accounts.verify_login("nobody", "technician pass") is None


def test_outdated_hash_is_upgraded_at_login(install):
    accounts.create_user("tech", "technician pass", "technician", actor="admin")
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("technician pass")
    User.update(password_hash=weak).where(User.username == "tech").execute()
    assert accounts.verify_login("tech", "technician pass") is not None
    upgraded = User.get(User.username == "tech").password_hash
    assert upgraded != weak and upgraded.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(upgraded)


def test_change_own_password(install):
    accounts.create_user("sup", "supervisor secret", "supervisor", actor="admin")
    with pytest.raises(SiteError) as error:
        accounts.change_own_password("sup", "wrong", "a new supervisor secret")
    assert problem_fields(error) == ["current_password"]
    with pytest.raises(SiteError) as error:
        accounts.change_own_password("sup", "supervisor secret", "supervisor secret")
    assert problem_fields(error) == ["new_password"]
    with pytest.raises(SiteError) as error:
        accounts.change_own_password("sup", "supervisor secret", "short")
    assert problem_fields(error) == ["new_password"]
    accounts.change_own_password("sup", "supervisor secret", "a new supervisor secret")
    assert accounts.verify_login("sup", "a new supervisor secret") is not None
    assert AuditEntry.select().where(AuditEntry.action == "set-password").get().user == "sup"


def test_set_password_for_unknown_user(install):
    with pytest.raises(SiteError) as error:
        accounts.set_password("ghost", "long enough pw", actor="admin")
    assert problem_fields(error) == ["username"]


def test_reset_admin(install):
    first = accounts.ensure_first_admin()
    accounts.change_own_password("admin", first, "the admin's own pw")
    User.update(role="agent").where(User.username == "admin").execute()
    for _ in range(accounts.MAX_FAILURES):
        accounts.verify_login("admin", "guessing wrong")
    with pytest.raises(accounts.LoginThrottled):
        accounts.verify_login("admin", "the admin's own pw")

    password = accounts.reset_admin(actor="technician@console")
    user = accounts.verify_login("admin", password)  # the lock is lifted
    assert user.role == "admin" and user.must_change_password
    assert accounts.verify_login("admin", "the admin's own pw") is None
    assert password not in audit_text()


def test_reset_admin_recreates_a_missing_admin(install):
    accounts.create_user("boss", "boss password", "admin", actor="admin")
    password = accounts.reset_admin(actor="technician@console")
    assert accounts.verify_login("admin", password).must_change_password


def test_session_id_changes_with_the_password(install):
    user = accounts.create_user("sup", "supervisor secret", "supervisor", actor="admin")
    old = accounts.session_id(user)
    assert accounts.user_for_session(old).username == "sup"
    accounts.set_password("sup", "a new supervisor secret", actor="admin")
    assert accounts.user_for_session(old) is None
    assert accounts.user_for_session(accounts.session_id(accounts.get_user("sup"))).username == "sup"
    assert accounts.user_for_session("garbage") is None
    assert accounts.user_for_session("999:abc") is None


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_locks_after_five_failures_in_fifteen_minutes_for_five_minutes():
    clock = FakeClock()
    throttle = accounts.LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.check("admin")
        throttle.failed("admin")
        clock.now += 60
    throttle.check("ADMIN ")  # 4 failures: still allowed (usernames compare case-blind)
    throttle.failed("Admin")
    with pytest.raises(accounts.LoginThrottled) as error:
        throttle.check("admin")
    assert error.value.problems[0].where == "username"
    throttle.check("someone-else")
    clock.now += accounts.LOCKOUT - 1
    with pytest.raises(accounts.LoginThrottled):
        throttle.check("admin")
    clock.now += 2
    throttle.check("admin")


def test_throttle_forgets_failures_older_than_the_window():
    clock = FakeClock()
    throttle = accounts.LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.failed("admin")
    clock.now += accounts.FAILURE_WINDOW + 1
    throttle.failed("admin")
    throttle.check("admin")


def test_good_login_resets_the_failure_count(install):
    accounts.create_user("tech", "technician pass", "technician", actor="admin")
    for _ in range(4):
        assert accounts.verify_login("tech", "wrong one") is None
    assert accounts.verify_login("tech", "technician pass") is not None
    for _ in range(4):
        assert accounts.verify_login("tech", "wrong one") is None
    assert accounts.verify_login("tech", "technician pass") is not None
