"""The API's plumbing: the blueprint, who is calling (token or console session), roles, JSON in and out, errors.

Authentication (see docs/api.md):

* ``Authorization: Bearer <token>`` (tokens from ``appliance.access.apitokens``): no cookies, so no CSRF;
* or the console's own login session (cookie), so the console's JavaScript can call the API.  Then
  every unsafe request (POST, PUT, DELETE) must carry the session's CSRF token in an ``X-CSRFToken``
  header, exactly as the console's forms must; Flask-WTF's form check is switched off for this
  blueprint (it would answer with an HTML page) and done here instead.

Every answer from ``/api/`` is JSON, errors included: ``{"error": "...", "problems": [...]}``.  The API's
own messages (authentication, roles, unknown endpoints) are in the caller's console language (a token
speaks its user's), else the request's Accept-Language; the configuration's checks answer in English.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import wraps

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from wtforms import ValidationError as CsrfValidationError

from appliance.access import accounts, apitokens
from appliance.errors import Problem
from appliance.model.database import storage_trouble
from appliance.site.kinds import Kind
from appliance.web.i18n import message_text, problems_text
from appliance.web.roles import PHONEBOOK_READERS

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
READ = "read"
WRITE = "write"
PHONEBOOK_READ = "phonebook_read"
CALLS_READ = "calls_read"
DIAL = "dial"  # click-to-dial from the caller's own claimed extension (the agent page's claim)
# which roles may do what; supervisors and agents get no site objects for now, but supervisors look
# contacts up, as on the console's Phonebook page (changing contacts is WRITE, as there)
# call records say who called whom: the roles that may listen to recordings (the console's Call records page)
ROLES_FOR = {READ: ("admin", "technician"), WRITE: ("admin",), PHONEBOOK_READ: PHONEBOOK_READERS,
             CALLS_READ: ("admin", "supervisor"), DIAL: ("admin", "agent")}
ANY_USER = ("admin", "supervisor", "technician", "agent")

blueprint = Blueprint("api", __name__, url_prefix=PREFIX)


class ApiError(Exception):
    """Stop handling a request and answer ``status`` with a JSON error body."""

    def __init__(self, status: int, message: str, problems: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.problems, self.headers = status, message, problems or [], headers or {}


@dataclass(frozen=True)
class Caller:
    username: str
    role: str
    via: str  # "token" or "session"
    language: str = ""  # the user's console language: the API's messages are in it (appliance.web.i18n)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def caller() -> Caller:
    return g.api_caller


def error_response(status: int, message: str, problems: list[dict] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": message, "problems": problems or []})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="linebox"'})


# ---------------------------------------------------------------- who is calling


def _authenticate() -> Caller:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized(gettext("use 'Authorization: Bearer <token>'"))
        user = apitokens.user_for_token(token.strip())
        if user is None:
            raise unauthorized(gettext("unknown or revoked API token"))
        return Caller(user.username, user.role, "token", user.language)
    if current_user.is_authenticated:
        if current_user.must_change_password:
            raise ApiError(403, gettext("change your one-time password in the console first"))
        if request.method not in SAFE_METHODS:
            try:
                validate_csrf(request.headers.get("X-CSRFToken", ""))
            except CsrfValidationError as error:
                raise ApiError(403, gettext("CSRF check failed (%(error)s): a request made with the console's session "
                                      "must send its CSRF token in the X-CSRFToken header", error=error)) from None
        user = accounts.get_user(current_user.username)
        if user is None:
            raise unauthorized(gettext("log in again"))
        return Caller(user.username, user.role, "session", user.language)
    raise unauthorized(gettext("missing API token: send 'Authorization: Bearer <token>'"))


def public(view):
    """Mark a view that needs no authentication (the OpenAPI document)."""
    view.api_public = True
    return view


def allow(access: str | tuple[str, ...]) -> None:
    """Refuse (403) unless the caller's role may do ``access`` (a ROLES_FOR key) or is one of the given roles."""
    roles = ROLES_FOR[access] if isinstance(access, str) else access
    who = caller()
    if who.role not in roles:
        raise ApiError(403, gettext("the %(role)s role may not do this (allowed: %(roles)s)", role=who.role,
                              roles=", ".join(roles)))


