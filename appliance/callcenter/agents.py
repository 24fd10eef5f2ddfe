"""What an agent does from the console: say which phone is theirs, log in and out of queues, pause.

Everything goes to Asterisk over AMI (``QueueAdd``, ``QueueRemove``, ``QueuePause``), the same
mechanism the phone feature codes use through the dialplan, so the result is identical: the
member is named after the extension (queue_log, reports and the wallboard see the same agent
whichever way they logged in), pauses carry their reason into queue_log, and every action is
in the audit log.

A console user is tied to an extension by proving they hold it (the extension's voicemail
PIN), as a hot-desking agent does at a phone; the link is kept in the settings table, so the
agent's screen-pop stream knows which calls are theirs.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from appliance.asterisk.ami import Ami, AmiError
from appliance.callcenter.live import DEVICE_STATES, parse_event_list
from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.model import audit
from appliance.model.models import AnalogPort, Extension, Queue, Setting

REASON_RE = re.compile(r"^[A-Za-z0-9 _.,'/-]{0,40}$")  # goes into an AMI header and a queue_log field
REASONS = (N_("break"), N_("lunch"), N_("meeting"), N_("training"), N_("after-call work"))


@dataclass
class Membership:
    queue: str
    name: str
    member: bool
    dynamic: bool = False
    paused: bool = False
    reason: str = ""
    state: str = "logged out"
    calls: int = 0


def _key(username: str) -> str:
    return f"agent-extension:{username}"


def extension_of(username: str) -> str | None:
    row = Setting.get_or_none(Setting.key == _key(username))
    return row.value if row else None


def claim_extension(username: str, number: str, pin: str) -> str:
    """Tie the console user to extension ``number`` if ``pin`` is its voicemail PIN."""
    ext = Extension.get_or_none(Extension.number == number.strip())
    if ext is None or not pin or not hmac.compare_digest(ext.voicemail_pin.encode(), pin.strip().encode()):
        raise SiteError([Problem("extension", N_("unknown extension or wrong PIN"))])
    before = extension_of(username)
    Setting.replace(key=_key(username), value=ext.number).execute()
    audit.record(username, "claim", "agent", username, {"extension": before} if before else None,
                 {"extension": ext.number})
    return ext.number


def interface(extension: str) -> str:
    """The queue member interface of ``extension``: the FXS port it is bound to, else its SIP endpoint.

    The same device the dialplan's ``*45``/``*46`` codes and queues.conf use, so a login from the
    console and one from the phone name the same member.
    """
    port = AnalogPort.get_or_none((AnalogPort.extension == extension) & (AnalogPort.kind == "fxs"))
    return f"DAHDI/{port.channel}" if port is not None else f"PJSIP/{extension}"


def memberships(ami: Ami, extension: str) -> list[Membership]:
    """Every queue of the site, with this extension's membership and state in it (from QueueStatus)."""
    member = interface(extension)
    response = ami.action("QueueStatus", Member=member)
    found = {e.get("Queue"): e for e in parse_event_list(response.response)
             if e.get("Event") == "QueueMember" and e.get("Location") == member}
    out = []
    for q in Queue.select().order_by(Queue.number):
        m = found.get(q.number)
        if m is None:
            out.append(Membership(q.number, q.name, member=False))
            continue
        paused = m.get("Paused") == "1"
        state = "paused" if paused else DEVICE_STATES.get(m.get("Status", "0"), "unknown")
        out.append(Membership(q.number, q.name, member=True, dynamic=m.get("Membership") == "dynamic",
                              paused=paused, reason=m.get("PausedReason", "") if paused else "", state=state,
                              calls=int(m.get("CallsTaken") or 0)))
    return out


def _queue(number: str) -> Queue:
    queue = Queue.get_or_none(Queue.number == number)
    if queue is None:
        raise SiteError([Problem("queue", Message(N_("no queue %(number)s"), number=number))])
    return queue


def login(ami: Ami, user: str, extension: str, queue: str) -> None:
    """Join ``queue`` as a dynamic member named after the extension (skill level 0)."""
    _queue(queue)
    try:
        member = interface(extension)
        ami.action("QueueAdd", Queue=queue, Interface=member, Penalty="0", MemberName=extension,
                   StateInterface=member)
    except AmiError as error:
        raise SiteError([Problem("queue", Message(N_("could not log in to queue %(queue)s: %(error)s"),
                                                    queue=queue, error=str(error)))]) from None
    audit.record(user, "login", "agent", extension, None, {"queue": queue})


def logout(ami: Ami, user: str, extension: str, queue: str) -> None:
    _queue(queue)
    try:
        ami.action("QueueRemove", Queue=queue, Interface=interface(extension))
    except AmiError as error:
        raise SiteError([Problem("queue", Message(N_("could not log out of queue %(queue)s: %(error)s"),
                                                    queue=queue, error=str(error)))]) from None
    audit.record(user, "logout", "agent", extension, {"queue": queue}, None)


def check_reason(reason: str) -> str:
    """A pause reason travels in an AMI header and a queue_log field: one short line of plain text."""
    reason = reason.strip()
    if not REASON_RE.match(reason):
        raise SiteError([Problem("reason", N_("use at most 40 letters, digits, spaces and . , ' / - _"))])
    return reason


def set_paused(ami: Ami, user: str, extension: str, paused: bool, reason: str = "") -> None:
    """Pause (with a reason) or unpause the agent in every queue they are in, as ``*47``/``*48`` do."""
    reason = check_reason(reason)
    fields = {"Interface": interface(extension), "Paused": "true" if paused else "false"}
    if paused and reason:
        fields["Reason"] = reason
    try:
        ami.action("QueuePause", **fields)
    except AmiError as error:
        raise SiteError([Problem("reason", Message(N_("Asterisk refused: %(error)s"), error=str(error)))]) from None
    audit.record(user, "pause" if paused else "unpause", "agent", extension, None,
                 {"reason": reason} if paused else None)
