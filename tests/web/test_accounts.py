"""Console users: argon2 hashes, validation naming the field, audit without passwords, throttling."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from appliance.access import accounts, sessions
from appliance.errors import SiteError
from appliance.model.models import AuditEntry, ThrottleFailure, ThrottleLock, User


@pytest.fixture(autouse=True)
def _fresh_throttle(install):
    """The counters are in the install's database: a fresh install starts with none."""
    yield


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


def test_a_password_or_role_change_ends_the_users_sessions(install):
    accounts.create_user("boss", "boss password", "admin", actor="admin")
    user = accounts.create_user("sup", "supervisor secret", "supervisor", actor="boss")
    first, second = sessions.start_session(user, "192.0.2.1"), sessions.start_session(user, "192.0.2.2")
    assert sessions.user_for_session(first).username == "sup"
    accounts.set_password("sup", "a new supervisor secret", actor="boss")
    assert sessions.user_for_session(first) is None and sessions.user_for_session(second) is None
    third = sessions.start_session(accounts.get_user("sup"))
    accounts.set_role("sup", "agent", actor="boss")
    assert sessions.user_for_session(third) is None
    assert sessions.user_for_session("garbage") is None and sessions.user_for_session("") is None


def age_failures(seconds: float) -> None:
    """Move every stored failure and lock ``seconds`` into the past: time passing, in the real database."""
    for failure in ThrottleFailure.select():
        ThrottleFailure.update(when=failure.when - timedelta(seconds=seconds)).where(
            ThrottleFailure.id == failure.id).execute()
    for lock in ThrottleLock.select():
        ThrottleLock.update(until=lock.until - timedelta(seconds=seconds)).where(ThrottleLock.id == lock.id).execute()


def test_throttle_locks_a_name_at_one_address_after_five_failures_for_five_minutes(install):
    throttle = accounts.throttle
    for _ in range(4):
        throttle.check("admin", "192.0.2.9")
        throttle.failed("admin", "192.0.2.9")
        age_failures(60)
    throttle.check("ADMIN ", "192.0.2.9")  # 4 failures: still allowed (usernames compare case-blind)
    throttle.failed("Admin", "192.0.2.9")
    with pytest.raises(accounts.LoginThrottled) as error:
        throttle.check("admin", "192.0.2.9")
    assert error.value.problems[0].where == "username"
    throttle.check("someone-else", "192.0.2.9")
    throttle.check("admin", "192.0.2.10")  # the same name from elsewhere: not locked out
    age_failures(accounts.LOCKOUT - 2)
    with pytest.raises(accounts.LoginThrottled):
        throttle.check("admin", "192.0.2.9")
    age_failures(3)
    throttle.check("admin", "192.0.2.9")


def test_throttle_forgets_failures_older_than_the_window(install):
    throttle = accounts.throttle
    for _ in range(4):
        throttle.failed("admin", "192.0.2.9")
    age_failures(accounts.FAILURE_WINDOW + 1)
    throttle.failed("admin", "192.0.2.9")
    throttle.check("admin", "192.0.2.9")


def test_good_login_resets_the_failure_count(install):
    accounts.create_user("tech", "technician pass", "technician", actor="admin")
    for _ in range(4):
        assert accounts.verify_login("tech", "wrong one") is None
    assert accounts.verify_login("tech", "technician pass") is not None
    for _ in range(4):
        assert accounts.verify_login("tech", "wrong one") is None
    assert accounts.verify_login("tech", "technician pass") is not None
