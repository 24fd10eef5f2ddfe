"""Console users: create, log in, change and reset passwords, every change audited.

The web console and the ``linebox`` CLI both call these functions, so the
rules (roles, password length, hashing, throttling, audit) live in one place.

* Passwords are stored only as argon2id hashes (argon2-cffi's defaults);
  a hash made with older parameters is upgraded at the next good login.
* The audit log records who created a user or changed a password, never
  the password or its hash.
* Login throttling is kept in SQLite (``appliance.model.throttle``), so a restart forgets nothing:
  ``MAX_FAILURES`` failed logins for one user name *from one source address* within
  ``FAILURE_WINDOW`` lock that name for that address only (``LOCKOUT``): a guesser elsewhere on
  the LAN cannot lock the real admin out.  ``MAX_ADDRESS_FAILURES`` failed logins from one
  address, whatever the names, lock that address out for ``ADDRESS_LOCKOUT``: spreading guesses
  over many names does not help.  Every failure is also reported to the ban hook
  (``throttle.register_ban_hook``), where the SIP ban service bans the source as it bans SIP
  password guessers.  ``reset_admin`` lifts the locks on ``admin`` so a technician on the serial
  console can always get an admin back in.
* Console sessions are rows (``appliance.access.sessions``): a password change or reset, a role
  change and deleting a user end every session of that user.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from appliance.access import sessions
from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError, shown
from appliance.model import audit
from appliance.model import throttle as throttles
from appliance.model.database import database
from appliance.model.models import User

log = logging.getLogger(__name__)

ROLES = ("admin", "supervisor", "technician", "agent")
MIN_PASSWORD = 10
MAX_PASSWORD = 256  # argon2 copes with more, but nobody types it: refuse obvious junk early
USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{0,31}$")
FIRST_ADMIN = "admin"
SYSTEM_ACTOR = "system"
# no 0/O, 1/l/I: a one-time password is read off a serial console and typed by hand
ONE_TIME_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
ONE_TIME_LENGTH = 16
# the console's languages (gettext locale names, as the catalogs under appliance/web/translations are named);
# "" is no choice: the console follows the browser's Accept-Language
LANGUAGES = ("en", "zh_CN")

MAX_FAILURES = 5
FAILURE_WINDOW = 15 * 60
LOCKOUT = 5 * 60
MAX_ADDRESS_FAILURES = 20
ADDRESS_LOCKOUT = 15 * 60
NAME_AT_ADDRESS = throttles.Rule("login-user-address", MAX_FAILURES, timedelta(seconds=FAILURE_WINDOW),
                                 timedelta(seconds=LOCKOUT))
ADDRESS = throttles.Rule("login-address", MAX_ADDRESS_FAILURES, timedelta(seconds=FAILURE_WINDOW),
                         timedelta(seconds=ADDRESS_LOCKOUT))
LOCAL = "local"  # the address of a login that came from no network (the CLI, tests)

_hasher = PasswordHasher()
_dummy_hash: str | None = None


class LoginThrottled(SiteError):
    """Too many failed logins: no attempt is checked until ``retry_after`` seconds pass."""

    def __init__(self, retry_after: float):
        self.retry_after = retry_after
        minutes = max(1, round(retry_after / 60))
        wait = (Message(N_("too many failed logins; try again in 1 minute")) if minutes == 1 else
                Message(N_("too many failed logins; try again in %(minutes)s minutes"), minutes=minutes))
        super().__init__([Problem("username", wait)])


class LoginThrottle:
    """The two login rules (see the module docstring), over the counters in SQLite."""

    @staticmethod
    def _name_key(username: str, address: str) -> str:
        return f"{username.strip().lower()[:64]}|{address or LOCAL}"

    def check(self, username: str, address: str = "") -> None:
        """Raise ``LoginThrottled`` while ``address``, or ``username`` at ``address``, is locked out."""
        left = max(throttles.locked_for(ADDRESS, address or LOCAL),
                   throttles.locked_for(NAME_AT_ADDRESS, self._name_key(username, address)))
        if left > 0:
            raise LoginThrottled(left)

    def failed(self, username: str, address: str = "") -> None:
        """Count a failed login, and report it to the ban hook."""
        locked = throttles.failed(NAME_AT_ADDRESS, self._name_key(username, address))
        address_locked = throttles.failed(ADDRESS, address or LOCAL)
        if address:
            throttles.report_source_failure(throttles.SourceFailure(
                "console-login", address, f"failed console login for {username[:64]!r}", address_locked or locked))

    def succeeded(self, username: str, address: str = "") -> None:
        """A good login forgets that name's failures at that address (never the address's own count)."""
        throttles.clear(NAME_AT_ADDRESS, self._name_key(username, address))

    def clear(self, username: str | None = None) -> None:
        """Forget failures and locks for one user name (from every address), or every login counter."""
        if username is None:
            throttles.clear(NAME_AT_ADDRESS)
            throttles.clear(ADDRESS)
        else:
            throttles.clear(NAME_AT_ADDRESS, key_prefix=f"{username.strip().lower()}|")


throttle = LoginThrottle()


def check_password_rules(password: str, where: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise SiteError([Problem(where, Message(N_("must be at least %(count)s characters long"), count=MIN_PASSWORD))])
    if len(password) > MAX_PASSWORD:
        raise SiteError([Problem(where, Message(N_("must be at most %(count)s characters long"), count=MAX_PASSWORD))])


def _check_username(username: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise SiteError([Problem("username", N_("use 1-32 lower-case letters, digits, '.', '_' or '-', "
                                                "starting with a letter"))])


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise SiteError([Problem("role", Message(N_("%(role)s is not a role (roles: %(roles)s)"), role=shown(role),
                                                 roles=", ".join(ROLES)))])


def _public(user: User) -> dict:
    """What the audit log may show about a user: no password, no hash."""
    return {"username": user.username, "role": user.role, "must_change_password": user.must_change_password}


def one_time_password() -> str:
    return "".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(ONE_TIME_LENGTH))


def get_user(username: str) -> User | None:
    return User.get_or_none(User.username == username)


def _existing_user(username: str) -> User:
    """``username``'s account, or the error every change to an account gives for a user that is not there."""
    user = get_user(username)
    if user is None:
        raise SiteError([Problem("username", Message(N_("user %(name)s does not exist"), name=username))])
    return user


