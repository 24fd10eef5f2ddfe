"""Failed-attempt throttles kept in SQLite, and the hook that reports guessing sources to the ban service.

A ``Rule`` counts failures per key (a source address, a user name and address pair, ...) and, after
``max_failures`` within ``window``, refuses that key for ``lockout``.  Counters and locks are rows
(``ThrottleFailure``, ``ThrottleLock``), so a restart of the console or of the provisioning server
forgets nothing, and the two processes share them.  The clock is wall-clock UTC (``utcnow``) for
the same reason: a monotonic clock does not survive a restart.

Every failure that names a source address is also handed to the functions registered with
``register_ban_hook``: that is where the SIP ban service (nftables, issue 16 item 1) plugs in to ban
an address that guesses console passwords or provisioning URLs as it bans SIP password guessers.
Until one is registered, the throttles work on their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.model.database import database
from appliance.model.models import ThrottleFailure, ThrottleLock, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """``max_failures`` failures of one key within ``window`` lock that key for ``lockout``."""

    scope: str
    max_failures: int
    window: timedelta
    lockout: timedelta


@dataclass(frozen=True)
class SourceFailure:
    """What a ban hook is told: ``service`` (``console-login``, ``provisioning``) saw a failure from ``address``.

    ``locked_until`` is set when this failure locked the address (or a key naming it) out."""

    service: str
    address: str
    detail: str
    locked_until: datetime | None


BanHook = Callable[[SourceFailure], None]
_ban_hooks: list[BanHook] = []


def register_ban_hook(hook: BanHook) -> None:
    """Have ``hook`` called with every ``SourceFailure`` (the ban service's entry point)."""
    if hook not in _ban_hooks:
        _ban_hooks.append(hook)


def unregister_ban_hook(hook: BanHook) -> None:
    if hook in _ban_hooks:
        _ban_hooks.remove(hook)


def report_source_failure(failure: SourceFailure) -> None:
    """Hand ``failure`` to every ban hook; a failing hook is logged, never fails the request."""
    for hook in list(_ban_hooks):
        try:
            hook(failure)
        except Exception:  # a ban service that is down must not let a guess through or break a login
            log.exception("ban hook %r failed", hook)


def locked_for(rule: Rule, key: str) -> float:
    """Seconds ``key`` stays locked under ``rule`` (0: not locked)."""
    row = ThrottleLock.get_or_none((ThrottleLock.scope == rule.scope) & (ThrottleLock.key == key))
    if row is None:
        return 0.0
    left = (_as_datetime(row.until) - utcnow()).total_seconds()
    return max(0.0, left)


def failed(rule: Rule, key: str) -> datetime | None:
    """Count one failure of ``key``; return when its lock ends if this failure locked it, else None."""
    now = utcnow()
    with database.atomic():
        ThrottleFailure.create(scope=rule.scope, key=key, when=now)
        recent = (ThrottleFailure.select()
                  .where((ThrottleFailure.scope == rule.scope) & (ThrottleFailure.key == key)
                         & (ThrottleFailure.when > now - rule.window)).count())
        if recent < rule.max_failures:
            return None
        until = now + rule.lockout
        ThrottleLock.replace(scope=rule.scope, key=key, until=until).execute()
        ThrottleFailure.delete().where((ThrottleFailure.scope == rule.scope) & (ThrottleFailure.key == key)).execute()
    _forget_old(now)
    return until


def clear(rule: Rule, key: str | None = None, key_prefix: str | None = None) -> None:
    """Forget ``rule``'s failures and locks: of one key, of keys starting with ``key_prefix``, or all."""
    for model in (ThrottleFailure, ThrottleLock):
        condition = model.scope == rule.scope
        if key is not None:
            condition &= model.key == key
        elif key_prefix is not None:
            condition &= model.key.startswith(key_prefix)
        model.delete().where(condition).execute()


def clear_all() -> None:
    """Forget every counter and lock (tests; ``linebox`` commands that reset access)."""
    ThrottleFailure.delete().execute()
    ThrottleLock.delete().execute()


def _forget_old(now: datetime) -> None:
    """Drop failures older than a day and ended locks, so guessed keys do not grow the database without bound."""
    ThrottleFailure.delete().where(ThrottleFailure.when < now - timedelta(days=1)).execute()
    ThrottleLock.delete().where(ThrottleLock.until < now).execute()


def _as_datetime(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


__all__ = ["BanHook", "Rule", "SourceFailure", "clear", "clear_all", "failed", "locked_for",
           "register_ban_hook", "report_source_failure", "unregister_ban_hook"]
