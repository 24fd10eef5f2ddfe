"""Console sessions kept on the server: a cookie is only a name for a row, and deleting the row ends it.

Flask's signed cookie alone cannot be taken back: a copied cookie worked after log out, and every
request pushed its expiry further.  Here each login makes a ``ConsoleSession`` row (the cookie
carries a random token; the database keeps only its SHA-256) and every request looks it up:

* **idle lifetime** (``IDLE``, default 30 minutes, ``$LINEBOX_SESSION_IDLE_MINUTES``): a session
  not used for that long is over;
* **absolute lifetime** (``ABSOLUTE``, default 12 hours, ``$LINEBOX_SESSION_MAX_HOURS``): a session
  is over that long after its login, however busy;
* log out ends the session; a password change or reset, a role change and deleting the user end
  every session of that user (``end_user_sessions``, called by ``appliance.access.accounts``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timedelta

from appliance.model.models import ConsoleSession, User, utcnow

IDLE_ENV = "LINEBOX_SESSION_IDLE_MINUTES"
ABSOLUTE_ENV = "LINEBOX_SESSION_MAX_HOURS"
DEFAULT_IDLE = timedelta(minutes=30)
DEFAULT_ABSOLUTE = timedelta(hours=12)
# ``last_seen`` is written at most this often per session, so pages do not each cost a database write
LAST_SEEN_RESOLUTION = timedelta(seconds=30)


def _env_duration(name: str, unit: timedelta, default: timedelta) -> timedelta:
    value = os.environ.get(name, "").strip()
    return unit * int(value) if value.isdigit() and int(value) > 0 else default


def idle_lifetime() -> timedelta:
    return _env_duration(IDLE_ENV, timedelta(minutes=1), DEFAULT_IDLE)


def absolute_lifetime() -> timedelta:
    return _env_duration(ABSOLUTE_ENV, timedelta(hours=1), DEFAULT_ABSOLUTE)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(user: User, address: str = "") -> str:
    """A new session for ``user`` (just logged in from ``address``); returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    ConsoleSession.create(token_hash=_hash(token), user=user, address=address[:64])
    _forget_expired()
    return token


def user_for_session(token: str) -> User | None:
    """The user whose live session ``token`` names, or None (unknown, ended, idle too long or too old).

    Using a session keeps it alive up to its absolute lifetime, never past it."""
    if not token or len(token) > 200:
        return None
    row = (ConsoleSession.select(ConsoleSession, User).join(User)
           .where(ConsoleSession.token_hash == _hash(token)).first())
    if row is None:
        return None
    now = utcnow()
    if now - _as_datetime(row.created) >= absolute_lifetime() or now - _as_datetime(row.last_seen) >= idle_lifetime():
        row.delete_instance()
        return None
    if now - _as_datetime(row.last_seen) >= LAST_SEEN_RESOLUTION:
        ConsoleSession.update(last_seen=now).where(ConsoleSession.id == row.id).execute()
    return row.user


def end_session(token: str) -> None:
    """Log out: the session ``token`` names is over (nothing happens for an unknown one)."""
    if token:
        ConsoleSession.delete().where(ConsoleSession.token_hash == _hash(token)).execute()


def end_user_sessions(user: User) -> int:
    """End every session of ``user``; the number ended."""
    return ConsoleSession.delete().where(ConsoleSession.user == user).execute()


def list_sessions(username: str | None = None) -> list[dict]:
    """Live sessions (never their token): username, address, created, last_seen (naive UTC)."""
    _forget_expired()
    query = ConsoleSession.select(ConsoleSession, User).join(User).order_by(User.username, ConsoleSession.created)
    if username is not None:
        query = query.where(User.username == username)
    return [{"username": row.user.username, "address": row.address, "created": _as_datetime(row.created),
             "last_seen": _as_datetime(row.last_seen)} for row in query]


def _forget_expired() -> None:
    now = utcnow()
    ConsoleSession.delete().where((ConsoleSession.created < now - absolute_lifetime())
                                  | (ConsoleSession.last_seen < now - idle_lifetime())).execute()


def _as_datetime(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


__all__ = ["absolute_lifetime", "end_session", "end_user_sessions", "idle_lifetime", "list_sessions",
           "start_session", "user_for_session"]
