"""The post-call satisfaction survey: what callers pressed, per queue and agent.

A queue with ``survey`` on keeps its caller in the dialplan when the agent hangs up (Queue's ``c`` option);
the caller hears ``linebox/survey-rate`` and presses 1 to 5, and the dialplan writes the digit into queue_log
itself (``QueueLog``: a ``SURVEY`` line with the caller's uniqueid, the queue and the member who answered,
the digit as its data).  The collector stores that line as it stores every other (``QueueEvent``), so the
rating needs no service of its own to be kept, and a rating belongs to the agent Asterisk connected.

Reported (docs/reports.md) by the time the caller entered the queue, like the other call figures: ratings,
average, and how many of each digit, per queue and agent, and per queue over all its agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import Case, fn

from appliance.model.models import QueueCall, QueueEvent

EVENT = "SURVEY"  # the queue_log event the dialplan writes (extensions.conf.j2, sub-queue-survey)
DIGITS = ("1", "2", "3", "4", "5")


@dataclass(frozen=True)
class SurveyScore:
    queue: str
    agent: str  # "" : the queue's total over all its agents
    ratings: int
    average: float | None
    ones: int
    twos: int
    threes: int
    fours: int
    fives: int


def survey_report(start: datetime, end: datetime, queue: str | None = None) -> list[SurveyScore]:
    """Ratings of calls that entered between ``start`` and ``end``: one row per queue and agent, each queue's
    rows followed by its total (agent "")."""
    lo, hi = int(start.timestamp()), int(end.timestamp())
    e, c = QueueEvent, QueueCall
    counts = [fn.SUM(Case(e.data, [(digit, 1)], 0)) for digit in DIGITS]
    query = (e.select(e.queue, e.agent, *counts)
             .join(c, on=((c.callid == e.callid) & (c.queue == e.queue)))
             .where((e.event == EVENT) & e.data.in_(DIGITS) & (c.entered >= lo) & (c.entered < hi))
             .group_by(e.queue, e.agent).order_by(e.queue, e.agent))
    if queue:
        query = query.where(e.queue == queue)
    out: list[SurveyScore] = []
    totals: dict[str, list[int]] = {}
    for queue_number, agent, *per_digit in query.tuples():
        out.append(_score(queue_number, agent, [int(n or 0) for n in per_digit]))
        total = totals.setdefault(queue_number, [0] * len(DIGITS))
        for i, n in enumerate(per_digit):
            total[i] += int(n or 0)
    rows: list[SurveyScore] = []
    for queue_number in sorted(totals):
        rows.extend(r for r in out if r.queue == queue_number)
        rows.append(_score(queue_number, "", totals[queue_number]))
    return rows


def _score(queue: str, agent: str, per_digit: list[int]) -> SurveyScore:
    ratings = sum(per_digit)
    points = sum(n * (i + 1) for i, n in enumerate(per_digit))
    return SurveyScore(queue, agent, ratings, round(points / ratings, 2) if ratings else None, *per_digit)
