"""Call-center pages: reports with charts, custom sounds for IVR greetings, and the agent's own page.

* ``/reports`` (supervisors, admins): the KPI tables of ``appliance.callcenter.reports`` for a
  period, CSV downloads, and three charts drawn on the server as SVG with pygal (no script, no
  CDN: the box works offline), served as images with their own strict CSP.
* ``/sounds`` (admins change, technicians look): upload a greeting in any format sox reads;
  it is converted to 8 kHz mono for Asterisk, or refused with the reason.
* ``/agent`` (agents, admins): the agent ties their login to their extension, logs in and out
  of queues, pauses with a reason, and gets a screen pop (caller's number, queue, phonebook contact
  and the caller's history: ``appliance.callcenter.history``) through a server-sent-event stream when a
  queue call rings their phone; they save the call's disposition and note (``callcenter.dispositions``).
* ``/agent/dial`` (agents, admins with a claimed extension): click-to-dial from the agent page, the pop's
  caller and the phonebook: their phone rings, then the number is dialled from it (``callcenter.clicktodial``).
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
from datetime import date, datetime, timedelta

import pygal
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user

from appliance.asterisk import ami_users
from appliance.asterisk.ami import AmiError
from appliance.callcenter import (
    agents,
    callbacks,
    clicktodial,
    crm,
    dispositions,
    history,
    missed,
    reports,
    robot_report,
    survey,
    transfers,
)
from appliance.errors import Problem, SiteError
from appliance.model import audit
from appliance.model.database import database
from appliance.phonebook.lookup import lookup
from appliance.provisioning import prompts, sounds
from appliance.robot import calls as robot_calls
from appliance.site import localtime, queries, service
from appliance.web.auth import safe_next
from appliance.web.charts import SVG_CSP, chart_config, without_script
from appliance.web.downloads import csv_download
from appliance.web.forms import EmptyForm
from appliance.web.i18n import error_text, problems_text
from appliance.web.recordings import ROLES as LISTENERS
from appliance.web.roles import require_role
from appliance.web.wallboard import board, event_stream, state_words

blueprint = Blueprint("callcenter", __name__)
REPORT_ROLES = ("admin", "supervisor")
AGENT_ROLES = ("agent", "admin")
CHARTS = ("hourly", "service-level", "abandonment")


def _install():
    return current_app.extensions["linebox.install"]


# ---- reports -------------------------------------------------------------------------------------

def _period() -> tuple[datetime, datetime, str, str, str | None]:
    """The period asked for (``from``/``to`` days, both included; default the last 7 days) and queue.
    Days are the site's local days (``timezone`` setting): a day starts at its midnight there."""
    zone = localtime.site_zone()
    today = datetime.now(zone).date()

    def day(name: str, default: date) -> date:
        try:
            return datetime.strptime(request.args.get(name, ""), "%Y-%m-%d").date()
        except ValueError:
            return default

    first = day("from", today - timedelta(days=6))
    last = max(day("to", today), first)
    queue = request.args.get("queue", "").strip() or None
    if queue is not None and not queue.isdigit():
        queue = None
    start, end = localtime.days(first, last, zone)
    return start, end, first.strftime("%Y-%m-%d"), last.strftime("%Y-%m-%d"), queue


@blueprint.get("/reports")
@require_role(*REPORT_ROLES)
def reports_page():
    start, end, first, last, queue = _period()
    args = {"from": first, "to": last, **({"queue": queue} if queue else {})}
    # the site's queues to choose from; a queue asked for that is no longer configured still has its history
    choices = queries.keys_and_names("queue")
    if queue and queue not in dict(choices):
        choices.append((queue, gettext("(no longer configured)")))
    return render_template("reports.html", nav_active="reports", first=first, last=last, queue=queue or "",
                           queue_choices=choices,
                           queues=reports.queue_report(start, end, queue),
                           agents=reports.agent_report(start, end, queue), args=args, charts=CHARTS,
                           dispositions=dispositions.disposition_report(start, end, queue),
                           missed_calls=missed.report(start, end, queue),
                           callbacks=callbacks.report(start, end, queue),
                           surveys=survey.survey_report(start, end, queue),
                           robots=robot_report.robot_report(start, end),
                           zone=localtime.site_zone().key, chart_titles=chart_titles())


