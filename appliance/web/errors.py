"""Friendly pages for 400/403/404/500: a user sees what happened and where to go, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from appliance.model.database import storage_trouble

log = logging.getLogger(__name__)

MESSAGES = {
    400: (_l("Bad request"), _l("The console could not understand that request.")),
    403: (_l("Not allowed"), _l("Your account is not allowed to open this page.")),
    404: (_l("Page not found"), _l("There is no page at this address.")),
    405: (_l("Not allowed"), _l("This page cannot be used that way.")),
    500: (_l("Something went wrong"), _l("The console hit an internal error. The details are in the system log.")),
    503: (_l("Not saved"), _l("The database could not be written.")),
}


def _page(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, MESSAGES[500])
    return render_template("error.html", code=code, title=str(title), message=detail or str(message)), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return _page(400, gettext("The form was out of date or incomplete (missing security token). "
                                  "Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if error.code in MESSAGES:
            return _page(error.code)
        return error

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        trouble = storage_trouble(error)  # disk full, database busy: the box's trouble, said as such
        if trouble:
            log.error("the database refused a write: %s", error)
            return _page(503, trouble)
        log.exception("unhandled error in the web console")
        return _page(500)
