"""REST API tokens: made for a user, shown once, stored only as a SHA-256 hash, revoked by name.

A token acts with its user's role *as it is now*: changing the user's role
changes what the token may do, and deleting the user deletes its tokens.
The web API (``appliance.web.api``) calls ``user_for_token`` on every
request; the CLI and the console create and revoke tokens through the
functions here, and every creation or revocation is in the audit log
(never the token, never its hash).

Every token expires (``DEFAULT_DAYS`` after it is made unless its maker chooses 1 to ``MAX_DAYS``
days, or 0 for a token that never expires, which the listing flags); an expired token is refused
like a revoked one and stays listed, marked expired, until revoked.  Tokens made before expiry
existed never expire: list them and revoke the ones nobody uses.

Tokens are 256 random bits (``lbx_`` + 43 URL-safe characters), so a plain
SHA-256 is the right hash: there is nothing to brute-force, and the lookup
must stay cheap because it runs on every API call.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError, shown
from appliance.model import audit
from appliance.model.database import database
from appliance.model.models import ApiToken, User, utcnow

PREFIX = "lbx_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,39}$")
# ``last_used`` is written at most this often per token, so API calls do not each cost a database write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
DEFAULT_DAYS = 90
MAX_DAYS = 730


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _public(row: ApiToken, username: str) -> dict:
    """What the audit log may show about a token: never the token or its hash."""
    return {"username": username, "name": row.name, "created": _as_datetime(row.created).isoformat(timespec="seconds"),
            "expires": _as_datetime(row.expires).isoformat(timespec="seconds") if row.expires else "never"}


def _no_user(username: str) -> Message:
    return Message(N_("user %(user)s does not exist"), user=username)


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise SiteError([Problem("name", N_("use 1-40 letters, digits, spaces, '.', '_' or '-', "
                                            "starting with a letter or digit"))])


def _check_days(days: int) -> None:
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= MAX_DAYS:
        raise SiteError([Problem("expires_days", Message(N_("must be a whole number of days from 1 to %(days)s, "
                                                            "or 0 for a token that never expires"), days=MAX_DAYS))])


def create_token(username: str, name: str, actor: str, expires_days: int = DEFAULT_DAYS) -> str:
    """Make a token for ``username`` called ``name`` (unique per user), valid ``expires_days`` days (0: for ever);
    return it: it is never shown again."""
    _check_name(name)
    _check_days(expires_days)
    with database.atomic():
        user = User.get_or_none(User.username == username)
        if user is None:
            raise SiteError([Problem("username", _no_user(username))])
        if ApiToken.get_or_none((ApiToken.user == user) & (ApiToken.name == name)) is not None:
            raise SiteError([Problem("name", Message(N_("user %(user)s already has a token called %(name)s"),
                                                       user=username, name=shown(name)))])
        token = PREFIX + secrets.token_urlsafe(32)
        row = ApiToken.create(token_hash=hash_token(token), user=user, name=name,
                              expires=utcnow() + timedelta(days=expires_days) if expires_days else None)
        audit.record(actor, "create", "api_token", f"{username}/{name}", None, _public(row, username))
    return token


def revoke_token(username: str, name: str, actor: str) -> None:
    """Delete ``username``'s token ``name``: requests carrying it are refused from now on."""
    with database.atomic():
        row = (ApiToken.select(ApiToken).join(User)
               .where((User.username == username) & (ApiToken.name == name)).first())
        if row is None:
            raise SiteError([Problem("name", Message(N_("user %(user)s has no token called %(name)s"),
                                                       user=username, name=shown(name)))])
        before = _public(row, username)
        row.delete_instance()
        audit.record(actor, "delete", "api_token", f"{username}/{name}", before, None)


def list_tokens(username: str | None = None) -> list[dict]:
    """Tokens (never their secret part), optionally of one user: username, name, created, last_used, expires, expired.

    ``created``, ``last_used`` (None until the token is first used) and ``expires`` (None: never) are
    naive UTC datetimes.  Asking
    for a user who does not exist is refused rather than answered with an empty list, so a mistyped
    name is not taken for "this user has no tokens"."""
    query = (ApiToken.select(ApiToken, User.username).join(User)
             .order_by(User.username, ApiToken.name))
    if username is not None:
        if User.get_or_none(User.username == username) is None:
            raise SiteError([Problem("username", _no_user(username))])
        query = query.where(User.username == username)
    now = utcnow()
    return [{"username": row.user.username, "name": row.name, "created": _as_datetime(row.created),
             "last_used": _as_datetime(row.last_used) if row.last_used is not None else None,
             "expires": _as_datetime(row.expires) if row.expires is not None else None,
             "expired": row.expires is not None and _as_datetime(row.expires) <= now}
            for row in query]


def user_for_token(token: str) -> User | None:
    """The user a presented token belongs to, or None for an unknown, expired or malformed token."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = (ApiToken.select(ApiToken, User).join(User)
           .where(ApiToken.token_hash == hash_token(token)).first())
    if row is None:
        return None
    now = utcnow()
    if row.expires is not None and _as_datetime(row.expires) <= now:
        return None
    if row.last_used is None or now - _as_datetime(row.last_used) >= LAST_USED_RESOLUTION:
        ApiToken.update(last_used=now).where(ApiToken.id == row.id).execute()
    return row.user


def _as_datetime(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
