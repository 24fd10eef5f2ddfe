"""Friendly pages for 400/403/404/500: a user sees what happened and where to go, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from appliance.model.database import storage_trouble

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The console could not understand that request."),
    403: ("Not allowed", "Your account is not allowed to open this page."),
    404: ("Page not found", "There is no page at this address."),
    405: ("Not allowed", "This page cannot be used that way."),
    500: ("Something went wrong", "The console hit an internal error. The details are in the system log."),
    503: ("Not saved", "The database could not be written."),
}


def _page(code: int, detail: str | None = None):
    title, message = MESSAGES.get(code, MESSAGES[500])
    return render_template("error.html", code=code, title=title, message=detail or message), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return _page(400, "The form was out of date or incomplete (missing security token). "
                          "Reload the page and try again.")

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
