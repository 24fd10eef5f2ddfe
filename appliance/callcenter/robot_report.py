"""The voice robots' report: calls the robot handled, contained (answered, no agent needed), handed over.

Read from what linebox-robot.service records per call (``RobotCall``: the entry answered last, the outcome,
the exit the call took), so the report is as old as the transcripts it is made from: the recordings'
retention purges both.  A call counts on the day (site time zone) it reached the robot.

* **handled**: calls the robot service talked to (a call that found the service down went to the robot's
  fallback and has no row: it is in the call records, not here);
* **contained**: the robot answered a question and the call ended or went on where the entry says
  (``then``), with no handover to a person;
* **handed over**: the caller asked for a person (said so, pressed 0), was not understood twice, or stayed
  silent; counted under the entry answered before, if any;
* **hung up**: the caller left before any answer (or the call is still talking to the robot).

One row per robot and entry answered (entry 0: none), then the robot's total (entry ``None``), whose
containment is contained ÷ handled.  Viewing the calls' transcripts is :func:`transcripts`, audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.model import audit
from appliance.model.database import database
from appliance.model.models import RobotCall
from appliance.site import localtime, queries, schemas


@dataclass
class RobotRow:
    robot: str
    entry: int | None  # 1-based entry number; 0 none answered; None the robot's total
    question: str  # the entry's first phrasing as configured now ("" when gone or for a total)
    handled: int
    contained: int
    sent_on: int  # of the contained, those that went on to the entry's ``then`` destination
    handed_over: int
    hung_up: int
    containment_pct: float | None


def classify(outcome: str, next_step: str) -> str:
    """``contained``, ``handed_over`` or ``hung_up`` for a call's recorded outcome and exit."""
    if next_step == "handover" or outcome == "handover":
        return "handed_over"
    if outcome == "answered":
        return "contained"
    return "hung_up"


def _questions(robot: str) -> list[str]:
    obj = queries.get_object("robot", robot)
    if not isinstance(obj, schemas.Robot):
        return []
    return [entry.questions.split(";")[0].strip() for entry in obj.entries]


def robot_report(start: datetime, end: datetime, robot: str | None = None) -> list[RobotRow]:
    """The report for calls that reached a robot between ``start`` and ``end``."""
    c = RobotCall
    query = (c.select(c.robot, c.entry, c.outcome, c.next)
             .where((c.started >= start.timestamp()) & (c.started < end.timestamp())))
    if robot:
        query = query.where(c.robot == robot)
    counts: dict[tuple[str, int], dict[str, int]] = {}
    with database.connection_context():
        for name, entry, outcome, next_step in query.tuples():
            row = counts.setdefault((name, max(entry, -1) + 1), {"contained": 0, "sent_on": 0, "handed_over": 0,
                                                                 "hung_up": 0})
            kind = classify(outcome, next_step or "")
            row[kind] += 1
            if kind == "contained" and (next_step or "").startswith("then-"):
                row["sent_on"] += 1
        rows: list[RobotRow] = []
        for name in sorted({name for name, _ in counts}):
            questions = _questions(name)
            total = {"contained": 0, "sent_on": 0, "handed_over": 0, "hung_up": 0}
            for (_, entry), n in sorted((k, v) for k, v in counts.items() if k[0] == name):
                question = questions[entry - 1] if 0 < entry <= len(questions) else ""
                rows.append(_row(name, entry, question, n))
                for key in total:
                    total[key] += n[key]
            rows.append(_row(name, None, "", total))
    return rows


def _row(robot: str, entry: int | None, question: str, n: dict[str, int]) -> RobotRow:
    handled = n["contained"] + n["handed_over"] + n["hung_up"]
    pct = round(100 * n["contained"] / handled, 1) if handled else None
    return RobotRow(robot, entry, question, handled, n["contained"], n["sent_on"], n["handed_over"], n["hung_up"],
                    pct)


TRANSCRIPT_LIMIT = 500  # calls shown at most, newest first


@dataclass
class RobotTranscript:
    started: str  # local time of the site
    robot: str
    heard: str
    entry: int  # 1-based, 0 none
    result: str  # contained | handed_over | hung_up


def transcripts(start: datetime, end: datetime, user: str, robot: str | None = None,
                limit: int = TRANSCRIPT_LIMIT
                ) -> list[RobotTranscript]:
    """What callers said to the robots in the period, newest first; each look is in the audit log (kind
    ``robot_transcript``), as a recording's listen is: what callers say is theirs."""
    c = RobotCall
    zone = localtime.site_zone()
    query = (c.select().where((c.started >= start.timestamp()) & (c.started < end.timestamp()))
             .order_by(c.started.desc()).limit(limit))
    if robot:
        query = query.where(c.robot == robot)
    with database.connection_context():
        rows = [RobotTranscript(datetime.fromtimestamp(r.started, zone).strftime("%Y-%m-%d %H:%M:%S"), r.robot,
                                r.transcript, max(r.entry, -1) + 1, classify(r.outcome, r.next or ""))
                for r in query]
        first = start.astimezone(zone).date()
        last = (end - timedelta(seconds=1)).astimezone(zone).date()
        audit.record(user, "view", "robot_transcript", f"{first}..{last}",
                     None, {"robot": robot or "", "calls": len(rows)})
    return rows
