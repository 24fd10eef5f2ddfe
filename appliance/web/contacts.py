"""The console's Phonebook page (``/contacts``): list and search, create, edit, delete, CSV import and export.

Admins change contacts; technicians and supervisors look them up.  The views only read the request and
call ``appliance.phonebook`` (which validates, writes and audits) and ``appliance.phonebook.csv_file``.
A contact changes nothing in Asterisk's configuration: no apply is needed, the caller-name lookup
(``linebox-agi.service``) sees the change on the next call.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from appliance.callcenter import agents
from appliance.errors import Problem, SiteError
from appliance.phonebook import contacts as phonebook
from appliance.phonebook import csv_file
from appliance.web.downloads import csv_download
from appliance.web.forms import EmptyForm, show_problems
from appliance.web.pages.common import Paging, page_number
from appliance.web.roles import ADMIN, AGENT, PHONEBOOK_READERS, can_edit, require_role

blueprint = Blueprint("contacts", __name__)
MAX_QUERY = 80


class ContactForm(FlaskForm):
    """Shape only; the rules (numbers, lengths) are the phonebook's schema's (``appliance.phonebook.schema``)."""

    name = StringField(_l("Name"), validators=[Length(max=200)])
    company = StringField(_l("Company"), validators=[Length(max=200)])
    numbers = TextAreaField(_l("Phone numbers (one a line)"), validators=[Length(max=2000)])
    note = TextAreaField(_l("Note"), validators=[Length(max=4000)])

    def data_for_service(self) -> dict:
        return {"name": self.name.data or "", "company": self.company.data or "",
                "numbers": self.numbers.data or "", "note": self.note.data or ""}


def _located(error: SiteError) -> SiteError:
    """``contact.numbers`` → ``numbers``, the form field's name."""
    return SiteError([Problem(p.where.removeprefix(f"{phonebook.KIND}."), p.message, p.line) for p in error.problems])


@blueprint.get("/contacts")
@require_role(*PHONEBOOK_READERS)
def page():
    q = request.args.get("q", "").strip()[:MAX_QUERY]
    paging = Paging(page_number(), 0)
    items, paging.total = phonebook.list_contacts(q, paging.per_page, paging.offset)
    # a user whose console follows an extension (an admin who claimed one on the agent page) calls from here
    dial_from = agents.extension_of(current_user.username) if current_user.role == ADMIN else None
    return render_template("contacts.html", items=items, q=q, paging=paging, nav_active="contacts",
                           dial_from=dial_from, dial_form=EmptyForm() if dial_from else None)


def _form_page(form: ContactForm, contact: dict | None, status: int = 200):
    # a new contact is only reached by those who may add one (agents included); the list only by its readers
    return render_template("contact_form.html", form=form, contact=contact, delete_form=EmptyForm(prefix="delete"),
                           nav_active="contacts", can_edit=can_edit() or contact is None,
                           back_to_list=current_user.role in PHONEBOOK_READERS), status


def _save(form: ContactForm, contact: dict | None):
    if not form.validate_on_submit():
        return _form_page(form, contact, 422 if request.method == "POST" else 200)
    try:
        if contact is None:
            saved = phonebook.create_contact(form.data_for_service(), current_user.username)
        else:
            saved = phonebook.update_contact(contact["id"], form.data_for_service(), current_user.username)
    except SiteError as error:
        show_problems(form, _located(error))
        return _form_page(form, contact, 422)
    flash(gettext("Contact %(name)s created.", name=saved["name"]) if contact is None else
          gettext("Contact %(name)s saved.", name=saved["name"]), "info")
    if current_user.role not in PHONEBOOK_READERS:  # an agent adding the caller from the pop goes back to it
        return redirect(url_for("callcenter.agent_page"))
    return redirect(url_for("contacts.page", q=saved["name"]))


# Agents add the caller who is not in the phonebook yet from their screen pop (the number filled in); they
# neither list, change nor delete contacts.
@blueprint.route("/contacts/new", methods=["GET", "POST"])
@require_role(ADMIN, AGENT, write=(ADMIN, AGENT))
def new():
    form = ContactForm()
    if request.method == "GET" and request.args.get("number"):
        form.numbers.data = request.args["number"].strip()[:MAX_QUERY]
    return _save(form, None)


@blueprint.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
@require_role(*PHONEBOOK_READERS)
def edit(contact_id: int):
    contact = phonebook.get_contact(contact_id)
    if contact is None:
        abort(404)
    if request.method == "GET":
        form = ContactForm(data={**contact, "numbers": "\n".join(contact["numbers"])})
        return _form_page(form, contact)
    return _save(ContactForm(), contact)


@blueprint.post("/contacts/<int:contact_id>/delete")
@require_role(ADMIN)
def delete(contact_id: int):
    if not EmptyForm(prefix="delete").validate_on_submit():
        abort(400)
    try:
        phonebook.delete_contact(contact_id, current_user.username)
    except SiteError:
        abort(404)
    flash(gettext("Contact deleted."), "info")
    return redirect(url_for("contacts.page"))


@blueprint.get("/contacts/export.csv")
@require_role(*PHONEBOOK_READERS)
def export_csv():
    return csv_download(csv_file.export_text(), "phonebook.csv")


@blueprint.route("/contacts/import", methods=["GET", "POST"])
@require_role(ADMIN)
def import_csv():
    problems: list[str] = []
    status = 200
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            problems = [gettext("choose a CSV file to import")]
        else:
            problems, counts = csv_file.import_bytes(upload.read(), current_user.username)
            if not problems:
                flash(gettext("Imported %(total)s contacts: %(created)s created, %(updated)s updated.",
                              total=counts["created"] + counts["updated"], created=counts["created"],
                              updated=counts["updated"]), "info")
                return redirect(url_for("contacts.page"))
        status = 422
    return render_template("contacts_import.html", problems=problems, columns=csv_file.COLUMNS, form=form,
                           nav_active="contacts"), status
