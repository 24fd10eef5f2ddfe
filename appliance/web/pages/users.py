"""Console users: list them (admins and technicians); create, change the role of, reset or delete one (admins).

A new user and a reset both get a one-time password, shown once on the page
that answers the POST (never put in a redirect or a flash message, which
would carry it in the session cookie); the user must replace it at first login.

Changing a role or deleting a user is refused for your own account and for the
last admin (``accounts.set_role``/``delete_user`` decide; the page shows why next
to the user's role).  Delete asks first on a page of its own.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # WTForms 3.2, not in its stubs yet
from wtforms.validators import DataRequired, Length

from appliance.access import accounts, apitokens
from appliance.errors import SiteError
from appliance.web.forms import EmptyForm, required_text, show_problems
from appliance.web.i18n import message_text
from appliance.web.pages import blueprint
from appliance.web.roles import ADMIN, VIEWERS, require_role, role_label

ROLE_HELP = {
    "admin": _l("everything"),
    "technician": _l("sees every page, changes nothing"),
    "supervisor": _l("status page (call-center pages to come)"),
    "agent": _l("status page (own queue state to come)"),
}


class NewUserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(message=_l("choose one")), Length(max=64)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, role_label(r)) for r in accounts.ROLES],
                       default="technician")


def _page(form: NewUserForm, status: int = 200, row_errors: dict[str, str] | None = None,
          chosen: dict[str, str] | None = None):
    """The users page; ``row_errors`` and ``chosen`` put a refused role change back next to its user."""
    return render_template("users.html", users=accounts.list_users(), form=form, reset_form=EmptyForm(),
                           tokens=apitokens.list_tokens(),
                           role_help=ROLE_HELP, roles=accounts.ROLES, row_errors=row_errors or {},
                           chosen=chosen or {}, nav_active="users"), status


def _user_or_404(username: str):
    user = accounts.get_user(username)
    if user is None:
        abort(404)
    return user


@blueprint.route("/users")
@require_role(*VIEWERS)
def users_page():
    return _page(NewUserForm(formdata=None))


@blueprint.route("/users", methods=["POST"])
@require_role(ADMIN)
def users_create():
    form = NewUserForm()
    if form.validate_on_submit():
        password = accounts.one_time_password()
        try:
            accounts.create_user(required_text(form.username).strip(), password, form.role.data,
                                 actor=current_user.username, must_change_password=True)
        except SiteError as error:
            show_problems(form, error)
        else:
            return render_template("user_password.html", username=required_text(form.username).strip(),
                                   password=password, created=True, nav_active="users")
    return _page(form, 422)


@blueprint.route("/users/<username>/role", methods=["POST"])
@require_role(ADMIN)
def users_role(username: str):
    _user_or_404(username)
    role = request.form.get("role", "")
    try:
        accounts.set_role(username, role, actor=current_user.username)
    except SiteError as error:
        message = gettext("; ").join(message_text(p.message) for p in error.problems)
        return _page(NewUserForm(formdata=None), 422, {username: message}, {username: role})
    flash(gettext("%(username)s is now %(role)s.", username=username, role=role_label(role)), "info")
    return redirect(url_for("pages.users_page"))


@blueprint.route("/users/<username>/delete", methods=["GET", "POST"])
@require_role(ADMIN)
def users_delete(username: str):
    user = _user_or_404(username)
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            accounts.delete_user(username, actor=current_user.username)
        except SiteError as error:
            problems = [message_text(p.message) for p in error.problems]
            status = 409
        else:
            flash(gettext("User %(username)s deleted.", username=username), "info")
            return redirect(url_for("pages.users_page"))
    return render_template("user_delete.html", user=user, problems=problems, form=EmptyForm(),
                           nav_active="users"), status


@blueprint.route("/users/<username>/tokens/<name>/revoke", methods=["POST"])
@require_role(ADMIN)
def users_token_revoke(username: str, name: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        apitokens.revoke_token(username, name, actor=current_user.username)
    except SiteError as error:
        flash(gettext("; ").join(message_text(p.message) for p in error.problems), "error")
    else:
        flash(gettext("API token %(token)s revoked.", token=f"{username}/{name}"), "info")
    return redirect(url_for("pages.users_page"))


@blueprint.route("/users/<username>/reset", methods=["POST"])
@require_role(ADMIN)
def users_reset(username: str):
    _user_or_404(username)
    password = accounts.one_time_password()
    accounts.set_password(username, password, actor=current_user.username, must_change_password=True)
    return render_template("user_password.html", username=username, password=password, created=False,
                           own=username == current_user.username, nav_active="users")
