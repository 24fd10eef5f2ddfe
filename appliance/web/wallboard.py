"""The live wallboard: a page for supervisors and its server-sent-event stream.

The stream sends one ``data:`` line of JSON per change (see
``appliance.callcenter.live``) and a comment every 15 s so proxies keep the
connection open.  It accepts the console session or an API bearer token, so
a wall screen can show it without a person logging in every morning.

A supervisor (or an admin) may listen to, whisper to or barge into an agent's live call from the board
(``POST /wallboard/supervise``): their own phone rings, then ``appliance.callcenter.supervise`` takes over.
"""

from __future__ import annotations

import json
import queue as queue_mod
from collections.abc import Iterator

from flask import Blueprint, Response, abort, current_app, render_template, request, stream_with_context
from flask_babel import gettext
from flask_login import current_user

from appliance.access import apitokens
from appliance.asterisk import ami_users
from appliance.asterisk.ami import Ami
from appliance.callcenter import agents, alerts, supervise
from appliance.callcenter.live import STATE_WORDS, LiveBoard
from appliance.errors import Problem, SiteError
from appliance.site import localtime, service
from appliance.web.forms import EmptyForm
from appliance.web.i18n import current_language, problems_text
from appliance.web.roles import require_role

blueprint = Blueprint("wallboard", __name__)
ROLES = ("admin", "supervisor", "technician")
SUPERVISE_ROLES = ("admin", "supervisor")  # listen, whisper, barge: not technicians (read-only), not agents


def board() -> LiveBoard:
    """The app's board, started on first use.  The AMI address and secret are read here, in the request,
    and handed to it; its thread reads only today's figures, on a connection of its own."""
    live = current_app.extensions.get("linebox.live")
    if live is None:
        install = current_app.extensions["linebox.install"]
        port, secret = service.load_settings().ami_port, install.ami_user_secret(ami_users.LIVE)
        live = current_app.extensions.setdefault(
            "linebox.live", LiveBoard(lambda: Ami("127.0.0.1", port, ami_users.LIVE, secret, timeout=5)))
    live.start()
    return live


@blueprint.get("/wallboard")
@require_role(*ROLES)
def page():
    can_supervise = current_user.role in SUPERVISE_ROLES and supervise.allowed()
    return render_template("wallboard.html", wallboard_words=wallboard_words(), can_supervise=can_supervise,
                           my_extension=agents.extension_of(current_user.username) or "", form=EmptyForm())


