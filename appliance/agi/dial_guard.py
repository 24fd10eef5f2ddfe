"""The ``dial-guard`` and ``dial-guard-end`` FastAGI scripts: the dial guard asked before each outbound Dial.

``[sub-dial-guard]`` in extensions.conf runs ``dial-guard`` with the number the route sends and the route's
trunks; the decision is ``appliance.billing.guard.check``.  The script sets ``LB_GUARD`` (allow/refuse),
``LB_GUARD_REASON``, ``LB_LIMIT_MS`` (the call's absolute limit, 0: none) and ``LB_NUMBER_CLASS``, and puts
an allowed call in the groups Asterisk counts calls at once by (``GROUP_COUNT``): per extension
(``linebox-out-ext``) and for the site (``linebox-out``).  Counting is Asterisk's own, so a restart of either
side leaves no stale count.

For a route with least-cost routing the dialplan passes a third argument, ``lcr``: an allowed call then also
gets ``LB_TRUNK_ORDER``, the route's trunks as their 1-based positions in the order to try them
(``2&1``, ``appliance.billing.lcr``).  Without it (the order could not be worked out) the dialplan tries the
configured order.

``dial-guard-end`` runs from the allowed call's hangup handler with the seconds it was answered
(``ANSWEREDTIME``): they count until the collector stores the call's record.

Any trouble (database unreadable, a bug) leaves ``LB_GUARD`` empty: the dialplan then lets emergency
numbers out and refuses the rest (fail closed).  Each decision is logged with journal fields
(``LINEBOX_EVENT=dial-guard``, ``LINEBOX_RESULT=allow|refuse``, ``LINEBOX_REASON``, ``LINEBOX_EXTENSION``,
``LINEBOX_NUMBER``, ``LINEBOX_LIMIT_SECONDS``, ``LINEBOX_UNIQUEID``).
"""

from __future__ import annotations

import logging
import re

from appliance.agi.protocol import AgiConnection
from appliance.model.database import database

log = logging.getLogger("linebox.agi.dial-guard")

NAME = "dial-guard"
END_NAME = "dial-guard-end"
_EXTENSION = re.compile(r"^[0-9]{1,8}$")


def _count(agi: AgiConnection, extension: str) -> int:
    """Outbound calls in progress of ``extension`` ("" for the whole site), as Asterisk counts them."""
    expression = (f"${{GROUP_COUNT({extension}@linebox-out-ext)}}" if extension
                  else "${GROUP_COUNT(site@linebox-out)}")
    reply = agi.command(f"GET FULL VARIABLE {expression}")
    return int(reply.data) if reply.data.isdigit() else 0


def _trunk_order(number: str, number_class: str, trunks: list[str]) -> str:
    """The route's trunks as positions in the order least-cost routing tries them ("2&1"); "" when it cannot
    be worked out (the configured order is then kept: a rate table must never stop a call)."""
    import datetime

    from appliance.billing import lcr
    from appliance.site import localtime

    try:
        with database.connection_context():
            today = datetime.datetime.now(localtime.site_zone()).date()
            chosen = lcr.trunk_order(number, number_class, trunks, today)
    except Exception:  # noqa: BLE001 - any trouble keeps the configured order, logged
        log.exception("least-cost order for %s: configured order kept", number)
        return ""
    log.info("least-cost order for %s: %s", number, ", ".join(f"{c.trunk} ({c.price or 'no rate'})" for c in chosen),
             extra={"LINEBOX_EVENT": "least-cost", "LINEBOX_NUMBER": number,
                    "LINEBOX_TRUNKS": ",".join(c.trunk for c in chosen)})
    return "&".join(str(trunks.index(c.trunk) + 1) for c in chosen)


def run(agi: AgiConnection) -> str:
    # Imported at the first outbound call, not with the service: the classifier and the rate tables load the
    # site's schemas (pydantic), which a box that never dials out need not hold (tests/agi/test_footprint.py).
    from appliance.billing import guard

    number = agi.env.get("agi_arg_1", "").strip()
    trunks = [t for t in agi.env.get("agi_arg_2", "").split("&") if t]
    uniqueid = agi.env.get("agi_uniqueid", "")
    with database.connection_context():
        result = guard.check(agi.env.get("agi_channel", ""), number, trunks, uniqueid,
                             lambda extension: _count(agi, extension if _EXTENSION.match(extension) else ""))
    decision = result.decision
    outcome = "allow" if decision.allow else "refuse"
    agi.set_variable("LB_NUMBER_CLASS", result.number_class.value)
    agi.set_variable("LB_GUARD_REASON", decision.reason)
    agi.set_variable("LB_LIMIT_MS", str(decision.limit_seconds * 1000))
    if decision.allow and agi.env.get("agi_arg_3", "") == "lcr":
        order = _trunk_order(number, result.number_class.value, trunks)
        if order:
            agi.set_variable("LB_TRUNK_ORDER", order)
    if decision.allow:
        if _EXTENSION.match(result.extension):
            agi.set_variable("GROUP(linebox-out-ext)", result.extension)
        agi.set_variable("GROUP(linebox-out)", "site")
    agi.set_variable("LB_GUARD", outcome)  # last: the dialplan trusts the answer only once it is whole
    log.info("dial guard: %s %s to %s (%s)%s", outcome, result.extension or agi.env.get("agi_channel", ""),
             number, decision.reason or result.number_class.value,
             f", limit {decision.limit_seconds} s" if decision.limit_seconds else "",
             extra={"LINEBOX_EVENT": "dial-guard", "LINEBOX_RESULT": outcome, "LINEBOX_REASON": decision.reason,
                    "LINEBOX_EXTENSION": result.extension, "LINEBOX_NUMBER": number,
                    "LINEBOX_LIMIT_SECONDS": str(decision.limit_seconds), "LINEBOX_UNIQUEID": uniqueid})
    return outcome


def run_end(agi: AgiConnection) -> str:
    from appliance.billing import guard

    with database.connection_context():
        answered = agi.env.get("agi_arg_1", "").strip()
        found = guard.call_ended(agi.env.get("agi_uniqueid", ""), int(answered) if answered.isdigit() else 0)
    return "ended" if found else "not-tracked"
