"""Supervisor listen, whisper and barge on an agent's live call, from the wallboard.

The supervisor's own phone rings first: an AMI ``Originate`` (as ``linebox-supervise``, whose only class is
``originate``) calls the supervisor's extension and, once answered, runs the generated ``linebox-supervise``
context, where Asterisk's ChanSpy attaches to the agent's channel:

* listen: the supervisor hears both parties, neither hears the supervisor;
* whisper: the agent hears the supervisor, the caller does not (coaching);
* barge: both parties hear the supervisor.

Nothing the supervisor types reaches the dialplan: the mode picks one of three fixed extensions, and the
agent's device (``PJSIP/<number>``, ``DAHDI/<channel>``) comes from the site's data for an extension that
exists.  The site setting ``supervisor_monitoring`` can forbid it (refused here at once, and the context is
left out of the dialplan at the next apply).  Every use is in the audit log: who, on which agent, which mode,
from which phone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from appliance.asterisk.ami import Ami, AmiError
from appliance.callcenter.agents import interface
from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.model import audit
from appliance.model.models import Extension
from appliance.site import stored

MODES = ("listen", "whisper", "barge")
CONTEXT = "linebox-supervise"
DEVICE_RE = re.compile(r"^(PJSIP/[0-9]{1,15}|DAHDI/[0-9]{1,4})$")  # what the dialplan's ChanSpy prefix may be
RING_SECONDS = 30


def allowed() -> bool:
    """Whether the site lets supervisors listen, whisper and barge (the ``supervisor_monitoring`` setting)."""
    return stored.load_settings().supervisor_monitoring == "allowed"


def on_call(snapshot: dict, agent: str) -> bool:
    """Whether the wallboard's snapshot (``appliance.callcenter.live``) shows ``agent`` on a call in any queue."""
    return any(a.get("agent") == agent and a.get("state") == "on call"
               for q in snapshot.get("queues", ()) for a in q.get("agents", ()))


def _extension(field: str, number: str) -> str:
    number = number.strip()
    if not number.isdigit() or Extension.get_or_none(Extension.number == number) is None:
        raise SiteError([Problem(field, Message(N_("no extension %(number)s"), number=number[:20]))])
    return number


def start(connect: Callable[[], Ami], user: str, supervisor_extension: str, agent: str, mode: str,
          agent_on_call: bool | None = None) -> None:
    """Ring ``supervisor_extension`` and, once it answers, spy on ``agent``'s live call in ``mode``; ``connect``
    opens the AMI session (as ``linebox-supervise``), only once the request is found good.

    Refused, with the field at fault, when the site forbids it, the mode is unknown, either extension does
    not exist, they are the same, or the agent is not on a call (``agent_on_call``: the wallboard's view; None
    when it has none yet: ChanSpy then ends at once if there is no call)."""
    if not allowed():
        raise SiteError([Problem("mode", N_("this site does not allow supervisors to listen to calls "
                                            "(setting supervisor_monitoring)"))])
    if mode not in MODES:
        raise SiteError([Problem("mode", Message(N_("choose listen, whisper or barge, not %(mode)s"),
                                                 mode=mode[:20]))])
    agent = _extension("agent", agent)
    supervisor = _extension("extension", supervisor_extension)
    if supervisor == agent:
        raise SiteError([Problem("extension", N_("your phone cannot be the agent's"))])
    if agent_on_call is False:
        raise SiteError([Problem("agent", Message(N_("agent %(agent)s is not on a call"), agent=agent))])
    target, phone = interface(agent), interface(supervisor)
    if not DEVICE_RE.match(target) or not DEVICE_RE.match(phone):  # the site's own data, checked all the same
        raise SiteError([Problem("agent", Message(N_("agent %(agent)s has no device to listen to"), agent=agent))])
    try:
        with connect() as ami:
            ami.action("Originate", Channel=phone, Context=CONTEXT, Exten=mode, Priority="1", Async="true",
                       Timeout=str(RING_SECONDS * 1000), CallerID=f'"{mode} {agent}" <{agent}>',
                       Variable=f"LB_SPY={target}")
    except AmiError as error:
        raise SiteError([Problem("extension", Message(N_("Asterisk refused: %(error)s"), error=str(error)))]) from None
    audit.record(user, mode, "agent", agent, None, {"mode": mode, "supervisor_extension": supervisor})