@blueprint.post("/wallboard/supervise")
@require_role(*SUPERVISE_ROLES, write=SUPERVISE_ROLES)
def supervise_call():
    """Listen, whisper or barge on an agent's live call: rings the supervisor's phone (the extension typed,
    else the one they claimed on the agent page).  Answers JSON to the board's script (422 with the problems)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    form = request.form
    agent, mode = form.get("agent", "").strip(), form.get("mode", "").strip()
    phone = form.get("extension", "").strip() or agents.extension_of(current_user.username) or ""
    try:
        if not phone:
            raise SiteError([Problem("extension", gettext("say which extension is your phone"))])
        install = current_app.extensions["linebox.install"]
        supervise.start(lambda: install.connect_ami(timeout=5, user=ami_users.SUPERVISE), current_user.username,
                        phone, agent, mode, _on_call(agent) if supervise.allowed() else None)
    except SiteError as error:
        return {"ok": False, "problems": problems_text(error.problems)}, 422
    return {"ok": True, "message": started_words(mode, phone, agent)}


def _on_call(agent: str) -> bool | None:
    """Whether the board shows the agent on a call (None: the board has no picture yet, Asterisk decides)."""
    snapshot = board().snapshot
    if snapshot.get("error") or not snapshot.get("time"):
        return None
    return supervise.on_call(snapshot, agent)


def started_words(mode: str, extension: str, agent: str) -> str:
    """What the board says once the supervisor's phone is rung, in the page's language (a whole sentence per
    mode: a language orders the words its own way)."""
    if mode == "whisper":
        return gettext("Your phone %(extension)s rings: answer it to whisper to agent %(agent)s (only the agent "
                       "hears you).", extension=extension, agent=agent)
    if mode == "barge":
        return gettext("Your phone %(extension)s rings: answer it to join agent %(agent)s's call (both parties "
                       "hear you).", extension=extension, agent=agent)
    return gettext("Your phone %(extension)s rings: answer it to listen to agent %(agent)s's call (neither party "
                   "hears you).", extension=extension, agent=agent)


def state_words() -> dict:
    """Each agent state and pause reason as a page shows it (the stream sends them as they are stored)."""
    return {word: gettext(word) for word in (*STATE_WORDS, *agents.REASONS)}


def wallboard_words() -> dict:
    """What wallboard.js writes into the page, in the page's language; ``{name}`` is filled in there."""
    return {
        "updated": gettext("Updated %(time)s · answered, abandoned and service level: today (%(zone)s), as in "
                           "Reports", time="{time}", zone=localtime.site_zone().key),
        "waiting": gettext("Waiting"), "longest_wait": gettext("Longest wait"),
        "service_level": gettext("Service level (%(seconds)s s, target %(target)s%%)", seconds="{seconds}",
                                 target="{target}"),
        "answered": gettext("Answered"), "abandoned": gettext("Abandoned"), "agent": gettext("Agent"),
        "state": gettext("State"), "time_in_state": gettext("Time in state"), "calls_taken": gettext("Calls taken"),
        "one_call": gettext("%(count)s call", count="{count}"), "calls": gettext("%(count)s calls", count="{count}"),
        "no_agent": gettext("No agent in this queue."), "lost": gettext("Connection lost, retrying…"),
        "states": state_words(), "locale": current_language().replace("_", "-"),
        "alerts": gettext("SLA alerts"),
        "breach": gettext("%(queue)s: %(alert)s (now %(value)s, threshold %(threshold)s), since %(time)s",
                          queue="{queue}", alert="{alert}", value="{value}", threshold="{threshold}", time="{time}"),
        "kinds": {kind: gettext(label) for kind, label in alerts.KINDS.items()},
        "listen": gettext("Listen in"), "whisper": gettext("Whisper"), "barge": gettext("Barge"),
        "listen_hint": gettext("You hear the call; neither party hears you."),
        "whisper_hint": gettext("Only the agent hears you."), "barge_hint": gettext("Both parties hear you."),
    }


@blueprint.get("/wallboard/stream")
def stream():
    user = current_user if current_user.is_authenticated else None
    header = request.headers.get("Authorization", "")
    if user is None and header.startswith("Bearer "):
        user = apitokens.user_for_token(header[len("Bearer "):].strip())
    if user is None:
        abort(401)
    if user.role not in ROLES:
        abort(403)
    live = board()
    return event_stream(live, live.subscribe())


KEEP_ALIVE_SECONDS = 15
POLL_SECONDS = 0.5


def event_stream(live, updates, shape=lambda item: item) -> Response:
    """Server-sent events from a LiveBoard subscription: each item (passed through ``shape``) as one JSON
    message, a comment every 15 s so proxies keep the connection, and the subscription dropped when the
    browser goes away.  The stream also ends within ``POLL_SECONDS`` when the console server stops
    (``linebox.stopping``, set by ``ConsoleServer.close``): a stop does not wait for the next keep-alive to
    find the page gone."""
    stopping = current_app.extensions.get("linebox.stopping")

    def events() -> Iterator[str]:
        try:
            yield "retry: 2000\n\n"
            quiet = 0.0
            while stopping is None or not stopping.is_set():
                try:
                    item = updates.get(timeout=POLL_SECONDS)
                except queue_mod.Empty:
                    quiet += POLL_SECONDS
                    if quiet >= KEEP_ALIVE_SECONDS:
                        quiet = 0.0
                        yield ": keep-alive\n\n"
                    continue
                quiet = 0.0
                yield f"data: {json.dumps(shape(item), separators=(',', ':'))}\n\n"
        finally:
            live.unsubscribe(updates)

    return Response(stream_with_context(events()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# checked above (session or bearer token), as require_role would; a function attribute, unknown to mypy
stream.linebox_roles = ROLES  # type: ignore[attr-defined]

