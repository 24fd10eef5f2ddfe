"""Console users: list them (admins and technicians), create one or reset a password (admins).

A new user and a reset both get a one-time password, shown once on the page
that answers the POST (never put in a redirect or a flash message, which
would carry it in the session cookie); the user must replace it at first login.
"""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from appliance import accounts
from appliance.site.errors import SiteError
from appliance.web.forms import EmptyForm, show_problems
from appliance.web.pages import blueprint
from appliance.web.roles import ADMIN, VIEWERS, require_role

ROLE_HELP = {
    "admin": "everything",
    "technician": "sees every page, changes nothing",
    "supervisor": "status page (call-center pages to come)",
    "agent": "status page (own queue state to come)",
}


class NewUserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(message="choose one"), Length(max=64)])
    role = SelectField("Role", choices=[SelectChoice(r, r) for r in accounts.ROLES],
                       default="technician")


def _page(form: NewUserForm, status: int = 200):
    return render_template("users.html", users=accounts.list_users(), form=form, reset_form=EmptyForm(),
                           role_help=ROLE_HELP, nav_active="users"), status


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
            accounts.create_user(form.username.data.strip(), password, form.role.data, actor=current_user.username,
                                 must_change_password=True)
        except SiteError as error:
            show_problems(form, error)
        else:
            return render_template("user_password.html", username=form.username.data.strip(), password=password,
                                   created=True, nav_active="users")
    return _page(form, 422)


@blueprint.route("/users/<username>/reset", methods=["POST"])
@require_role(ADMIN)
def users_reset(username: str):
    if accounts.get_user(username) is None:
        abort(404)
    password = accounts.one_time_password()
    accounts.set_password(username, password, actor=current_user.username, must_change_password=True)
    return render_template("user_password.html", username=username, password=password, created=False,
                           own=username == current_user.username, nav_active="users")
