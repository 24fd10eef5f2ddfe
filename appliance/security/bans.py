"""Ban the guessers: count failed authentications per source address and ban it through the firewall.

One place decides, whoever saw the failure: ``linebox-bans.service`` feeds it Asterisk's security events
(wrong SIP passwords, requests to unknown accounts, AMI login failures) and the console may feed it its
own failed logins, through the same two calls:

* ``record_failure(source, reason, service=..., account=...)``: count one failure; when the source has
  ``ban_failures`` of them within ``ban_window_seconds`` (settings), ban it and return the ``Ban``;
* ``ban(source, reason, user=...)`` and ``unban(source, user=...)``: by hand (console, ``linebox bans``).

A ban lasts ``ban_seconds``, doubled for each earlier ban of the same source within the last day, up to
``ban_max_seconds``.  Addresses in ``ban_allow`` and the box's own loopback are never banned (their
failures are still counted, so ``linebox diag`` shows them).  The database is the truth: every ban, unban
and expiry is a row here and in the audit log, and ``sync_firewall`` makes the firewall's sets agree with
it (after a reboot or a firewall reload, and for unbans made by a process without ``CAP_NET_ADMIN``).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.model import audit, throttle
from appliance.model.models import AuthFailure, Ban, database, utcnow
from appliance.security import firewall
from appliance.site.stored import setting

log = logging.getLogger(__name__)

SERVICE_USER = "linebox-bans"  # the audit log's "who" for bans the service decides
MEMORY = timedelta(days=1)  # earlier bans within this make the next one longer
NEVER_BANNED = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class Policy:
    failures: int
    window: int
    seconds: int
    max_seconds: int
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def load(cls) -> Policy:
        """The ban settings (``ban_*``), read as single rows: the service stays small."""
        allow = [item.strip() for item in setting("ban_allow").split(",") if item.strip()]
        return cls(failures=int(setting("ban_failures")), window=int(setting("ban_window_seconds")),
                   seconds=int(setting("ban_seconds")), max_seconds=int(setting("ban_max_seconds")),
                   allow=tuple(ipaddress.ip_network(n, strict=False) for n in [*allow, *NEVER_BANNED]))

    def allowed(self, source: str) -> bool:
        address = ipaddress.ip_address(source)
        return any(address.version == n.version and address in n for n in self.allow)


def address(source: str) -> str:
    """``source`` as a plain address (an IPv4-mapped IPv6 address as IPv4); a clear error if it is none."""
    try:
        parsed = ipaddress.ip_address(source.strip())
    except ValueError:
        raise SiteError([Problem("address", Message(N_("'%(address)s' is not an IPv4 or IPv6 address"),
                                                       address=source[:60]))]) from None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        parsed = parsed.ipv4_mapped
    return str(parsed)


def active(source: str | None = None, now: datetime | None = None) -> list[Ban]:
    """Bans in force now (of ``source`` only, when given), the latest first."""
    now = now or utcnow()
    query = Ban.select().where(Ban.ended.is_null(), Ban.until > now)
    if source:
        query = query.where(Ban.source == source)
    return list(query.order_by(Ban.since.desc()))


def recent(limit: int = 20) -> list[Ban]:
    """The latest bans, in force or not."""
    return list(Ban.select().order_by(Ban.since.desc(), Ban.id.desc()).limit(limit))


def in_force(row: Ban, now: datetime | None = None) -> bool:
    return row.ended is None and row.until > (now or utcnow())


def failure_counts(within: timedelta) -> list[tuple[str, str, int]]:
    """(source, service, failures) within the last ``within``, the most failures first."""
    from peewee import fn

    since = utcnow() - within
    rows = (AuthFailure.select(AuthFailure.source, AuthFailure.service, fn.COUNT(AuthFailure.id).alias("n"))
            .where(AuthFailure.when >= since).group_by(AuthFailure.source, AuthFailure.service)
            .order_by(fn.COUNT(AuthFailure.id).desc()))
    return [(row.source, row.service, row.n) for row in rows]


def _as_dict(row: Ban) -> dict:
    return {"source": row.source, "reason": row.reason, "failures": row.failures, "by": row.by,
            "since": row.since.isoformat(sep=" ", timespec="seconds"),
            "until": row.until.isoformat(sep=" ", timespec="seconds"),
            "ended": row.ended.isoformat(sep=" ", timespec="seconds") if row.ended else None,
            "ended_by": row.ended_by}


def _duration(source: str, policy: Policy, now: datetime) -> int:
    earlier = Ban.select().where(Ban.source == source, Ban.since >= now - MEMORY).count()
    return min(policy.seconds * 2 ** min(earlier, 30), policy.max_seconds)


def _enforce(source: str, seconds: float) -> str:
    """Put the ban in the firewall now; the sync loop retries what fails.  The error text, or ''."""
    try:
        firewall.add(source, int(seconds + 0.999))
    except firewall.FirewallError as error:
        log.warning("ban of %s not in the firewall yet: %s", source, error)
        return str(error)
    return ""


def ban(source: str, reason: str, *, user: str, seconds: int | None = None, failures: int = 0,
        policy: Policy | None = None, now: datetime | None = None, enforce: bool = True) -> Ban:
    """Ban ``source`` now (for ``seconds``, or as long as the policy says for its history).

    Refuses an allow-listed address; banning an address already banned returns the ban in force.
    ``enforce=False`` (the console, which has no ``CAP_NET_ADMIN``) leaves the firewall to the service."""
    source = address(source)
    policy = policy or Policy.load()
    if policy.allowed(source):
        raise SiteError([Problem("address", Message(N_("%(address)s is on the allow-list (ban_allow) or is the "
                                                       "box itself: never banned"), address=source))])
    if seconds is not None and not 1 <= seconds <= 31536000:
        raise SiteError([Problem("seconds", N_("a ban lasts from 1 s to a year"))])
    now = now or utcnow()
    with database.atomic():
        current = active(source, now)
        if current:
            return current[0]
        duration = seconds if seconds is not None else _duration(source, policy, now)
        row = Ban.create(source=source, reason=reason[:200], failures=failures, by=user, since=now,
                         until=now + timedelta(seconds=duration))
        audit.record(user, "ban", "ban", source, None, _as_dict(row))
    if enforce:
        _enforce(source, duration)
    return row


def unban(source: str, *, user: str, now: datetime | None = None, enforce: bool = True) -> int:
    """Lift every ban in force of ``source``; how many there were (0: it was not banned).

    ``enforce=False``: the firewall is left to the service's sync (within a second)."""
    source = address(source)
    now = now or utcnow()
    with database.atomic():
        rows = active(source, now)
        for row in rows:
            before = _as_dict(row)
            row.ended, row.ended_by = now, user
            row.save()
            audit.record(user, "unban", "ban", source, before, _as_dict(row))
    if rows and enforce:
        try:
            firewall.remove(source)
        except firewall.FirewallError as error:  # the service's sync removes it
            log.warning("unban of %s not in the firewall yet: %s", source, error)
    return len(rows)


