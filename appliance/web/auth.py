"""Log in, log out, change password; and the rule that a one-time password must be replaced first.

The session cookie carries only a server-side session's token (``appliance.access.sessions``):
log out, a password or role change and deleting the user end it on the server, so a copied
cookie stops working, and its idle and absolute lifetimes are the server's, not the cookie's.

CSRF tokens are checked for every POST by Flask-WTF's ``CSRFProtect`` (see ``create_app``), so log out
needs no form class of its own beyond the token it renders.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from appliance.access import accounts, sessions
from appliance.errors import SiteError
from appliance.model.models import User
from appliance.web.forms import EmptyForm, LoginForm, PasswordForm, required_text, show_problems
from appliance.web.i18n import N_

blueprint = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = N_("Please log in.")
login_manager.localize_callback = _  # Flask-Login translates its message when it flashes it
login_manager.login_message_category = "info"

# pages a user with a one-time password may still reach
ALLOWED_BEFORE_PASSWORD_CHANGE = {"auth.password", "auth.logout", "auth.login", "static"}


class ConsoleUser(UserMixin):
    """The logged-in user as flask-login sees it; its id is the server-side session's token."""

    def __init__(self, user: User, token: str):
        self.username = user.username
        self.role = user.role
        self.must_change_password = user.must_change_password
        self.language = user.language  # "" follows the browser (appliance.web.i18n)
        self.session_token = token

    def get_id(self) -> str:
        return self.session_token


@login_manager.user_loader
def _load_user(value: str) -> ConsoleUser | None:
    user = sessions.user_for_session(value)
    return ConsoleUser(user, value) if user else None


def _start(user: User) -> None:
    """Log this browser in as ``user`` with a new server-side session (a fresh cookie: no fixation)."""
    session.clear()
    session.permanent = True
    login_user(ConsoleUser(user, sessions.start_session(user, request.remote_addr or "")))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.before_request(_require_password_change)
    app.context_processor(lambda: {"logout_form": EmptyForm()})


def _require_password_change():
    if (current_user.is_authenticated and current_user.must_change_password
            and request.endpoint not in ALLOWED_BEFORE_PASSWORD_CHANGE):
        return redirect(url_for("auth.password"))
    return None


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this console, else None: never an open redirect to another host."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return None


def _safe_next(target: str | None) -> str:
    return safe_next(target) or url_for("views.status")


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("views.status"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.verify_login(required_text(form.username), required_text(form.password),
                                         request.remote_addr or "")
        except accounts.LoginThrottled as error:
            show_problems(form, error)
            user, status = None, 429
        else:
            if user is None:
                form.password.errors = [*form.password.errors, _("wrong username or password")]
                status = 401
        if user is not None:
            _start(user)
            if user.must_change_password:
                return redirect(url_for("auth.password"))
            return redirect(_safe_next(request.args.get("next")))
    elif form.errors:
        status = 422
    return render_template("login.html", form=form), status


@blueprint.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        sessions.end_session(current_user.session_token)
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@blueprint.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.change_own_password(current_user.username, required_text(form.current_password),
                                                required_text(form.new_password))
        except SiteError as error:
            show_problems(form, error)
            status = 422
        else:
            _start(user)  # the change ended every session of this user: this browser gets a new one
            flash(_("Your password is changed."), "info")
            return redirect(url_for("views.status"))
    elif form.errors:
        status = 422
    return render_template("password.html", form=form, forced=current_user.must_change_password), status