@blueprint.get("/reports/<any(queues, agents, dispositions, missed, callbacks, surveys, robots):table>.csv")
@require_role(*REPORT_ROLES)
def reports_csv(table: str):
    start, end, first, last, queue = _period()
    rows: list = (reports.queue_report(start, end, queue) if table == "queues" else
                  reports.agent_report(start, end, queue) if table == "agents" else
                  missed.report(start, end, queue) if table == "missed" else
                  callbacks.report(start, end, queue) if table == "callbacks" else
                  survey.survey_report(start, end, queue) if table == "surveys" else
                  robot_report.robot_report(start, end) if table == "robots" else
                  dispositions.disposition_report(start, end, queue))
    return csv_download(reports.to_csv(rows), f"linebox-{table}-{first}-{last}.csv")


def _robot_asked() -> str | None:
    """The robot asked for (a deleted robot's calls are still filtered by name); None: all robots."""
    name = request.args.get("robot", "").strip()
    return name if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name) else None


@blueprint.get("/reports/robot-transcripts")
@require_role(*LISTENERS)
def robot_transcripts_page():
    """What callers said to the voice robots in the period: each look is audited (``robot_transcript``)."""
    start, end, first, last, _queue = _period()
    robot = _robot_asked()
    args = {"from": first, "to": last, **({"robot": robot} if robot else {})}
    rows = robot_report.transcripts(start, end, current_user.username, robot)
    return render_template("robot_transcripts.html", nav_active="reports", first=first, last=last,
                           robot=robot or "", robot_choices=queries.keys("robot"), rows=rows, args=args,
                           limit=robot_report.TRANSCRIPT_LIMIT, zone=localtime.site_zone().key)


@blueprint.get("/reports/robot-transcripts.csv")
@require_role(*LISTENERS)
def robot_transcripts_csv():
    start, end, first, last, _queue = _period()
    rows = robot_report.transcripts(start, end, current_user.username, _robot_asked())
    return csv_download(reports.to_csv(rows), f"linebox-robot-transcripts-{first}-{last}.csv")


def chart_titles() -> dict[str, str]:
    """Each chart's name as its image's alternative text says it."""
    return {"hourly": gettext("Calls per hour of day (%(zone)s)", zone=localtime.site_zone().key),
            "service-level": gettext("Service level per day"),
            "abandonment": gettext("Abandonment per day")}


def chart_svg(name: str, start: datetime, end: datetime, queue: str | None) -> bytes:
    """One chart as a standalone SVG document (drawn by pygal, with no script)."""
    config = chart_config()
    if name == "hourly":
        offered, answered = [0] * 24, [0] * 24
        for hour, o, a in reports.calls_per_hour(start, end, queue):
            h = int(hour[-2:])
            offered[h] += o
            answered[h] += a
        chart = pygal.Bar(title=gettext("Calls per hour of day (%(zone)s)", zone=localtime.site_zone().key), **config)
        chart.x_labels = [f"{h:02d}" for h in range(24)]
        chart.add(gettext("offered"), offered)
        chart.add(gettext("answered"), answered)
    else:
        days = reports.daily_report(start, end, queue)
        if name == "service-level":
            # each queue's own threshold and target: one line when the queues shown share one
            thresholds, targets = reports.service_level_settings(queue)
            within = gettext("%(seconds)s s", seconds=thresholds.pop()) if len(thresholds) == 1 else \
                gettext("each queue's threshold")
            chart = pygal.Line(title=gettext("Service level per day (%% answered within %(within)s)", within=within),
                               range=(0, 100), **config)
            chart.add(gettext("service level %"), [d.service_level_pct for d in days])
            if len(targets) == 1:
                target = targets.pop()
                chart.add(gettext("target %(target)s %%", target=target), [target] * len(days), show_dots=False,
                          stroke_style={"dasharray": "6,4"})
        else:
            chart = pygal.Bar(title=gettext("Abandonment per day"), **config)
            chart.add(gettext("abandon rate %"), [d.abandon_rate_pct for d in days])
            if days:  # pygal cannot scale an empty secondary axis (TypeError on a period with no calls)
                chart.add(gettext("abandoned calls"), [d.abandoned for d in days], secondary=True)
        chart.x_labels = [d.day[5:] for d in days]
        chart.no_data_text = gettext("No calls in this period")
    return without_script(chart.render())


