"""Generic pages for every kind of site object: list (search, paging), create, edit, delete with confirmation."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from appliance.errors import SiteError
from appliance.provisioning import live
from appliance.robot import engines
from appliance.site import queries, service
from appliance.site.kinds import choice_label, sentence_case
from appliance.support import status
from appliance.web import objectforms, roles
from appliance.web.forms import EmptyForm
from appliance.web.i18n import message_text, problem_text
from appliance.web.pages import blueprint
from appliance.web.pages.common import SLUG_RULE, Paging, install, kind_for, page_number
from appliance.web.roles import ADMIN, VIEWERS, require_role

MAX_QUERY = 80


def _cell(f: objectforms.FormField, obj) -> str:
    """A table cell in the page's language: a choice's and a yes/no's words through the catalog, data as typed."""
    if f.widget == "destination":
        return roles.destination_text(getattr(obj, f.name))
    text = objectforms.cell(f, obj)
    return gettext(text) if f.widget in ("select", "checkbox") and text else text


@blueprint.route(f"/<{SLUG_RULE}:slug>/")
@require_role(*VIEWERS)
def objects_list(slug: str):
    k = kind_for(slug)
    q = request.args.get("q", "").strip()[:MAX_QUERY]
    page = page_number()
    items, total = queries.page_objects(k.name, q, Paging(page, 0).per_page, Paging(page, 0).offset)
    # whether each phone on the page is registered: one question to Asterisk for the page, "unknown" without it
    registrations = (status.phone_registrations(install(), [str(getattr(o, k.key)) for o in items])
                     if k.name == "extension" else None)
    # the voice robots' page says which recognisers and models this box has (nothing is fetched)
    speech = None
    if k.name == "robot":
        folder = engines.models_dir(install().home)
        speech = {"engines": engines.engines(), "models": engines.models(folder), "folder": folder}
    return render_template(
        "objects_list.html", kind=k, slug=slug, q=q, items=items, paging=Paging(page, total),
        columns=objectforms.list_columns(k.name), cell=_cell, registrations=registrations, speech=speech,
        nav_active=slug)


def _form_page(k, slug: str, key: str | None, values: dict, errors: dict, general: list[str], status: int = 200):
    fields = objectforms.form_fields(k.name)
    destinations = objectforms.destination_choices() if any(f.widget == "destination" for f in fields) else None
    return render_template(
        "object_form.html", kind=k, slug=slug, key=key, fields=fields, values=values, errors=errors,
        general=general, destinations=destinations, references=objectforms.references(k.name), form=EmptyForm(),
        choice_label=choice_label, nav_active=slug), status


def _submit(k, slug: str, key: str | None, existing):
    """Read the posted form and save it; on any problem show the form again as typed, nothing stored."""
    submitted = objectforms.read_form(k.name, request.form, existing)
    if objectforms.is_move(request.form):  # an up/down button: the same form, rearranged, nothing stored
        return _form_page(k, slug, key, submitted.raw, {}, [])
    new_key = str(submitted.data.get(k.key, "")).strip()
    general: list[str] = []
    try:
        if submitted.errors:
            # some lines could not be read: still report what the schema says about the rest, store nothing
            service.validate(k.name, submitted.data)
        else:
            service.save_object(k.name, submitted.data, current_user.username, original_key=key, create=key is None)
            what = sentence_case(str(roles.kind_label(k.name)))
            pushed = live.after_change(install().target(), k.name, new_key, current_user.username, existing)
            if pushed is not None:
                _flash_live(pushed, what, new_key, created=key is None)
            else:
                flash(gettext("%(kind)s %(key)s created. It takes effect when you apply the changes.", kind=what,
                              key=new_key) if key is None else
                      gettext("%(kind)s %(key)s saved. It takes effect when you apply the changes.", kind=what,
                              key=new_key), "info")
            return redirect(url_for("pages.objects_list", slug=slug, q=new_key if key is None else None))
    except SiteError as error:
        # a field with unreadable lines already says so; the schema's view of the lines that were read would confuse
        problems = [p for p in error.problems if _field_of(k, p.where) not in submitted.errors]
        general = objectforms.place_problems(k.name, new_key, problems, submitted)
    return _form_page(k, slug, key, submitted.raw, submitted.errors, general, 422)


def _flash_live(pushed: live.PushResult, what: str, key: str, created: bool = False, deleted: bool = False) -> None:
    """What a saved object that goes the object road (``appliance.provisioning.live``) says: live at once,
    live with a part still waiting for Apply, or refused by Asterisk with the previous version kept."""
    if not pushed.ok:
        flash(gettext("%(kind)s %(key)s is saved, but Asterisk refused it: %(why)s", kind=what, key=key,
                      why=message_text(pushed.error)), "error")
    elif deleted:
        flash(gettext("%(kind)s %(key)s deleted: its phone can no longer register.", kind=what, key=key), "info")
    elif created:
        flash(gettext("%(kind)s %(key)s created and live: its phone can register now.", kind=what, key=key), "info")
    else:
        flash(gettext("%(kind)s %(key)s saved and live.", kind=what, key=key), "info")
    if pushed.ok and pushed.apply_needed:
        flash(gettext("The rest takes effect when you apply the changes: %(why)s.",
                      why=message_text(pushed.apply_needed)), "info")


def _field_of(k, where: str) -> str | None:
    prefix = k.name + "."
    return where[len(prefix):].split(".")[0] if where.startswith(prefix) else None


@blueprint.route(f"/<{SLUG_RULE}:slug>/new", methods=["GET", "POST"])
@require_role(ADMIN)
def objects_new(slug: str):
    k = kind_for(slug)
    if request.method == "POST":
        return _submit(k, slug, None, None)
    return _form_page(k, slug, None, objectforms.initial_values(k.name, None), {}, [])


@blueprint.route(f"/<{SLUG_RULE}:slug>/edit/<key>", methods=["GET", "POST"])
@require_role(*VIEWERS)
def objects_edit(slug: str, key: str):
    k = kind_for(slug)
    existing = service.get_object(k.name, key)
    if existing is None:
        abort(404)
    if request.method == "POST":
        return _submit(k, slug, key, existing)
    return _form_page(k, slug, key, objectforms.initial_values(k.name, existing), {}, [])


@blueprint.route(f"/<{SLUG_RULE}:slug>/delete/<key>", methods=["GET", "POST"])
@require_role(ADMIN)
def objects_delete(slug: str, key: str):
    k = kind_for(slug)
    existing = service.get_object(k.name, key)
    if existing is None:
        abort(404)
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            service.delete_object(k.name, key, current_user.username)
        except SiteError as error:
            problems = [problem_text(p) if p.where not in (k.name,) else message_text(p.message)
                        for p in error.problems]
            status = 409
        else:
            what = sentence_case(str(roles.kind_label(k.name)))
            pushed = live.after_change(install().target(), k.name, None, current_user.username, existing)
            if pushed is not None:
                _flash_live(pushed, what, key, deleted=True)
            else:
                flash(gettext("%(kind)s %(key)s deleted. It takes effect when you apply the changes.",
                              kind=what, key=key), "info")
            return redirect(url_for("pages.objects_list", slug=slug))
    summary = [(gettext(f.label), _cell(f, existing)) for f in objectforms.list_columns(k.name)]
    return render_template("object_delete.html", kind=k, slug=slug, key=key, summary=summary, problems=problems,
                           form=EmptyForm(), nav_active=slug), status
