"""Pause an agent who lets N queue calls in a row ring out (N per queue; Asterisk's own
``autopause`` pauses after a single miss, which supervisors find too eager).

The verdict comes from the collected queue_log: an agent's latest N events among RINGNOANSWER,
CONNECT, PAUSE, UNPAUSE and ADDMEMBER in that queue are all RINGNOANSWER.  The pause is made over
AMI with the reason "missed N calls", so it shows on the wallboard, lands in queue_log as a PAUSE
(which ends the streak: the check never pauses the same agent twice for the same misses) and is
reported like any other pause.
"""

from __future__ import annotations

from appliance.asterisk.ami import Ami
from appliance.callcenter.agents import interface
from appliance.model.models import Queue, QueueEvent

STREAK_EVENTS = ("RINGNOANSWER", "CONNECT", "PAUSE", "UNPAUSE", "ADDMEMBER", "PAUSEALL", "UNPAUSEALL")


def agents_to_pause() -> list[tuple[str, str, int]]:
    """(queue, agent, N) for every agent whose last N relevant events in a queue are misses."""
    found = []
    for queue in Queue.select().where(Queue.autopause_after_missed > 0):
        limit = queue.autopause_after_missed
        agents = {m["extension"] for m in queue.members} | {
            e.agent for e in QueueEvent.select(QueueEvent.agent).where(
                (QueueEvent.queue == queue.number) & (QueueEvent.event == "RINGNOANSWER")).distinct()}
        for agent in sorted(agents):
            latest = (QueueEvent.select(QueueEvent.event)
                      .where((QueueEvent.queue.in_((queue.number, "NONE"))) & (QueueEvent.agent == agent)
                             & (QueueEvent.event.in_(STREAK_EVENTS)))
                      .order_by(QueueEvent.time.desc(), QueueEvent.id.desc()).limit(limit))
            events = [e.event for e in latest]
            if len(events) == limit and all(event == "RINGNOANSWER" for event in events):
                found.append((queue.number, agent, limit))
    return found


def pause_missing_agents(ami: Ami) -> list[tuple[str, str, int]]:
    paused = agents_to_pause()
    for queue, agent, limit in paused:
        ami.action("QueuePause", Interface=interface(agent), Queue=queue, Paused="true",
                   Reason=f"missed {limit} calls")
    return paused
