"""The ``disposition`` FastAGI script: has the agent already saved the disposition of this call?

A queue that requires a disposition pauses the agent who answered when the call ends (the hangup handler
``[sub-disposition]`` in extensions.conf), unless the agent chose it during the call.  Asterisk asks here
with the caller channel's uniqueid (the call's id on the agent page and in ``CallNote``); the script sets
``LB_DISPOSITION`` to ``saved`` when a disposition is stored.  Any trouble (service down, database locked)
leaves it empty: the agent is paused and saving the disposition releases them, so the rule holds.
"""

from __future__ import annotations

import logging

from appliance.agi.protocol import AgiConnection
from appliance.model.database import database
from appliance.model.models import CallNote

log = logging.getLogger("linebox.agi.disposition")

NAME = "disposition"


def run(agi: AgiConnection) -> str:
    callid = agi.env.get("agi_uniqueid", "")
    with database.connection_context():
        found = CallNote.select().where((CallNote.callid == callid) & (CallNote.disposition != "")).exists()
    if found:
        agi.set_variable("LB_DISPOSITION", "saved")
    log.info("call %s: disposition %s", callid, "saved" if found else "not saved yet",
             extra={"LINEBOX_EVENT": "disposition", "LINEBOX_UNIQUEID": callid,
                    "LINEBOX_RESULT": "saved" if found else "missing"})
    return "saved" if found else "missing"
