"""Call events to the company's own webhook receiver: signed, in order, retried, and logged.

Off until an admin sets ``webhook_url`` (Settings): until then nothing is recorded and nothing is sent.  Each
event (``call.ringing``, ``call.answered``, ``call.ended`` with the disposition and note when saved by then,
``call.disposition`` whenever the agent saves one) is written to the delivery log (``WebhookDelivery``) the
moment it happens, by whoever sees it: the webhook service for the call events it follows over AMI, the
console for a saved disposition.  Writing a row is all they do: no call and no console request ever waits
for the receiver.  ``linebox-webhooks.service`` sends the rows (``deliver_due``) one at a time in the order
they were written: the receiver sees a call's events in order, and a row that failed holds the later ones
back until its retry (``RETRY_SECONDS``); after the last retry it is marked failed and the next goes.

Signature (docs/admin-guide.md, "CRM and webhooks"): the body is sent as the exact bytes signed;
``X-Linebox-Timestamp`` is the sending time (epoch seconds) and ``X-Linebox-Signature`` is ``v1=`` followed
by the hex HMAC-SHA256, under the site's webhook secret, of ``<timestamp>.<body>``.  The secret is made on
the box (``secret``), kept sealed in the database (``appliance.model.sealed``) and shown to admins only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets as secrets_mod
import time
from collections.abc import Callable
from typing import Any

from appliance.callcenter import outbound_http
from appliance.model import audit, sealed
from appliance.model.models import CallNote, Setting, WebhookDelivery
from appliance.site import stored

EVENTS = ("call.ringing", "call.answered", "call.ended", "call.disposition")
POP_EVENTS = {"ringing": "call.ringing", "connected": "call.answered", "ended": "call.ended"}
RETRY_SECONDS = (5, 30, 120, 600, 1800)  # wait after the 1st, 2nd, ... failed attempt; then it has failed
TIMEOUT_SECONDS = 5.0  # per attempt: a receiver that takes longer counts as down for that attempt
SECRET_KEY = "webhook-secret"  # the Setting row holding the sealed secret
KEEP_ROWS = 5000  # the delivery log keeps this many newest rows
MAX_ERROR = 200


def url() -> str:
    """The configured receiver, "" when webhooks are off."""
    return stored.setting("webhook_url").strip()


def secret() -> str:
    """The site's webhook signing secret, made at first use; sealed at rest."""
    row = Setting.get_or_none(Setting.key == SECRET_KEY)
    if row is not None and row.value:
        return sealed.current().open(row.value)
    return new_secret("system")  # made by the box itself, at the first event to sign


def new_secret(user: str) -> str:
    """A fresh signing secret (the receiver must be given it); the old one stops being valid.  Audited."""
    value = secrets_mod.token_urlsafe(32)
    had = Setting.get_or_none(Setting.key == SECRET_KEY) is not None
    Setting.replace(key=SECRET_KEY, value=sealed.current().seal(value)).execute()
    audit.record(user, "update", "settings", SECRET_KEY, {"secret": "old"} if had else None, {"secret": "new"},
                 ("secret",))
    return value


def signature(key: str, timestamp: str, body: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``key``."""
    return "v1=" + hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def record(event: str, data: dict[str, Any], now: float | None = None) -> WebhookDelivery | None:
    """Log ``event`` for delivery, when a receiver is configured (None when not: nothing is kept)."""
    target = url()
    if not target:
        return None
    now = time.time() if now is None else now
    row = WebhookDelivery.create(event=event, call=str(data.get("call", ""))[:64], url=target, body="",
                                 created=now, next_attempt=now)
    body = {"id": row.id, "event": event, "time": round(now, 3), "data": data}
    row.body = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    row.save()
    return row


def record_pop(pop: dict, now: float | None = None) -> WebhookDelivery | None:
    """A queue call's event for an agent (``live.screen_pop``) as the webhook sends it."""
    event = POP_EVENTS.get(pop.get("type", ""))
    if event is None:
        return None
    data = {"call": pop.get("uniqueid", ""), "linkedid": pop.get("linkedid", ""), "queue": pop.get("queue", ""),
            "agent": pop.get("agent", ""), "caller": pop.get("caller", ""), "caller_name": pop.get("caller_name", "")}
    if event == "call.ended":
        note = CallNote.get_or_none(CallNote.callid == data["call"]) if data["call"] else None
        data.update(disposition=note.disposition if note else "", note=note.note if note else "")
    return record(event, data, now)


def record_disposition(callid: str, linkedid: str, queue: str, agent: str, disposition: str, note: str
                       ) -> WebhookDelivery | None:
    return record("call.disposition", {"call": callid, "linkedid": linkedid, "queue": queue, "agent": agent,
                                       "disposition": disposition, "note": note})


Post = Callable[..., outbound_http.Answer]


def _attempt(row: WebhookDelivery, key: str, post: Post) -> tuple[int, str]:
    """Send one row: (HTTP status, "" or what went wrong)."""
    body = row.body.encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "Linebox-Webhooks/1",
               "X-Linebox-Event": row.event, "X-Linebox-Delivery": str(row.id),
               "X-Linebox-Timestamp": timestamp, "X-Linebox-Signature": signature(key, timestamp, body)}
    answer = post("POST", row.url, body=body, headers=headers, timeout=TIMEOUT_SECONDS, max_bytes=4096,
                  deadline=TIMEOUT_SECONDS)
    if answer.status == 0:
        return 0, answer.error[:MAX_ERROR]
    if 200 <= answer.status < 300:
        return answer.status, ""
    return answer.status, f"HTTP {answer.status}"


def deliver_due(now: Callable[[], float] = time.time, post: Post = outbound_http.send,
                retry_seconds: tuple[float, ...] = RETRY_SECONDS, limit: int = 100) -> int:
    """Send the pending rows that are due, oldest first, stopping at the first that fails (it holds the later
    ones back until its retry, so the receiver sees the events in order); how many were delivered."""
    delivered = 0
    key = ""
    for _ in range(limit):
        row = WebhookDelivery.select().where(WebhookDelivery.status == "pending").order_by(WebhookDelivery.id).first()
        if row is None or row.next_attempt > now():
            break
        key = key or secret()
        status, error = _attempt(row, key, post)
        row.attempts += 1
        row.last_status, row.last_error = status, error
        if not error:
            row.status, row.delivered = "delivered", now()
            row.save()
            delivered += 1
            continue
        if row.attempts > len(retry_seconds):
            row.status = "failed"
        else:
            row.next_attempt = now() + retry_seconds[row.attempts - 1]
        row.save()
        if row.status == "pending":
            break
    return delivered


def prune(keep: int = KEEP_ROWS) -> int:
    """Drop delivered and failed rows beyond the newest ``keep``: the log stays small."""
    newest = WebhookDelivery.select(WebhookDelivery.id).order_by(WebhookDelivery.id.desc()).offset(keep).limit(1)
    edge = newest.scalar()
    if edge is None:
        return 0
    return WebhookDelivery.delete().where((WebhookDelivery.id <= edge)
                                          & (WebhookDelivery.status != "pending")).execute()


def recent(limit: int = 50) -> list[WebhookDelivery]:
    """The delivery log as the console shows it, newest first."""
    return list(WebhookDelivery.select().order_by(WebhookDelivery.id.desc()).limit(limit))
