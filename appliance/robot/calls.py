"""The calls the robot handled, and how the dialplan learns where a call goes next.

The dialplan makes the AudioSocket UUID itself: its first 8 hex digits are the robot's key (``robot_key``:
a hash of its name, so the service knows which robot was dialled without another round trip), the rest
comes from a hash of the channel's unique id.  The service writes a ``RobotCall`` row under that UUID;
once AudioSocket returns, the FastAGI script ``robot`` reads ``next`` from it, and the dialplan goes to
that extension of ``[robot-NAME]``.  No row, or no answer from the FastAGI service: the robot's fallback.
"""

from __future__ import annotations

import hashlib
import re
import time

from appliance.model.database import database
from appliance.model.models import RobotCall

# said when an utterance was not understood (spoken like the answers, in the robot's language; the apply
# speaks it beforehand, so it lives here, free of the speech stack's imports)
NOT_UNDERSTOOD = {"en": "Sorry, I did not understand. Please ask again, or say agent.",
                  "zh": "对不起，我没有听懂。请再说一遍，或者说人工。"}
# the extensions of [robot-NAME] a call may be sent to (nothing else reaches the dialplan)
NEXT_RE = re.compile(r"^(handover|fallback|hangup|then-[0-9]{1,3})$")


def robot_key(name: str) -> str:
    """The first group of the UUIDs of a robot's calls: 8 hex digits from its name."""
    return hashlib.sha1(name.encode()).hexdigest()[:8]


def robot_of(call_uuid: str, names: list[str]) -> str | None:
    """The robot whose key starts ``call_uuid``, among ``names``."""
    key = call_uuid[:8].lower()
    return next((name for name in names if robot_key(name) == key), None)


def begin(call_uuid: str, robot: str) -> None:
    with database.connection_context():
        RobotCall.insert(uuid=call_uuid, robot=robot, started=time.time()).on_conflict_replace().execute()


def finish(call_uuid: str, transcript: list[str], entry: int, outcome: str, next_step: str) -> None:
    if not NEXT_RE.match(next_step):
        raise ValueError(f"not a robot exit: {next_step!r}")
    with database.connection_context():
        RobotCall.update(ended=time.time(), transcript=" | ".join(transcript), entry=entry, outcome=outcome,
                         next=next_step).where(RobotCall.uuid == call_uuid).execute()


def result(call_uuid: str, uniqueid: str = "") -> RobotCall | None:
    """The robot's row of the call, marked with the caller's channel ``uniqueid`` (for the agent's pop)."""
    with database.connection_context():
        row = RobotCall.get_or_none(RobotCall.uuid == call_uuid)
        if row is not None and uniqueid and not row.uniqueid:
            RobotCall.update(uniqueid=uniqueid[:64]).where(RobotCall.id == row.id).execute()
        return row


def purge_before(epoch: float) -> int:
    """Delete the rows (transcripts) of calls that started before ``epoch``; return how many.  Run with the
    recordings' retention (``appliance.callcenter.recordings.purge``): what callers said is kept no longer
    than their recorded voices."""
    with database.connection_context():
        return RobotCall.delete().where(RobotCall.started < epoch).execute()


def heard_on(uniqueid: str) -> RobotCall | None:
    """The robot's last row for the caller's channel ``uniqueid`` (None: no robot on this call)."""
    if not uniqueid:
        return None
    with database.connection_context():
        return (RobotCall.select().where(RobotCall.uniqueid == uniqueid).order_by(RobotCall.started.desc())
                .first())
