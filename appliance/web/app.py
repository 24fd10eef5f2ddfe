"""The console's Flask app: every blueprint registered, sessions, CSRF, security headers.

``create_app(install)`` builds the app; ``appliance.services.http_server`` runs it under
cheroot.  Sessions live on the server (``appliance.access.sessions``; the signed cookie, key kept per
install in the database, only names one),
every form carries a CSRF token, and pages are plain server-rendered HTML with
one local stylesheet, because the box must work with no internet.
"""

from __future__ import annotations

import secrets
import threading

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

from appliance.access import sessions
from appliance.install import Install
from appliance.model.database import database
from appliance.security import bans
from appliance.site import service
from appliance.site.kinds import sentence_case
from appliance.web import (
    api,
    auth,
    backups,
    callcenter,
    callrecords,
    contacts,
    costs,
    errors,
    i18n,
    missed,
    pages,
    rates,
    recordings,
    trace,
    views,
    wallboard,
)
from appliance.web import gateways as gateways_web
from appliance.web import hardware as hardware_web
from appliance.web.sitetime import init_app as init_site_time

HSTS_SECONDS = 365 * 24 * 3600


def _bind_database(install: Install) -> None:
    """Open the install's database unless it is already the one bound (tests and the dev runner open it first)."""
    current = database.obj
    if current is None or current.database != install.database_target:
        install.open()


def create_app(install: Install, https: bool = False) -> Flask:
    """Build the console for ``install``; ``https`` marks cookies Secure (set it when served over TLS)."""
    _bind_database(install)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=service.internal_secret("web-session", lambda: secrets.token_urlsafe(48)),
        HTTPS=https,
        SESSION_COOKIE_NAME="linebox_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=https,
        # the cookie lives no longer than the server-side session can (appliance.access.sessions decides)
        PERMANENT_SESSION_LIFETIME=sessions.absolute_lifetime(),
        SESSION_REFRESH_EACH_REQUEST=True,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters["sentence"] = sentence_case  # Jinja's capitalize lowercases the rest: "Ivr menu"
    install.ami_user = "linebox-console"  # appliance.asterisk.ami_users: the console's own AMI user
    app.extensions["linebox.install"] = install
    # set when the console server stops: event streams end at once instead of at their next keep-alive
    app.extensions["linebox.stopping"] = threading.Event()
    CSRFProtect(app)
    bans.count_refused_requests()  # login guessing from one address ends in a ban, like SIP guessing
    auth.init_app(app)
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(views.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(wallboard.blueprint)
    app.register_blueprint(recordings.blueprint)
    app.register_blueprint(callrecords.blueprint)
    app.register_blueprint(missed.blueprint)
    app.register_blueprint(callcenter.blueprint)
    app.register_blueprint(contacts.blueprint)
    app.register_blueprint(rates.blueprint)
    app.register_blueprint(costs.blueprint)
    app.register_blueprint(trace.blueprint)
    app.register_blueprint(backups.blueprint)
    app.register_blueprint(gateways_web.blueprint)
    app.register_blueprint(hardware_web.blueprint)
    init_site_time(app)  # times in the site's time zone (site_time, site_zone)
    i18n.init_app(app, install)  # after the blueprints: its filters (duration...) are the ones templates get
    errors.init_app(app)

    @app.before_request
    def _connect() -> None:
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _disconnect(_exc) -> None:
        # peewee keeps one connection per thread: give the server threads' back after each request
        if not database.is_closed():
            database.close()

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        if request.is_secure:  # browsers that saw the console over HTTPS never try plain HTTP for it again
            response.headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
        return response

    return app


__all__ = ["create_app"]
