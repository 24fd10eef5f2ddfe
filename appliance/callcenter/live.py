"""The wallboard's live state: queues, waiting callers and agents, straight from Asterisk over AMI.

One ``LiveBoard`` per console process keeps an AMI session open.  Any queue
or agent event marks the state dirty; the board then asks Asterisk for the
whole picture (``QueueStatus``) and hands the new snapshot to every
subscriber (the wallboard's server-sent-event streams).  Re-reading the
whole state instead of patching it from single events means a missed event
can never leave the board wrong for longer than one refresh.

Waiting callers and agents' states come live from Asterisk; each queue's
name, service-level settings and today's answered, abandoned and service
level come from the same report as ``linebox report`` (``queue_figures``),
so the wallboard and the report can never disagree.  Asterisk's own
counters are not used: they count since Asterisk started, and its
service level mixes abandoned calls in.

The same AMI session feeds the agents' screen pop: ``AgentCalled`` (and the
events that follow it) are handed straight to the stream of the agent whose
phone rings, with the caller's number and the queue, without waiting for a
refresh.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import queue as queue_mod
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import peewee

from appliance.asterisk.ami import Ami, AmiError
from appliance.callcenter import alerts, reports
from appliance.catalog import N_
from appliance.model.database import database
from appliance.model.models import Extension, Queue

log = logging.getLogger(__name__)

TRIGGERS = {
    "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "QueueMemberStatus", "QueueMemberPause",
    "QueueMemberAdded", "QueueMemberRemoved", "AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer",
    "AgentDump", "QueueMemberRinginuse", "QueueMemberPenalty",
}
DEVICE_STATES = {"0": "unknown", "1": "available", "2": "on call", "3": "on call", "4": "unavailable",
                 "5": "unavailable", "6": "ringing", "7": "on call", "8": "on call"}
# every state an agent is shown in (the console shows them in the reader's language; the stream sends these)
STATE_WORDS = (N_("unknown"), N_("available"), N_("on call"), N_("unavailable"), N_("ringing"), N_("paused"),
               N_("wrap-up"), N_("logged out"))
_ids = itertools.count()
IDLE_SECONDS = 30  # with no wallboard open for this long, the AMI session is closed
# after a queue event, look again this soon: the collector stores the call's outcome a moment after Asterisk
# tells it, and today's figures come from what it stored
FOLLOW_UP_SECONDS = 1.0
POP_EVENTS = {"AgentCalled": "ringing", "AgentConnect": "connected", "AgentComplete": "ended",
              "AgentRingNoAnswer": "missed", "AgentDump": "ended"}


def screen_pop(headers: dict) -> dict | None:
    """An agent's call event as their screen pop shows it: who calls, through which queue."""
    kind = POP_EVENTS.get(headers.get("Event", ""))
    if kind is None:
        return None
    interface = headers.get("Interface", "")
    return {"type": kind, "agent": headers.get("MemberName") or interface.rpartition("/")[2],
            "interface": interface, "queue": headers.get("Queue", ""),
            "caller": headers.get("CallerIDNum", ""), "caller_name": headers.get("CallerIDName", ""),
            "uniqueid": headers.get("Uniqueid", ""), "linkedid": headers.get("Linkedid", ""),
            "time": round(time.time(), 3)}


CALL_FIELDS = ("uniqueid", "linkedid", "caller", "caller_name")


class PopTracker:
    """Keeps each agent's current queue call so that its closing event names the call.

    Asterisk builds ``AgentComplete`` (and ``AgentDump``) from the caller's channel as it is at that moment;
    when the caller has hung up and the channel is already gone, the event comes without the caller's
    ``Uniqueid``, number and name.  The pop (and the webhook's ``call.ended``) would then name no call, so
    the fields missing from a closing event are taken from the same agent's ringing or connected event."""

    def __init__(self, keep: int = 2000) -> None:
        self.keep = keep  # agents on a call at once, at most: a lost closing event cannot grow it forever
        self._calls: dict[tuple[str, str], dict] = {}
        self._lock = threading.Lock()

    def complete(self, pop: dict) -> dict:
        key = (pop["queue"], pop["interface"])
        with self._lock:
            if pop["type"] in ("ringing", "connected"):
                if pop["uniqueid"]:
                    self._calls.pop(key, None)
                    self._calls[key] = {f: pop[f] for f in CALL_FIELDS}
                    while len(self._calls) > self.keep:
                        self._calls.pop(next(iter(self._calls)))
                return pop
            known = self._calls.pop(key, None) if pop["type"] == "ended" else self._calls.get(key)
        if known and (not pop["uniqueid"] or pop["uniqueid"] == known["uniqueid"]):
            return {**pop, **{f: pop[f] or known[f] for f in CALL_FIELDS}}
        return pop


# each queue's SLA alert thresholds (appliance.callcenter.alerts), passed through to the snapshot
ALERT_FIELDS = (Queue.alert_longest_wait_seconds, Queue.alert_callers_waiting, Queue.alert_min_agents)