def requires(access: str | tuple[str, ...]):
    """Decorator form of ``allow``."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            allow(access)
            return view(*args, **kwargs)
        return wrapper
    return decorate


@blueprint.before_request
def _before() -> None:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint is not None else None
    if getattr(view, "api_public", False):
        return
    g.api_caller = _authenticate()


# ---------------------------------------------------------------- JSON in


def json_body(required: bool = True) -> dict:
    """The request body as a JSON object, or a 400/415 ``ApiError`` saying what is wrong with it."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ApiError(400, "the request needs a JSON object as its body")
        return {}
    mimetype = request.mimetype or ""
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, f"send JSON (Content-Type: application/json), not {mimetype}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ApiError(400, f"the request body is not valid JSON: {error.msg} "
                            f"(line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the request body must be a JSON object, not {type(data).__name__}")
    return data


def int_arg(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}",
                       [{"field": name, "where": name, "message": f"must be a whole number from {low} to {high}"}])
    return number


# ---------------------------------------------------------------- problems → fields


def field_of(where: str, k: Kind | None, key: str | None = None, fields: tuple[str, ...] = (),
             service: str | None = None) -> str | None:
    """The request field a located problem is about, or None if it is about the object as a whole.

    Service problems come as ``extension.number`` (schema), ``extension number`` (duplicate key),
    ``extension 100 number`` or ``ring group 600 members`` (checks across the site), ``settings.rtp_end``,
    or, from services of objects that are not site kinds, ``<service>.<field>`` (``contact.numbers``).
    """
    prefixes: list[str | None] = ["settings.", *([f"{service}."] if service else [])]
    if k is not None:
        prefixes += [f"{k.name}.", f"{k.label} {key} " if key else None]
        if where in (f"{k.name} {k.key}", f"{k.label} {k.key}"):
            return k.key
    for prefix in prefixes:
        if prefix and where.startswith(prefix):
            return where[len(prefix):]
    last = where.rsplit(" ", 1)[-1]
    return last if last in fields else None


def problems_json(problems: list[Problem], k: Kind | None = None, key: str | None = None,
                  fields: tuple[str, ...] = (), service: str | None = None) -> list[dict]:
    out = []
    for p in problems:
        item: dict[str, str | int | None] = {"field": field_of(p.where, k, key, fields, service), "where": p.where,
                                             "message": message_text(p.message)}
        if p.line:
            item["line"] = p.line
        out.append(item)
    return out


def summary(problems: list[Problem], limit: int = 3) -> str:
    text = problems_text(problems[:limit])
    return text + (gettext(" (and %(count)s more)", count=len(problems) - limit) if len(problems) > limit else "")


# ---------------------------------------------------------------- errors out


@blueprint.errorhandler(ApiError)
def _api_error(error: ApiError):
    return error_response(error.status, error.message, error.problems, error.headers)


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    headers = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(error.code or 500, error.description or error.name, headers=headers)


@blueprint.errorhandler(Exception)
def _unexpected(error: Exception):
    trouble = storage_trouble(error)  # disk full, database busy: 503 with what to do, not an internal error
    if trouble:
        log.error("the database refused a write (%s %s): %s", request.method, request.path, error)
        return error_response(503, trouble)
    log.exception("unhandled error in the REST API (%s %s)", request.method, request.path)
    return error_response(500, gettext("internal error: the details are in the system log"))


@blueprint.before_app_request
def _routing_errors():
    """Unknown paths and methods under /api/ answer JSON too (they never reach the blueprint's handlers)."""
    error = request.routing_exception
    if error is None or not (request.path == "/api" or request.path.startswith("/api/")):
        return None
    if isinstance(error, MethodNotAllowed):
        return error_response(405, gettext("%(method)s is not allowed on %(path)s", method=request.method,
                                     path=request.path),
                              headers={"Allow": ", ".join(sorted(error.valid_methods or []))})
    if isinstance(error, NotFound):
        return error_response(404, gettext("no API endpoint at %(path)s (see %(openapi)s)", path=request.path,
                                     openapi=f"{PREFIX}/openapi.json"))
    return None
