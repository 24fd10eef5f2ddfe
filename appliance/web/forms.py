"""The console's forms.  Only shape checks live here; the rules (password length, ...) are in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from appliance.errors import SiteError
from appliance.web.i18n import message_text


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(message=_l("enter your username")),
                                                       Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("enter your password")),
                                                         Length(max=256)])


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(message=_l("enter it"))])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(message=_l("choose one"))])
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(message=_l("type it again")),
                                        EqualTo("new_password", message=_l("does not match the new password"))])


def required_text(field: StringField) -> str:
    """A required field's text once its form validated: WTForms types ``data`` as ``str | None``, and
    with ``DataRequired`` passed it holds text."""
    return field.data or ""


class EmptyForm(FlaskForm):
    """A form with only its CSRF token (log out)."""


def show_problems(form: FlaskForm, error: SiteError) -> None:
    """Put each problem next to the field it names; the others go at the top of the form."""
    for problem in error.problems:
        field = getattr(form, problem.where, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message_text(problem.message)]
        else:
            form.form_errors.append(message_text(problem.message))