def queue_figures(now: float | None = None) -> dict:
    """What the wallboard shows beside Asterisk's live state: each queue's name and service-level settings,
    today's answered, abandoned and service level (the report's own figures for today, docs/reports.md),
    and the agents' names."""
    start, end = reports.today(datetime.fromtimestamp(now or time.time(), UTC))  # the site's local day
    kpis = {k.queue: k for k in reports.queue_report(start, end)}
    queues = {}
    for q in Queue.select(Queue.number, Queue.name, Queue.service_level_seconds, Queue.service_level_target,
                          *ALERT_FIELDS):
        k = kpis.get(q.number)
        queues[q.number] = {"name": q.name, "service_level_seconds": q.service_level_seconds,
                            "service_level_target": q.service_level_target, "answered": k.answered if k else 0,
                            "abandoned": k.abandoned if k else 0, "service_level": k.service_level_pct if k else None,
                            **{f.name: getattr(q, f.name) for f in ALERT_FIELDS}}
    return {"queues": queues, "agents": {e.number: e.name for e in Extension.select(Extension.number, Extension.name)}}


def agent_state(member: dict, now: float) -> dict:
    """A queue member as the wallboard shows it: state, pause reason and for how long."""
    state = DEVICE_STATES.get(member.get("Status", "0"), "unknown")
    since = 0
    reason = ""
    if member.get("Paused") == "1":
        state, reason = "paused", member.get("PausedReason", "")
        since = int(now) - int(member.get("LastPause") or now)
    elif state == "available" and member.get("LastCall", "0") not in ("", "0"):
        wrapup = int(member.get("Wrapuptime") or 0)
        if wrapup and now - int(member["LastCall"]) < wrapup:
            state = "wrap-up"
        since = int(now) - int(member["LastCall"])
    return {"agent": member.get("Name") or member.get("Location", ""), "state": state, "reason": reason,
            "seconds": max(since, 0), "calls": int(member.get("CallsTaken") or 0)}


def build_snapshot(events: list[dict], now: float | None = None, figures: dict | None = None) -> dict:
    """The board's picture: Asterisk's ``QueueStatus`` events for the live part, ``figures``
    (``queue_figures``) for names, today's figures, each queue's service-level target, below which the
    queue is shown in the alert colour, and its SLA alert thresholds (``appliance.callcenter.alerts``)."""
    now = now or time.time()
    known, names = (figures or {}).get("queues", {}), (figures or {}).get("agents", {})
    queues: dict[str, dict] = {}
    for e in events:
        name = e.get("Queue", "")
        if e.get("Event") == "QueueParams":
            q = known.get(name, {})
            level, target = q.get("service_level"), q.get("service_level_target", 80)
            queues[name] = {"queue": name, "name": q.get("name") or name, "waiting": int(e.get("Calls") or 0),
                            "longest_wait": 0, "answered": q.get("answered", 0), "abandoned": q.get("abandoned", 0),
                            "service_level": level,
                            "service_level_seconds": q.get("service_level_seconds", int(e.get("ServiceLevel") or 0)),
                            "service_level_target": target,
                            "service_level_alert": level is not None and level < target,
                            **{f.name: q.get(f.name, 0) for f in ALERT_FIELDS},
                            "callers": [], "agents": []}
        elif e.get("Event") == "QueueEntry" and name in queues:
            wait = int(e.get("Wait") or 0)
            queues[name]["callers"].append({"position": int(e.get("Position") or 0),
                                            "caller": e.get("CallerIDNum", ""), "wait": wait})
            queues[name]["longest_wait"] = max(queues[name]["longest_wait"], wait)
        elif e.get("Event") == "QueueMember" and name in queues:
            agent = agent_state(e, now)
            queues[name]["agents"].append({**agent, "name": names.get(agent["agent"], "")})
    for q in queues.values():
        q["agents"].sort(key=lambda a: a["agent"])
    return {"time": int(now), "queues": [queues[k] for k in sorted(queues)]}


def parse_event_list(lines: list[str]) -> list[dict]:
    """Raw AMI lines holding several messages (blank-line separated) as one dict per message."""
    events: list[dict] = []
    current: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if line.strip() == "":
            if current:
                events.append(current)
            current = {}
        elif sep:
            current[key.strip()] = value.strip()
    if current:
        events.append(current)
    return events