def list_users() -> list[User]:
    return list(User.select().order_by(User.username))


def create_user(username: str, password: str, role: str, actor: str, must_change_password: bool = False) -> User:
    """Create a console user; refused (nothing written) if the name, role or password is not acceptable."""
    _check_username(username)
    _check_role(role)
    check_password_rules(password)
    with database.atomic():
        if get_user(username) is not None:
            raise SiteError([Problem("username", Message(N_("user %(name)s already exists"), name=username))])
        user = User.create(username=username, password_hash=_hasher.hash(password), role=role,
                           must_change_password=must_change_password)
        audit.record(actor, "create", "user", username, None, _public(user))
    return user


def _verify_hash(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _burn_time(password: str) -> None:
    """Spend as long as a real check so response time does not tell which usernames exist."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_hex(16))
    _verify_hash(_dummy_hash, password)


def verify_login(username: str, password: str, address: str = "") -> User | None:
    """The user if ``password`` is right, else None; raises ``LoginThrottled`` while locked out.

    ``address``: where the attempt comes from (the throttles count per address).  A good login
    forgets that name's earlier failures from there and upgrades an outdated hash.
    """
    throttle.check(username, address)
    user = get_user(username.strip())
    if user is None:
        _burn_time(password)
    elif _verify_hash(user.password_hash, password):
        throttle.succeeded(username, address)
        if _hasher.check_needs_rehash(user.password_hash):
            User.update(password_hash=_hasher.hash(password)).where(User.id == user.id).execute()
            user = User.get_by_id(user.id)
        return user
    throttle.failed(username, address)
    log.warning("failed console login for %r from %s", username[:64], address or LOCAL)
    return None


def set_password(username: str, new_password: str, actor: str, must_change_password: bool = False) -> User:
    """Give ``username`` a new password (``must_change_password``: it is one-time, to be replaced at login)."""
    check_password_rules(new_password, "new_password")
    with database.atomic():
        user = _existing_user(username)
        before = _public(user)
        user.password_hash = _hasher.hash(new_password)
        user.must_change_password = must_change_password
        user.save()
        sessions.end_user_sessions(user)  # whoever knew the old password is logged out everywhere
        audit.record(actor, "set-password", "user", username, before, {**_public(user), "password": "changed"})
    return user


def change_own_password(username: str, current_password: str, new_password: str) -> User:
    """A logged-in user replaces their password: the current one must be right and the new one different."""
    user = get_user(username)
    if user is None or not _verify_hash(user.password_hash, current_password):
        raise SiteError([Problem("current_password", N_("is not your current password"))])
    if new_password == current_password:
        raise SiteError([Problem("new_password", N_("must differ from the current password"))])
    return set_password(username, new_password, actor=username)


def ensure_first_admin() -> str | None:
    """On a fresh install, create ``admin`` with a one-time password and return it; else None."""
    with database.atomic():
        if User.select().exists():
            return None
        password = one_time_password()
        create_user(FIRST_ADMIN, password, "admin", SYSTEM_ACTOR, must_change_password=True)
    return password


def reset_admin(actor: str) -> str:
    """Give ``admin`` (re-created if missing) a new one-time password and the admin role; return it."""
    password = one_time_password()
    with database.atomic():
        user = get_user(FIRST_ADMIN)
        if user is None:
            create_user(FIRST_ADMIN, password, "admin", actor, must_change_password=True)
        else:
            if user.role != "admin":
                before = _public(user)
                user.role = "admin"
                user.save()
                audit.record(actor, "update", "user", FIRST_ADMIN, before, _public(user))
            set_password(FIRST_ADMIN, password, actor, must_change_password=True)
    throttle.clear(FIRST_ADMIN)
    return password


def set_language(username: str, language: str, actor: str) -> User:
    """Keep ``username``'s console language (one of ``LANGUAGES``, or "" to follow the browser)."""
    if language and language not in LANGUAGES:
        raise SiteError([Problem("language", Message(N_("%(language)s is not a console language (languages: "
                                                        "%(languages)s)"), language=shown(language),
                                                     languages=", ".join(LANGUAGES)))])
    with database.atomic():
        user = _existing_user(username)
        if user.language == language:
            return user
        before = {**_public(user), "language": user.language}
        user.language = language
        user.save()
        audit.record(actor, "update", "user", username, before, {**_public(user), "language": language})
    return user


def _admins_other_than(username: str) -> int:
    return User.select().where((User.role == "admin") & (User.username != username)).count()


def set_role(username: str, role: str, actor: str) -> User:
    """Give ``username`` another role.  Refused for your own account and for the last admin.

    Changing your own role could only ever demote you (nobody can promote themselves past
    admin), and a console with no admin left can be recovered only from the serial console.
    """
    _check_role(role)
    with database.atomic():
        user = _existing_user(username)
        if user.role == role:
            return user
        if username == actor:
            raise SiteError([Problem("role", N_("you cannot change your own role: ask another admin"))])
        if user.role == "admin" and _admins_other_than(username) == 0:
            raise SiteError([Problem("role", Message(N_("%(name)s is the last admin: make another user admin first"),
                                                     name=username))])
        before = _public(user)
        user.role = role
        user.save()
        sessions.end_user_sessions(user)  # they log in again, and see what the new role shows
        audit.record(actor, "update", "user", username, before, _public(user))
    return user


def delete_user(username: str, actor: str) -> None:
    """Delete a console user (their sessions and API tokens end with them); never yourself or the last admin."""
    with database.atomic():
        user = _existing_user(username)
        if username == actor:
            raise SiteError([Problem("username", N_("you cannot delete your own account: ask another admin"))])
        if user.role == "admin" and _admins_other_than(username) == 0:
            raise SiteError([Problem("username", Message(N_("%(name)s is the last admin and cannot be deleted"),
                                                         name=username))])
        before = _public(user)
        user.delete_instance(recursive=True)  # API tokens and sessions go with the user
        audit.record(actor, "delete", "user", username, before, None)
    throttle.clear(username)
