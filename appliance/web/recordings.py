"""Recordings in the console: a dated list, playback and download, each listen audited."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_login import current_user

from appliance.callcenter import recordings
from appliance.web.roles import require_role

blueprint = Blueprint("recordings", __name__)
ROLES = ("admin", "supervisor")


def _folder():
    return current_app.extensions["linebox.install"].recordings_dir


@blueprint.get("/recordings")
@require_role(*ROLES)
def page():
    day = request.args.get("day", "")
    if day and not (len(day) == 10 and day[4] == "-" and day[7] == "-" and day.replace("-", "").isdigit()):
        day = ""
    return render_template("recordings.html", items=recordings.list_recordings(_folder(), day or None)[:500],
                           day=day)


@blueprint.get("/recordings/file/<path:relative>")
@require_role(*ROLES)
def play(relative: str):
    try:
        file = recordings.resolve(_folder(), relative)
    except FileNotFoundError:
        abort(404)
    recordings.record_listen(current_user.username, relative)
    return send_file(file, mimetype="audio/wav", as_attachment=request.args.get("download") == "1",
                     download_name=file.name, conditional=True)
