"""The console's Call records pages: search the calls (``/calls``), one call's legs, queue stays, events and
recordings (``/calls/<id>``), the search as CSV, and the search's recordings as one archive.

Thin: ``appliance.callcenter.callrecords`` searches and exports.  The same roles as the recordings (admins
and supervisors): a call record says who called whom, and a call's page plays its recordings.  The
archive is a POST (with the form's CSRF token), since making it is an audited act, not a page a browser
may fetch ahead.
"""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request, send_file
from flask_babel import gettext
from flask_login import current_user

from appliance.callcenter import callrecords
from appliance.errors import SiteError
from appliance.web.forms import EmptyForm
from appliance.web.i18n import problem_text
from appliance.web.pages.common import Paging, page_number
from appliance.web.roles import require_role

blueprint = Blueprint("callrecords", __name__)
ROLES = ("admin", "supervisor")
PER_PAGE = 50


def _folder() -> Path:
    return current_app.extensions["linebox.install"].recordings_dir


def _search_args() -> dict[str, str]:
    """The filters as typed (the form shows them again); by default the last seven days."""
    args = {name: request.values.get(name, "").strip()[:64] for name in callrecords.FILTERS}
    if not any(args.values()) and "searched" not in request.values:
        today = datetime.date.today()
        args["from"] = (today - datetime.timedelta(days=6)).isoformat()
    return args


@blueprint.get("/calls")
@require_role(*ROLES)
def page():
    args = _search_args()
    try:
        search = callrecords.parse_search(args)
    except SiteError as error:
        return render_template("calls.html", nav_active="calls", args=args, calls=[], paging=None,
                               problems=[problem_text(p) for p in error.problems], outcomes=callrecords.OUTCOMES,
                               form=EmptyForm()), 422
    number = page_number()
    found, total = callrecords.search_calls(search, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    return render_template("calls.html", nav_active="calls", args=args, calls=found,
                           paging=Paging(number, total, PER_PAGE), problems=[], outcomes=callrecords.OUTCOMES,
                           form=EmptyForm())


@blueprint.get("/calls/<linkedid>")
@require_role(*ROLES)
def detail(linkedid: str):
    found = callrecords.call_detail(linkedid[:64], _folder())
    if found is None:
        abort(404)
    return render_template("call.html", nav_active="calls", detail=found, outcomes=callrecords.OUTCOMES)


@blueprint.get("/calls.csv")
@require_role(*ROLES)
def export_csv():
    try:
        search = callrecords.parse_search(_search_args())
    except SiteError as error:
        return Response(gettext("Nothing exported: %(problems)s",
                                problems="; ".join(problem_text(p) for p in error.problems)),
                        status=422, mimetype="text/plain")
    return Response(callrecords.export_csv(search), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=linebox-calls-{datetime.date.today()}.csv"})


@blueprint.post("/calls/recordings.tar.gz")
@require_role(*ROLES, write=ROLES)  # a supervisor changes nothing here: the POST only makes the archive
def export_recordings():
    if not EmptyForm().validate_on_submit():
        abort(400)
    work = Path(tempfile.mkdtemp(prefix="linebox-export-"))
    archive = work / "recordings.tar.gz"
    try:
        callrecords.export_recordings(callrecords.parse_search(_search_args()), _folder(), current_user.username,
                                      archive)
    except SiteError as error:
        archive.unlink(missing_ok=True)
        work.rmdir()
        return Response(gettext("Nothing exported: %(problems)s",
                                problems="; ".join(problem_text(p) for p in error.problems)),
                        status=422, mimetype="text/plain")
    handle = archive.open("rb")  # open, then gone from the disk: the download reads the open file
    archive.unlink()
    work.rmdir()
    return send_file(handle, mimetype="application/gzip", as_attachment=True,
                     download_name=f"linebox-recordings-{datetime.date.today()}.tar.gz")
