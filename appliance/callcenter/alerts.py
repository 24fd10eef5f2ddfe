"""SLA alerts: each queue's thresholds checked against the wallboard's live picture.

A queue is *in breach* of one of its alerts while (docs/reports.md, "SLA alerts"):

- ``service_level``: today's service level is below its ``service_level_target`` (a queue with no call
  today has no service level, so no breach);
- ``longest_wait``: a caller waiting now has waited more than ``alert_longest_wait_seconds``;
- ``callers_waiting``: more than ``alert_callers_waiting`` callers wait now;
- ``min_agents``: fewer than ``alert_min_agents`` agents are logged in (members Asterisk lists for the queue,
  paused ones included, an agent whose phone is unreachable not).

A threshold of 0 turns that alert off.  ``evaluate`` is a pure function of the breaches already open and the
board's snapshot (``appliance.callcenter.live.build_snapshot``); it returns the breaches open now and one event
per breach that started or cleared.  The board stores those (``SlaBreach``, so a wallboard opened later shows
when a breach started), sends them on its stream, and hands each to ``emit``, the hook other deliveries (a
webhook) subscribe to with ``add_listener``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from appliance.catalog import N_
from appliance.model.models import SlaBreach

log = logging.getLogger(__name__)

# each alert, in the order the wallboard lists a queue's breaches; the words are the wallboard's (catalog)
KINDS = {
    "service_level": N_("Service level below target"),
    "longest_wait": N_("Longest wait above threshold"),
    "callers_waiting": N_("Too many callers waiting"),
    "min_agents": N_("Too few agents logged in"),
}


@dataclass(frozen=True)
class Breach:
    queue: str
    name: str  # the queue's name, as the wallboard shows it
    kind: str
    started: float  # epoch seconds: when the figure crossed the threshold
    value: float  # the figure: when it started in its events and record, now on the board
    threshold: float


def logged_in(agents: list[dict]) -> int:
    """Agents of a wallboard queue who count as logged in: listed, paused or not, with a reachable phone."""
    return sum(1 for a in agents if a.get("state") != "unavailable")


def conditions(queue: dict, now: float) -> dict[str, tuple[float, float, float]]:
    """The alerts a wallboard queue is in breach of now: kind -> (figure, threshold, when it crossed it).

    A long wait crossed its threshold when the longest-waiting caller had waited that long, not when it was
    noticed; the other figures move with an event, seen at once, so they crossed it ``now``."""
    found: dict[str, tuple[float, float, float]] = {}
    level, target = queue.get("service_level"), queue.get("service_level_target") or 0
    if level is not None and level < target:
        found["service_level"] = (level, target, now)
    limit = queue.get("alert_longest_wait_seconds") or 0
    if limit and queue.get("longest_wait", 0) > limit:
        found["longest_wait"] = (queue["longest_wait"], limit, now - queue["longest_wait"] + limit)
    limit = queue.get("alert_callers_waiting") or 0
    if limit and queue.get("waiting", 0) > limit:
        found["callers_waiting"] = (queue["waiting"], limit, now)
    limit = queue.get("alert_min_agents") or 0
    present = logged_in(queue.get("agents", []))
    if limit and present < limit:
        found["min_agents"] = (present, limit, now)
    return found


def event(state: str, breach: Breach, now: float | None = None) -> dict:
    """A breach that started or cleared as the stream (and a webhook) sends it."""
    return {"type": "alert", "state": state, **asdict(breach), "cleared": now if state == "cleared" else None}


def evaluate(active: dict[tuple[str, str], Breach], snapshot: dict,
             now: float) -> tuple[dict[tuple[str, str], Breach], list[dict]]:
    """The breaches open after ``snapshot`` and the events that lead there from ``active``.

    A breach already open keeps its start time (its figure follows the queue's); a queue no longer on the
    board (deleted, or Asterisk not answering: the snapshot then has no queue at all) keeps its breaches open
    until it is seen again, so an AMI hiccup does not clear and restart them."""
    if snapshot.get("error"):
        return dict(active), []
    now_open: dict[tuple[str, str], Breach] = {}
    events: list[dict] = []
    seen = set()
    for queue in snapshot.get("queues", []):
        seen.add(queue["queue"])
        for kind, (value, threshold, since) in conditions(queue, now).items():
            key = (queue["queue"], kind)
            if key in active:
                now_open[key] = replace(active[key], value=value)  # the figure now, the start kept
            else:
                now_open[key] = Breach(queue["queue"], queue.get("name") or queue["queue"], kind, round(since, 3),
                                       value, threshold)
                events.append(event("started", now_open[key]))
    for key, breach in active.items():
        if key not in now_open:
            if breach.queue in seen:
                events.append(event("cleared", breach, round(now, 3)))
            else:
                now_open[key] = breach
    return now_open, events


def shown(active: dict[tuple[str, str], Breach]) -> list[dict]:
    """The open breaches as the wallboard lists them: oldest first."""
    order = list(KINDS)
    return [asdict(b) for b in sorted(active.values(), key=lambda b: (b.started, b.queue, order.index(b.kind)))]


def next_check(snapshot: dict, active: dict[tuple[str, str], Breach]) -> float | None:
    """Seconds until a caller waiting now crosses their queue's longest-wait threshold (no event marks that
    moment, so the board looks again then); None when no such crossing is coming."""
    soonest = None
    for queue in snapshot.get("queues", []):
        limit = queue.get("alert_longest_wait_seconds") or 0
        if limit and queue.get("waiting") and (queue["queue"], "longest_wait") not in active:
            left = limit + 1 - queue.get("longest_wait", 0)
            soonest = left if soonest is None else min(soonest, left)
    return None if soonest is None else max(float(soonest), 0.2)


# --- stored breaches ---------------------------------------------------------------------------------------

def open_breaches() -> dict[tuple[str, str], Breach]:
    """The breaches stored as still open (a board starting again carries on from them)."""
    from appliance.model.models import Queue
    names = {q.number: q.name for q in Queue.select(Queue.number, Queue.name)}
    return {(row.queue, row.kind): Breach(row.queue, names.get(row.queue, row.queue), row.kind, row.started,
                                          row.value, row.threshold)
            for row in SlaBreach.select().where(SlaBreach.cleared.is_null())}


def store(events: list[dict]) -> None:
    """Keep the breaches that started and close those that cleared."""
    for e in events:
        if e["state"] == "started":
            SlaBreach.create(queue=e["queue"], kind=e["kind"], started=e["started"], value=e["value"],
                             threshold=e["threshold"])
        else:
            (SlaBreach.update(cleared=e["cleared"])
             .where(SlaBreach.queue == e["queue"], SlaBreach.kind == e["kind"], SlaBreach.cleared.is_null())
             .execute())


def history(since: float) -> list[SlaBreach]:
    """Breaches that started since ``since`` (epoch seconds), oldest first: what a report of them reads."""
    return list(SlaBreach.select().where(SlaBreach.started >= since).order_by(SlaBreach.started))


# --- the hook other deliveries subscribe to ----------------------------------------------------------------

_listeners: list[Callable[[dict], None]] = []
_listeners_lock = threading.Lock()


def add_listener(listener: Callable[[dict], None]) -> None:
    """Call ``listener`` with each alert event (``event``'s dict) as the board sees it start or clear: the
    hook a webhook delivery plugs into.  It runs on the board's thread: it must return quickly.  The board
    (``appliance.web.wallboard.board``) checks alerts while it runs; with a listener it does not stop when no
    wallboard is open, but something must start it (the console's first wallboard, or the delivery itself)."""
    with _listeners_lock:
        if listener not in _listeners:
            _listeners.append(listener)


def has_listeners() -> bool:
    """Whether a delivery listens: the board then keeps following Asterisk with no wallboard open."""
    with _listeners_lock:
        return bool(_listeners)


def remove_listener(listener: Callable[[dict], None]) -> None:
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def emit(alert: dict) -> None:
    """Hand one alert event to every listener; one that fails is logged and does not stop the others."""
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(alert)
        except Exception:  # noqa: BLE001 - a delivery's failure must not stop the wallboard
            log.exception("SLA alert listener %r failed", listener)
