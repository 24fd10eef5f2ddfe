"""The ``caller-name`` FastAGI script: name an inbound caller from the phonebook.

Asterisk runs it from the inbound routes (``[sub-caller-name]`` in extensions.conf) only when the
carrier sent no name, or the number again as the name.  It looks ``agi_callerid`` up in the phonebook
(``appliance.phonebook.lookup``, with the site's country code) and, on a match, sets
``CALLERID(name)`` to ``Name (Company)`` and ``LINEBOX_CONTACT_ID`` to the contact's id; the phones then
show the name, and the agent's screen pop and the call records carry it.

No match, lookup switched off, or any trouble (database locked or unreadable, a lookup slower than
``LOOKUP_SECONDS``) leaves the call exactly as it was: the lookup runs in a worker thread and the call
waits for it at most ``LOOKUP_SECONDS``.  Each request is logged with structured journal fields
(``LINEBOX_EVENT=caller-name``, ``LINEBOX_RESULT=match|no-match|timeout|error|off|no-number``,
``LINEBOX_CALLER``, ``LINEBOX_CONTACT_ID``, ``LINEBOX_UNIQUEID``, ``LINEBOX_MILLISECONDS``).
"""

from __future__ import annotations

import concurrent.futures
import logging
import time

from appliance.agi.protocol import AgiConnection
from appliance.model.database import database
from appliance.phonebook.lookup import display_name, lookup
from appliance.site import stored

log = logging.getLogger("linebox.agi.caller-name")

NAME = "caller-name"
LOOKUP_SECONDS = 1.0
_workers = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="phonebook")


def find(number: str) -> tuple[bool, dict | None]:
    """(lookup on, the contact or None), read from the database in the calling thread."""
    with database.connection_context():
        if not stored.flag("caller_name_lookup"):
            return False, None
        return True, lookup(number, stored.setting("country_code"))


def lookup_within(number: str, seconds: float = LOOKUP_SECONDS) -> tuple[str, dict | None]:
    """(result, contact): the lookup bounded by ``seconds``; never raises."""
    future = _workers.submit(find, number)
    try:
        enabled, contact = future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        return "timeout", None
    except Exception as error:  # the database is not there, locked, unreadable: the call goes on unnamed
        log.warning("phonebook lookup failed: %s", error, extra={"LINEBOX_EVENT": "caller-name-error"})
        return "error", None
    if not enabled:
        return "off", None
    return ("match" if contact else "no-match"), contact


def run(agi: AgiConnection) -> str:
    started = time.monotonic()
    number = agi.env.get("agi_callerid", "").strip()
    if not number or number == "unknown":
        result, contact = "no-number", None
    else:
        result, contact = lookup_within(number)
    if contact is not None:
        agi.set_variable("CALLERID(name)", display_name(contact))
        agi.set_variable("LINEBOX_CONTACT_ID", str(contact["id"]))
    milliseconds = round((time.monotonic() - started) * 1000)
    log.info("caller %s: %s%s (%d ms)", number or "(none)", result,
             f" -> {display_name(contact)} (contact {contact['id']})" if contact else "", milliseconds,
             extra={"LINEBOX_EVENT": "caller-name", "LINEBOX_RESULT": result, "LINEBOX_CALLER": number,
                    "LINEBOX_CONTACT_ID": str(contact["id"]) if contact else "",
                    "LINEBOX_UNIQUEID": agi.env.get("agi_uniqueid", ""),
                    "LINEBOX_CHANNEL": agi.env.get("agi_channel", ""), "LINEBOX_MILLISECONDS": str(milliseconds)})
    return result
