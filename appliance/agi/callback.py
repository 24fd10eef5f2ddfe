"""The ``callback-number`` FastAGI script: the number a queue callback dials to reach the caller.

A caller waiting in a queue that offers callbacks presses 1 (``[queue-exit-N]`` in extensions.conf).  The
caller's number arrives in whatever form the carrier sent (``+8613912345678``, ``013912345678``); the
callback must dial it through the site's outbound routes, so the script tries the number's dialable forms
(``appliance.phonebook.numbers.dialable_forms``, the most local first) and sets ``LB_CB_DIAL`` to the first
one an outbound route takes, asking Asterisk itself (``DIALPLAN_EXISTS`` in ``from-internal-other``, where
the office's phones dial outside numbers).  None taken (a withheld number, a country no route serves), or
any trouble: ``LB_CB_DIAL`` stays empty and the dialplan puts the caller back in their place in the queue.
"""

from __future__ import annotations

import logging
import re

from appliance.agi.protocol import AgiConnection
from appliance.model.database import database
from appliance.phonebook.numbers import dialable_forms, normalize
from appliance.site import stored

log = logging.getLogger("linebox.agi.callback")

NAME = "callback-number"
_DIALABLE = re.compile(r"^\+?[0-9]{3,20}$")  # only such text goes into the expression Asterisk evaluates


def run(agi: AgiConnection) -> str:
    caller = agi.env.get("agi_arg_1", "").strip()
    uniqueid = agi.env.get("agi_uniqueid", "")
    try:
        number = normalize(caller)
    except ValueError:
        number = ""
    if number:
        with database.connection_context():
            country_code = stored.setting("country_code")
        for form in dialable_forms(number, country_code):
            if not _DIALABLE.match(form):
                continue
            reply = agi.command(f"GET FULL VARIABLE ${{DIALPLAN_EXISTS(from-internal-other,{form},1)}}")
            if reply.data == "1":
                agi.set_variable("LB_CB_DIAL", form)
                log.info("callback for %s will dial %s", caller, form,
                         extra={"LINEBOX_EVENT": "callback-number", "LINEBOX_RESULT": "found",
                                "LINEBOX_NUMBER": form, "LINEBOX_UNIQUEID": uniqueid})
                return "found"
    log.info("callback for %r: no outbound route takes the number", caller,
             extra={"LINEBOX_EVENT": "callback-number", "LINEBOX_RESULT": "no-route", "LINEBOX_UNIQUEID": uniqueid})
    return "no-route"
