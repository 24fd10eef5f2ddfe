"""The ``robot`` FastAGI script: where a call goes once the voice robot has let it go.

``[robot-NAME]`` runs it after ``AudioSocket()`` returns, with the call's AudioSocket UUID.  It reads the
row linebox-robot.service wrote (``appliance.robot.calls``) and sets ``LB_ROBOT_NEXT`` (an extension of
``[robot-NAME]``: handover, hangup, then-N), ``LB_ROBOT_HEARD`` (what the robot heard, for the agent's
screen pop) and ``LB_ROBOT_ENTRY``.  No row (the robot service was down or never saw the call):
``LB_ROBOT_NEXT`` stays empty and the dialplan takes the robot's fallback.
"""

from __future__ import annotations

import logging
import re

from appliance.agi.protocol import AgiConnection
from appliance.robot import calls

log = logging.getLogger("linebox.agi.robot")

NAME = "robot"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _heard(text: str) -> str:
    """What the robot heard, as safe text for a channel variable (letters, digits, spaces, | and ')."""
    return re.sub(r"[^A-Za-z0-9 '|\u4e00-\u9fff]", "", text)[:200]


def run(agi: AgiConnection) -> str:
    call_uuid = agi.env.get("agi_arg_1", "").strip().lower()
    row = calls.result(call_uuid, agi.env.get("agi_uniqueid", "")) if _UUID.match(call_uuid) else None
    if row is None or not calls.NEXT_RE.match(row.next or ""):
        log.info("robot call %r: no result; the fallback", call_uuid,
                 extra={"LINEBOX_EVENT": "robot-result", "LINEBOX_RESULT": "fallback"})
        return "fallback"
    agi.set_variable("LB_ROBOT_NEXT", row.next)
    agi.set_variable("LB_ROBOT_HEARD", _heard(row.transcript))
    agi.set_variable("LB_ROBOT_ENTRY", str(row.entry + 1 if row.entry >= 0 else 0))
    log.info("robot call %s: %s -> %s", call_uuid, row.outcome, row.next,
             extra={"LINEBOX_EVENT": "robot-result", "LINEBOX_RESULT": row.next})
    return row.next
