"""One AMI user per Linebox service, each with only the classes of actions and events it needs.

A single ``read=all``/``write=all`` user let any bug in any service that talks to AMI (a header
smuggled into a QueuePause field, a leaked secret) run ``Originate`` with ``Application=System``: shell
commands as the asterisk user.  Here two users hold ``originate``, and nothing else: ``linebox-dial``
(click-to-dial: rings the agent's own phone, then dials from it) and ``linebox-supervise`` (rings a
supervisor's own phone into the generated ``linebox-supervise`` context: listen, whisper, barge;
``appliance.callcenter.supervise``); without ``system`` Asterisk refuses them Originate of System, Exec and
the like.  No user holds ``config``, and none holds both ``command`` and ``system`` (``ModuleLoad`` could
load back the CLI's ``channel originate``, which modules.conf leaves out).  ``tests/lab/test_ami_users.py``
checks each user is refused Originate->System and can still do its job.

Each user's secret is derived from the install's one AMI secret (``Install.ami_secret``) with HMAC, so
wherever that secret is kept, the users' secrets follow, and none is written anywhere but manager.conf.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class AmiUser:
    name: str
    read: str  # event classes it receives ("" none: it reads only the answers to its own actions)
    write: str  # action classes it may send
    why: str


APPLY = "linebox-apply"
CONSOLE = "linebox-console"
STATUS = "linebox-status"
LIVE = "linebox-live"
COLLECTOR = "linebox-collector"
CLI = "linebox-cli"
BANS = "linebox-bans"
SUPERVISE = "linebox-supervise"
DIAL = "linebox-dial"
WEBHOOKS = "linebox-webhooks"
TRANSFER = "linebox-transfer"

AMI_USERS = (
    AmiUser(APPLY, "", "command", "apply and rollback: module reloads, pjsip send register, the checks that "
                                  "Asterisk took the files (pjsip list ... like, dialplan show, queue show, "
                                  "voicemail show users)"),
    AmiUser(CONSOLE, "", "command,agent", "the web console: Asterisk's status, gateway ports, agents' queue "
                                          "log-in, log-out and pause (QueueAdd, QueueRemove, QueuePause)"),
    AmiUser(STATUS, "", "system", "the extension list's registrations (PJSIPShowContacts), and apply's "
                                  "ModuleLoad of a module an upgrade added (or chan_dahdi once cards appear)"),
    AmiUser(LIVE, "agent", "", "the wallboard and the agents' screen pop: queue and agent events, QueueStatus"),
    AmiUser(COLLECTOR, "", "agent,reporting", "the event collector's auto-pause of agents who miss calls "
                                              "(QueuePause), and its qualify of every phone after Asterisk "
                                              "started again (PJSIPQualify: system or reporting)"),
    AmiUser(BANS, "security", "", "the ban service: failed authentications and requests to unknown accounts "
                                  "(security events)"),
    AmiUser(SUPERVISE, "", "originate", "the wallboard's listen, whisper and barge: rings the supervisor's phone "
                                        "into the linebox-supervise context (Originate, no application)"),
    AmiUser(TRANSFER, "", "call,reporting", "the agent page's transfers and parking (BlindTransfer, Atxfer, "
                                            "ParkedCalls, Getvar) and finding the agent's channel "
                                            "(CoreShowChannels); no originate"),
    AmiUser(CLI, "", "command,reporting", "the technician's linebox command: status, diag, calls "
                                          "(CoreShowChannels), debug collect, spans, gateways"),
    AmiUser(DIAL, "", "originate", "click-to-dial: rings the agent's own phone, then dials the number from it "
                                   "in from-internal (Originate; appliance.callcenter.clicktodial)"),
    AmiUser(WEBHOOKS, "agent", "", "the webhook service: queue calls' agent events (AgentCalled, AgentConnect, "
                                   "AgentComplete) sent on to the site's webhook receiver"),
)
BY_NAME = {user.name: user for user in AMI_USERS}


def secret_for(master: str, user: str) -> str:
    """The AMI secret of ``user``: HMAC-SHA256 of its name under the install's AMI secret (letters and digits)."""
    if user not in BY_NAME:
        raise ValueError(f"no AMI user {user!r} (known: {', '.join(BY_NAME)})")
    return hmac.new(master.encode(), user.encode(), hashlib.sha256).hexdigest()[:40]