def record_failure(source: str, reason: str, *, service: str = "PJSIP", account: str = "",
                   policy: Policy | None = None, now: datetime | None = None, enforce: bool = True) -> Ban | None:
    """Count one failed authentication from ``source``; the ban it caused, if it was the one too many.

    What another part of Linebox calls when it sees a guesser: the console's failed logins, say, with
    ``service="console"`` and ``enforce=False`` (the console has no ``CAP_NET_ADMIN``: the ban service puts
    the ban in the firewall within a second)."""
    source = address(source)
    policy = policy or Policy.load()
    now = now or utcnow()
    with database.atomic():
        if active(source, now):
            return None  # in flight when the ban started: the firewall drops the rest
        AuthFailure.create(source=source, service=service[:40], reason=reason[:80], account=account[:80], when=now)
        if not policy.failures or policy.allowed(source):
            return None
        last = Ban.select(Ban.since).where(Ban.source == source).order_by(Ban.since.desc()).first()
        start = now - timedelta(seconds=policy.window)
        if last is not None and last.since > start:
            start = last.since  # failures before the last ban were paid for
        recent_failures = AuthFailure.select().where(AuthFailure.source == source, AuthFailure.when > start)
        count = recent_failures.count()
        if count < policy.failures:
            return None
        kinds = sorted({f"{f.service} {f.reason}" for f in recent_failures})
    return ban(source, f"{count} failures in {policy.window} s: {', '.join(kinds)}", user=SERVICE_USER,
               failures=count, policy=policy, now=now, enforce=enforce)


# what the console's and the provisioning server's throttles report, as the reason a ban gives
GUESSING_REASONS = {"console-login": "LoginFailed", "provisioning": "ProvisioningRefused"}


def count_refused_requests() -> None:
    """Feed the console's failed logins and the provisioning server's refused fetches into the bans.

    Called by each process that serves them (idempotent); they run without ``CAP_NET_ADMIN``, so they only
    record: ``linebox-bans.service`` puts a ban in the firewall within a second."""
    throttle.register_ban_hook(_count_refused_request)


def _count_refused_request(failure: throttle.SourceFailure) -> None:
    record_failure(failure.address, GUESSING_REASONS.get(failure.service, failure.service), service=failure.service,
                   account=failure.detail, enforce=False)


def sync_firewall(now: datetime | None = None) -> list[str]:
    """Close expired bans (audited) and make the firewall's sets hold exactly the bans in force.

    What changed, as lines; raises ``FirewallError`` when the sets cannot be read."""
    now = now or utcnow()
    changes = []
    with database.atomic():
        for row in Ban.select().where(Ban.ended.is_null(), Ban.until <= now):
            before = _as_dict(row)
            row.ended, row.ended_by = row.until, "expired"
            row.save()
            audit.record(SERVICE_USER, "expire", "ban", row.source, before, _as_dict(row))
            changes.append(f"ban of {row.source} expired")
    wanted = {row.source: (row.until - now).total_seconds() for row in active(now=now)}
    present = firewall.elements()
    for source, left in wanted.items():
        if source not in present:
            firewall.add(source, int(left + 0.999))
            changes.append(f"{source} put back in the firewall ({left:.0f} s left)")
    for source in present:
        if source not in wanted:
            firewall.remove(source)
            changes.append(f"{source} taken out of the firewall (not banned)")
    return changes


def fingerprint() -> tuple:
    """Changes whenever a ban is made, lifted or due to expire: the service syncs the firewall when it moves."""
    from peewee import fn

    due = Ban.select().where(Ban.ended.is_null(), Ban.until <= utcnow()).count()
    return Ban.select(fn.MAX(Ban.id)).scalar(), Ban.select().where(Ban.ended.is_null(False)).count(), due


def prune(now: datetime | None = None) -> None:
    """Forget failures older than the memory (the bans themselves stay as history)."""
    now = now or utcnow()
    AuthFailure.delete().where(AuthFailure.when < now - MEMORY).execute()