@blueprint.get("/reports/chart/<any(hourly, 'service-level', abandonment):name>.svg")
@require_role(*REPORT_ROLES)
def reports_chart(name: str):
    start, end, _first, _last, queue = _period()
    response = Response(chart_svg(name, start, end, queue), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = SVG_CSP
    return response


# ---- sounds --------------------------------------------------------------------------------------

@blueprint.route("/sounds", methods=["GET", "POST"])
@require_role("admin", "technician")
def sounds_page():
    folder = _install().sounds_path
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        if request.form.get("delete"):
            name = request.form["delete"]
            if sounds.delete(folder, name):
                audit.record(current_user.username, "delete", "sound", name, {"name": name}, None)
                flash(gettext("Sound %(sound)s deleted.", sound=f"custom/{name}"), "success")
            return redirect(url_for("callcenter.sounds_page"))
        upload = request.files.get("file")
        name = request.form.get("name", "").strip().lower()
        try:
            data = upload.read() if upload else b""
            made = sounds.import_upload(data, upload.filename if upload else "", name, folder)
        except sounds.SoundError as error:
            flash(error_text(error), "error")
            return render_template("sounds.html", form=form, items=sounds.list_sounds(folder), name=name), 422
        assert upload is not None  # import_upload refuses an empty upload
        audit.record(current_user.username, "upload", "sound", made.name, None,
                     {"name": made.name, "seconds": made.seconds, "from": upload.filename})
        flash(gettext("Sound %(sound)s ready (%(seconds)s s, 8 kHz mono). Use it as an IVR greeting: %(sound)s.",
                      sound=f"custom/{made.name}", seconds=f"{made.seconds:g}"), "success")
        return redirect(url_for("callcenter.sounds_page"))
    return render_template("sounds.html", form=form, items=sounds.list_sounds(folder), name="")


# ---- prompts --------------------------------------------------------------------------------------

@blueprint.route("/prompts", methods=["GET", "POST"])
@require_role("admin", "technician")
def prompts_page():
    """Every prompt in English and Mandarin; an admin replaces one by a recording, or reverts it."""
    place = _install().prompt_place()
    form = EmptyForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        name, language = request.form.get("prompt", ""), request.form.get("language", "")
        try:
            if request.form.get("revert"):
                name, _, language = request.form["revert"].partition("|")
                prompts.revert_recorded(name, language, place, current_user.username)
                flash(gettext("%(language)s/%(prompt)s: the generated prompt is played again.", language=language,
                              prompt=name), "success")
            else:
                upload = request.files.get("file")
                made = prompts.replace_recorded(name, language, upload.read() if upload else b"",
                                                upload.filename if upload else "", place, current_user.username)
                flash(gettext("%(language)s/%(prompt)s: callers now hear your recording (%(seconds)s s).",
                              language=language, prompt=name, seconds=f"{made.seconds:g}"), "success")
            return redirect(url_for("callcenter.prompts_page"))
        except prompts.PromptError as error:
            flash(error_text(error), "error")
            status = 422
    assert place.recordings is not None
    return render_template("prompts.html", form=form, items=prompts.states(place.recordings),
                           registry=prompts.REGISTRY, languages=prompts.LANGUAGE_NAMES), status


@blueprint.before_app_request
def _allow_sound_uploads() -> None:
    # Sound files are larger than any form: raise the console's 1 MB limit for this one view only.
    if request.endpoint in ("callcenter.sounds_page", "callcenter.prompts_page") and request.method == "POST":
        request.max_content_length = sounds.MAX_UPLOAD_BYTES + 64 * 1024


@blueprint.get("/sounds/file/<name>.wav")
@require_role("admin", "technician")
def sound_file(name: str):
    if not sounds.NAME_RE.match(name):
        abort(404)
    file = _install().sounds_path / f"{name}.wav"
    if not file.is_file():
        abort(404)
    return send_file(file, mimetype="audio/wav", conditional=True)


# ---- the agent's page ----------------------------------------------------------------------------

def _ami():
    return _install().connect_ami(timeout=5)


@blueprint.get("/agent")
@require_role(*AGENT_ROLES, write=AGENT_ROLES)
def agent_page():
    extension = agents.extension_of(current_user.username)
    rows, error = [], ""
    if extension:
        try:
            with _ami() as ami:
                rows = agents.memberships(ami, extension)
        except AmiError as failure:
            error = str(failure)  # the system's own words, quoted as they are (lang="en" in the page)
    return render_template("agent.html", nav_active="agent", extension=extension, rows=rows, error=error,
                           form=EmptyForm(), reasons=agents.REASONS, agent_words=agent_words(),
                           disposition_url=url_for("callcenter.agent_disposition"),
                           transfer_url=url_for("callcenter.agent_transfer"))


def agent_words() -> dict:
    """What agent.js writes into the page, in the page's language (the stream sends states as codes)."""
    return {"ringing": gettext("Ringing:"), "connected": gettext("On call with"), "ended": gettext("Call ended:"),
            "missed": gettext("Missed:"), "phonebook": gettext("Phonebook: %(contact)s", contact="{contact}"),
            "queue": gettext("queue %(number)s", number="{number}"),
            "robot_heard": gettext("The voice robot heard: %(heard)s", heard="{heard}"),
            "robot_nothing": gettext("The voice robot heard nothing it understood."), "states": state_words(),
            "unknown": gettext("Unknown caller"), "add_contact": gettext("Add to the phonebook"),
            "no_history": gettext("No earlier calls."),
            "abandoned_today": gettext("Hung up while waiting %(count)s times today", count="{count}"),
            "outcomes": {"answered": gettext("answered"), "abandoned": gettext("abandoned"),
                         "timeout": gettext("timed out"), "exitkey": gettext("left by key"),
                         "exitempty": gettext("no agent"), "interrupted": gettext("interrupted"),
                         "waiting": gettext("waiting")},
            "by": gettext("by %(agent)s", agent="{agent}"), "listen": gettext("listen"),
            "none": gettext("(no disposition)"), "saving": gettext("Saving..."),
            "crm": gettext("CRM: %(contact)s", contact="{contact}"), "crm_waiting": gettext("CRM: asking..."),
            "crm_none": gettext("CRM: not found"), "crm_error": gettext("CRM: no answer (%(error)s)", error="{error}")}



@blueprint.post("/agent/<any(claim, login, logout, pause, unpause):action>")
@require_role(*AGENT_ROLES, write=AGENT_ROLES)
def agent_action(action: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = current_user.username
    try:
        if action == "claim":
            number = agents.claim_extension(user, request.form.get("extension", ""), request.form.get("pin", ""))
            flash(gettext("This console follows extension %(number)s.", number=number), "success")
            return redirect(url_for("callcenter.agent_page"))
        extension = own_extension(user)
        reason = agents.check_reason(request.form.get("reason", "").strip() or request.form.get("reason_choice", ""))
        with _ami() as ami:
            if action == "login":
                agents.login(ami, user, extension, request.form.get("queue", ""))
            elif action == "logout":
                agents.logout(ami, user, extension, request.form.get("queue", ""))
            else:
                agents.set_paused(ami, user, extension, action == "pause", reason)
    except SiteError as error:
        flash(problems_text(error.problems), "error")
    except AmiError as error:
        flash(gettext("Asterisk is not reachable: %(error)s", error=error), "error")
    return redirect(url_for("callcenter.agent_page"))


HISTORY_POPS = ("ringing", "connected")


def caller_history(number: str, exclude: str = "") -> dict:
    """The caller's history as the pop shows it, recordings named only for roles allowed to listen."""
    found = history.caller_history(number, service.load_settings().country_code, exclude=exclude,
                                   recordings_dir=_install().recordings_dir if current_user.role in LISTENERS
                                   else None)
    out = found.as_dict()
    for call in out["calls"]:
        call["recordings"] = [url_for("recordings.play", relative=r) for r in call["recordings"]]
    if found.contact is None and found.phone_number:
        out["add_contact"] = url_for("contacts.new", number=found.number)
    return out


def robot_heard(uniqueid: str) -> dict | None:
    """What a voice robot heard on this call before it handed it over (None: no robot on the call)."""
    row = robot_calls.heard_on(uniqueid)
    if row is None:
        return None
    return {"robot": row.robot, "heard": [t for t in row.transcript.split(" | ") if t], "outcome": row.outcome,
            "entry": row.entry + 1 if row.entry >= 0 else 0}


def _with_contact(pop: dict) -> dict:
    """A screen pop with the caller's phonebook entry (name, company, note), when the number is in it, and
    (when the call rings or is answered) the caller's history and the queue's dispositions."""
    try:
        with database.connection_context():  # the stream outlives the request's connection
            if pop.get("type") in HISTORY_POPS:
                found = caller_history(pop.get("caller", ""), exclude=pop.get("uniqueid", ""))
                codes, required = dispositions.of_queue(pop.get("queue", ""))
                return {**pop, "contact": found["contact"] and {key: found["contact"][key] for key in
                                                                 ("id", "name", "company", "note")},
                        "history": found, "dispositions": codes, "disposition_required": required,
                        "robot": robot_heard(pop.get("uniqueid", ""))}
            contact = lookup(pop.get("caller", ""), service.load_settings().country_code)
    except Exception:  # a locked or unreadable database never stops the stream: the pop shows the number
        current_app.logger.exception("phonebook lookup for the screen pop failed")
        contact = None
    if contact is None:
        return pop
    return {**pop, "contact": {key: contact[key] for key in ("id", "name", "company", "note")}}


@blueprint.get("/agent/history")
@require_role(*AGENT_ROLES, write=AGENT_ROLES)
def agent_history():
    """The caller's history as JSON (the pop carries it already; the page asks again after a save)."""
    number = request.args.get("number", "").strip()[:40]
    return caller_history(number, exclude=request.args.get("call", "").strip()[:40])


@blueprint.post("/agent/disposition")
@require_role(*AGENT_ROLES, write=AGENT_ROLES)
def agent_disposition():
    """Save the call's disposition and note; answers JSON to the page's script (422 with the problems)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    form = request.form
    try:
        extension = own_extension(current_user.username)
        queue = dispositions.save(current_user.username, extension, form.get("call", ""), form.get("queue", ""),
                                  form.get("disposition", ""), form.get("note", ""), form.get("linkedid", ""))
        released = False
        if form.get("disposition") and dispositions.of_queue(queue)[1]:  # a pause can only wait for it there
            try:
                with _ami() as ami:
                    released = dispositions.release(ami, extension, queue)
            except AmiError as error:  # saved all the same; a pause waiting for it stays until saved again
                return {"saved": True, "released": False,
                        "message": gettext("Saved, but Asterisk is not reachable: %(error)s", error=error)}
    except SiteError as error:
        return {"saved": False, "problems": problems_text(error.problems)}, 422
    return {"saved": True, "released": released,
            "message": gettext("Saved; you take calls again.") if released else gettext("Saved.")}


def own_extension(username: str) -> str:
    """The extension the console user ``username`` said is theirs; SiteError asks them to say it first."""
    extension = agents.extension_of(username)
    if not extension:
        raise SiteError([Problem("extension", gettext("say which extension is yours first"))])
    return extension


def dial_for(username: str, number: str) -> str:
    """Click-to-dial for the console user ``username`` from their claimed extension; the number dialled.
    Shared by the console and the REST API.  SiteError names the problem (no extension, bad number, Asterisk)."""
    extension = own_extension(username)
    clicktodial.check(extension, number)  # a bad number is refused before Asterisk is asked
    try:
        with _install().connect_ami(timeout=5, user=ami_users.DIAL) as ami:
            return clicktodial.dial(ami, username, extension, number)
    except AmiError as error:
        raise SiteError([Problem("number", gettext("Asterisk is not reachable: %(error)s", error=error))]) from None


@blueprint.post("/agent/dial")
@require_role(*AGENT_ROLES, write=AGENT_ROLES)
def agent_dial():
    """Ring the agent's phone, then dial the number from it; back to the page the button was on."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        number = dial_for(current_user.username, request.form.get("number", ""))
        flash(gettext("Your phone rings: pick it up to call %(number)s.", number=number), "success")
    except SiteError as error:
        flash(problems_text(error.problems), "error")
    return redirect(safe_next(request.form.get("next")) or url_for("callcenter.agent_page"))


CRM_POPS = ("ringing",)


def _with_crm(pop: dict, updates) -> dict:
    """A ringing pop with its "open in CRM" link, and the CRM lookup started beside it (when configured): its
    answer follows as a message of its own (``type: crm``), so a slow CRM never holds the pop back."""
    if pop.get("type") not in CRM_POPS or not pop.get("caller"):
        return pop
    try:
        with database.connection_context():
            settings = service.load_settings()
    except Exception:  # noqa: BLE001 - a busy database: the pop goes without the CRM
        current_app.logger.exception("settings not read for the CRM lookup")
        return pop
    caller = pop["caller"]
    if settings.crm_open_url:
        pop = {**pop, "crm_open": crm.fill(settings.crm_open_url, caller)}
    if settings.crm_lookup_url:
        template, call = settings.crm_lookup_url, pop.get("uniqueid", "")

        def ask() -> None:
            answer = crm.lookup(template, caller)
            with contextlib.suppress(queue.Full):  # a stalled page misses it, nothing piles up
                updates.put_nowait({"type": "crm", "uniqueid": call, "caller": caller, "crm": answer})

        threading.Thread(target=ask, name="crm-lookup", daemon=True).start()
        pop = {**pop, "crm_pending": True}
    return pop


@blueprint.post("/agent/transfer")
@require_role(*AGENT_ROLES, write=AGENT_ROLES)
def agent_transfer():
    """Transfer or park the call the agent is on; answers JSON to the page's script (422 with the problems)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    form = request.form
    try:
        extension = own_extension(current_user.username)
        done = transfers.transfer(lambda: _install().connect_ami(timeout=5, user=ami_users.TRANSFER),
                                  current_user.username, extension, form.get("how", ""), form.get("kind", ""),
                                  form.get("to", ""))
    except SiteError as error:
        return {"done": False, "problems": problems_text(error.problems)}, 422
    except AmiError as error:
        return {"done": False, "problems": gettext("Asterisk is not reachable: %(error)s", error=error)}, 503
    if done.how == "park":
        message = (gettext("Parked in slot %(slot)s: any phone dials it to pick the call up.", slot=done.slot)
                   if done.slot else gettext("Parked."))
    elif done.how == "attended":
        message = gettext("Calling %(to)s: talk, then hang up to hand the call over (*3: all three talk, "
                          "*5: back to the caller).", to=done.destination)
    else:
        message = gettext("Transferred to %(to)s.", to=done.destination)
    return {"done": True, "how": done.how, "to": done.destination, "slot": done.slot, "message": message}


@blueprint.get("/agent/stream")
@require_role(*AGENT_ROLES, write=AGENT_ROLES)
def agent_stream():
    extension = agents.extension_of(current_user.username)
    if not extension:
        abort(409)
    live = board()

    def mine(item: dict) -> dict:
        """A queue-state message cut down to this agent's own line in each queue; screen pops pass as they are."""
        if item.get("type") == "crm":
            return item
        if item.get("type") != "state":
            return _with_contact(item)
        return {"type": "state", "time": item.get("time"), "error": item.get("error", ""),
                "queues": [{"queue": q["queue"], "waiting": q["waiting"],
                            "me": [a for a in q["agents"] if a["agent"] == extension]}
                           for q in item.get("queues", [])]}

    updates = live.subscribe_agent(extension)
    return event_stream(live, updates, lambda item: _with_crm(mine(item), updates))