class LiveBoard:
    def __init__(self, connect: Callable[[], Ami], refresh_seconds: float = 5.0,
                 figures: Callable[[], dict] | None = None):
        self.connect = connect
        self.refresh_seconds = refresh_seconds
        self.figures = figures or self._stored_figures
        self._figures: dict = {}
        self._subscribers: set[queue_mod.Queue] = set()
        self._agents: dict[queue_mod.Queue, str] = {}  # screen-pop streams and the extension each follows
        self._pops = PopTracker()
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.snapshot: dict = {"time": 0, "queues": [], "error": "starting", "alerts": []}
        self._last_watched = time.monotonic()
        self._breaches: dict[tuple[str, str], alerts.Breach] | None = None  # open SLA breaches, once read
        self._next_check: float | None = None  # seconds until a waiting caller crosses a wait threshold

    def start(self) -> None:
        """Start the AMI follower unless it runs; it ends by itself once nobody has watched for a while."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="linebox-wallboard", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()

    def subscribe(self) -> queue_mod.Queue:
        q: queue_mod.Queue = queue_mod.Queue(maxsize=10)
        with self._lock:
            self._subscribers.add(q)
        q.put(self.snapshot)
        return q

    def unsubscribe(self, q: queue_mod.Queue) -> None:
        with self._lock:
            self._subscribers.discard(q)
            self._agents.pop(q, None)

    def subscribe_agent(self, extension: str) -> queue_mod.Queue:
        """A stream of screen pops for the agent on ``extension``, starting with the board's snapshot."""
        q: queue_mod.Queue = queue_mod.Queue(maxsize=20)
        with self._lock:
            self._agents[q] = extension
        q.put({"type": "state", **self.snapshot})
        return q

    def _publish(self, snapshot: dict) -> None:
        if json.dumps(snapshot, sort_keys=True) == json.dumps(self.snapshot, sort_keys=True):
            return
        self.snapshot = snapshot
        with self._lock:
            for q in list(self._subscribers):
                with contextlib.suppress(queue_mod.Full):  # a stalled browser misses an update, nothing piles up
                    q.put_nowait(snapshot)
            for q in list(self._agents):
                with contextlib.suppress(queue_mod.Full):
                    q.put_nowait({"type": "state", **snapshot})

    def _on_event(self, event, _manager) -> None:
        name = event.headers.get("Event")
        if name in TRIGGERS:
            self._dirty.set()
        pop = screen_pop(event.headers) if name in POP_EVENTS else None
        if pop is not None:
            pop = self._pops.complete(pop)
            with self._lock:
                for q, extension in list(self._agents.items()):
                    if pop["agent"] == extension or pop["interface"] == f"PJSIP/{extension}":
                        with contextlib.suppress(queue_mod.Full):
                            q.put_nowait(pop)

    @staticmethod
    def _stored_figures() -> dict:
        """``queue_figures`` on a connection of the board's own thread, closed again at once."""
        with database.connection_context():
            return queue_figures()

    def _refresh(self, ami: Ami) -> None:
        # pyst2 gathers the whole "status will follow" event list into the action's response.
        response = ami.action("QueueStatus", ActionID=f"wallboard-{next(_ids)}")
        try:
            self._figures = self.figures()
        except (peewee.DatabaseError, IndexError) as error:
            # a busy database (or, in tests, one closed under the board's feet: peewee's connection context
            # then fails with IndexError): keep the last figures, the live part still moves
            log.warning("wallboard: today's figures not read: %s", error)
        now = time.time()
        snapshot = build_snapshot(parse_event_list(response.response), now=now, figures=self._figures)
        self._publish(self._check_alerts(snapshot, now))

    def _check_alerts(self, snapshot: dict, now: float) -> dict:
        """Open and clear SLA breaches for ``snapshot``: stored, sent to the wallboards' streams ahead of the
        snapshot, handed to ``alerts.emit``; the snapshot gets the open ones."""
        if self._breaches is None:
            self._breaches = self._stored(alerts.open_breaches) or {}
        self._breaches, events = alerts.evaluate(self._breaches, snapshot, now)
        self._next_check = alerts.next_check(snapshot, self._breaches)
        if events:
            self._stored(lambda: alerts.store(events))
            with self._lock:
                for q in list(self._subscribers):
                    for e in events:
                        with contextlib.suppress(queue_mod.Full):
                            q.put_nowait(e)
            for e in events:
                alerts.emit(e)
        return {**snapshot, "alerts": alerts.shown(self._breaches)}

    def _stored(self, work: Callable) -> Any:
        """``work`` on a database connection of the board's own thread; None if the database failed (the
        breaches still show and are sent, only their record is missing)."""
        try:
            with database.connection_context():
                return work()
        except (peewee.PeeweeException, IndexError) as error:
            log.warning("wallboard: SLA breaches not stored: %s", error)
            return None

    def _idle(self) -> bool:
        with self._lock:
            if self._subscribers or self._agents or alerts.has_listeners():  # a listener needs the alerts
                self._last_watched = time.monotonic()
                return False
            return time.monotonic() - self._last_watched > IDLE_SECONDS

    def _run(self) -> None:
        self._last_watched = time.monotonic()
        while not self._stop.is_set() and not self._idle():
            try:
                with self.connect() as ami:
                    ami.on_event("*", self._on_event)
                    wait = self.refresh_seconds
                    while not self._stop.is_set() and not self._idle():
                        self._refresh(ami)
                        if self._next_check is not None:
                            wait = min(wait, self._next_check)
                        triggered = self._dirty.wait(wait)
                        self._dirty.clear()
                        wait = min(FOLLOW_UP_SECONDS, self.refresh_seconds) if triggered else self.refresh_seconds
            except AmiError as error:
                self._publish({"time": int(time.time()), "queues": [], "error": str(error),
                               "alerts": alerts.shown(self._breaches or {})})
                self._stop.wait(3)
