"""The REST API's endpoints: site objects of every kind, phonebook contacts, settings, apply/rollback/generations,
audit.

Every change goes through the service functions (``appliance.site.service``, ``appliance.phonebook``), which
validate, write and audit in one transaction under the calling user's name; nothing here decides what is valid.
"""

from __future__ import annotations

import base64
from typing import TypeVar

from flask import current_app, jsonify, request, url_for
from flask_babel import gettext
from pydantic import BaseModel, ValidationError

from appliance.callcenter import callrecords
from appliance.errors import SiteError, from_pydantic
from appliance.model import audit
from appliance.phonebook import contacts as phonebook
from appliance.provisioning import apply as apply_mod
from appliance.provisioning import live, prompts
from appliance.provisioning.generations import list_generations
from appliance.site import queries, service
from appliance.site.kinds import KINDS, Kind
from appliance.web.api import openapi
from appliance.web.api.core import (
    ANY_USER,
    CALLS_READ,
    DIAL,
    PHONEBOOK_READ,
    READ,
    WRITE,
    ApiError,
    allow,
    blueprint,
    caller,
    int_arg,
    json_body,
    problems_json,
    public,
    requires,
    summary,
)
from appliance.web.api.requests import (
    DEFAULT_PAGE,
    MAX_PAGE,
    ApplyRequest,
    DialRequest,
    PromptRecording,
    RollbackRequest,
)
from appliance.web.callcenter import dial_for
from appliance.web.i18n import error_text, message_text

# ---------------------------------------------------------------- paging


def _paging() -> tuple[int, int]:
    """``limit`` and ``offset`` from the query string (400 naming the parameter when out of range)."""
    return int_arg("limit", DEFAULT_PAGE, 1, MAX_PAGE), int_arg("offset", 0, 0, 10**9)


def _page(items: list[dict], total: int, limit: int, offset: int):
    return jsonify({"items": items, "total": total, "limit": limit, "offset": offset})


# ---------------------------------------------------------------- site objects


def _view(k: Kind, data: dict) -> dict:
    """An object as the caller may see it: secrets only for admins."""
    if caller().is_admin:
        return data
    return audit.masked(data, k.secrets)


def _dump(obj) -> dict:
    return obj.model_dump(mode="json")


def _fields(k: Kind) -> tuple[str, ...]:
    return tuple(k.schema.model_fields)


def _site_error(error: SiteError, k: Kind, key: str | None, status: int = 422) -> ApiError:
    return ApiError(status, summary(error.problems), problems_json(error.problems, k, key, _fields(k)))


def _location(k: Kind, key: str) -> str:
    return url_for(f"api.{k.name}_item", key=key)


def _not_found(k: Kind, key: str) -> ApiError:
    return ApiError(404, f"{k.label} {key} does not exist")


def list_objects(k: Kind):
    q = request.args.get("q", "").strip()
    limit, offset = _paging()
    objects, total = queries.page_objects(k.name, q, limit, offset)
    return _page([_view(k, _dump(obj)) for obj in objects], total, limit, offset)


def create_object(k: Kind):
    data = json_body()
    try:
        obj = service.validate(k.name, data)
    except SiteError as error:
        raise _site_error(error, k, None) from None
    key = getattr(obj, k.key)
    if service.get_object(k.name, key) is not None:
        exists = gettext("%(kind)s %(key)s already exists", kind=gettext(k.label), key=key)
        raise ApiError(409, exists, [{"field": k.key, "where": f"{k.name} {k.key}", "message": exists}])
    try:
        # the validated object, so generated secrets are the ones stored and answered
        saved = service.save_object(k.name, obj.model_dump(), caller().username, create=True)
    except SiteError as error:
        raise _site_error(error, k, key) from None
    response = jsonify(_view(k, _dump(saved)))
    response.status_code = 201
    response.headers["Location"] = _location(k, key)
    _live_headers(response, live.after_change(_install().target(), k.name, key, caller().username))
    return response


def _live_headers(response, pushed: live.PushResult | None) -> None:
    """Whether the change is live (the object road, ``appliance.provisioning.live``): ``X-Linebox-Live`` says
    ``yes; revision=N`` or ``no; <why>``, ``X-Linebox-Apply-Needed`` what still waits for a full apply."""
    if pushed is None:
        return
    response.headers["X-Linebox-Live"] = (f"yes; revision={pushed.revision}" if pushed.ok
                                          else f"no; {pushed.error}".replace("\n", " "))
    if pushed.apply_needed:
        response.headers["X-Linebox-Apply-Needed"] = pushed.apply_needed


def get_object(k: Kind, key: str):
    obj = service.get_object(k.name, key)
    if obj is None:
        raise _not_found(k, key)
    return jsonify(_view(k, _dump(obj)))


def replace_object(k: Kind, key: str):
    data = json_body()
    current = service.get_object(k.name, key)
    if current is None:
        raise _not_found(k, key)
    data.setdefault(k.key, key)
    for name in k.secrets:  # a PUT never rotates a password by leaving it out
        data.setdefault(name, getattr(current, name))
    try:
        obj = service.validate(k.name, data)
    except SiteError as error:
        raise _site_error(error, k, key) from None
    new_key = getattr(obj, k.key)
    if new_key != key and service.get_object(k.name, new_key) is not None:
        exists = gettext("%(kind)s %(key)s already exists", kind=gettext(k.label), key=new_key)
        raise ApiError(409, gettext("cannot rename %(kind)s %(key)s: %(problem)s", kind=gettext(k.label), key=key,
                                    problem=exists),
                       [{"field": k.key, "where": f"{k.name} {k.key}", "message": exists}])
    try:
        saved = service.save_object(k.name, obj.model_dump(), caller().username, original_key=key)
    except SiteError as error:
        raise _site_error(error, k, new_key) from None
    response = jsonify(_view(k, _dump(saved)))
    response.headers["Location"] = _location(k, new_key)
    _live_headers(response, live.after_change(_install().target(), k.name, str(new_key), caller().username,
                                              current))
    return response


def delete_object(k: Kind, key: str):
    current = service.get_object(k.name, key)
    if current is None:
        raise _not_found(k, key)
    try:
        service.delete_object(k.name, key, caller().username)
    except SiteError as error:
        raise _site_error(error, k, key, status=409) from None
    response = current_app.response_class(status=204)
    _live_headers(response, live.after_change(_install().target(), k.name, None, caller().username, current))
    return response


def _register_kind(k: Kind) -> None:
    """``/<plural>`` and ``/<plural>/<key>`` for one kind, with endpoints named ``api.<kind>_list|_item``."""
    def collection():
        if request.method in ("GET", "HEAD"):
            allow(READ)
            return list_objects(k)
        allow(WRITE)
        return create_object(k)

    def item(key: str):
        if request.method in ("GET", "HEAD"):
            allow(READ)
            return get_object(k, key)
        allow(WRITE)
        return replace_object(k, key) if request.method == "PUT" else delete_object(k, key)

    blueprint.add_url_rule(f"/{k.plural}", f"{k.name}_list", collection, methods=["GET", "POST"],
                           provide_automatic_options=False)
    blueprint.add_url_rule(f"/{k.plural}/<key>", f"{k.name}_item", item,
                           methods=["GET", "PUT", "DELETE"], provide_automatic_options=False)


for _kind in KINDS.values():
    _register_kind(_kind)


# ---------------------------------------------------------------- phonebook contacts
#
# Not site objects (no apply; ``appliance.phonebook``): keyed by their numeric id, which the service
# assigns, so there is no 409 and a PUT never moves one.  Readers as on the console's Phonebook page.


def _contact_error(error: SiteError) -> ApiError:
    return ApiError(422, summary(error.problems), problems_json(error.problems, service=phonebook.KIND))


def _no_contact(contact_id: str) -> ApiError:
    return ApiError(404, f"contact {contact_id} does not exist")


def _existing_contact(contact_id: str) -> dict:
    contact = phonebook.get_contact(contact_id)  # None for ids that are not whole numbers too
    if contact is None:
        raise _no_contact(contact_id)
    return contact


def _contact_reply(contact: dict, status: int = 200):
    response = jsonify(contact)
    response.status_code = status
    response.headers["Location"] = url_for("api.contact_item", contact_id=contact["id"])
    return response


def contact_collection():
    if request.method in ("GET", "HEAD"):
        allow(PHONEBOOK_READ)
        limit, offset = _paging()
        items, total = phonebook.list_contacts(request.args.get("q", ""), limit, offset)
        return _page(items, total, limit, offset)
    allow(WRITE)
    data = json_body()
    try:
        contact = phonebook.create_contact(data, caller().username)
    except SiteError as error:
        raise _contact_error(error) from None
    return _contact_reply(contact, 201)


def contact_item(contact_id: str):
    if request.method in ("GET", "HEAD"):
        allow(PHONEBOOK_READ)
        return jsonify(_existing_contact(contact_id))
    allow(WRITE)
    if request.method == "DELETE":
        _existing_contact(contact_id)
        try:
            phonebook.delete_contact(contact_id, caller().username)
        except SiteError:  # deleted meanwhile by someone else
            raise _no_contact(contact_id) from None
        return "", 204
    data = json_body()
    current = _existing_contact(contact_id)
    try:
        contact = phonebook.update_contact(current["id"], data, caller().username)
    except SiteError as error:
        if phonebook.get_contact(current["id"]) is None:  # deleted meanwhile by someone else
            raise _no_contact(contact_id) from None
        raise _contact_error(error) from None
    return _contact_reply(contact)


blueprint.add_url_rule("/contacts", "contact_list", contact_collection, methods=["GET", "POST"],
                       provide_automatic_options=False)
blueprint.add_url_rule("/contacts/<contact_id>", "contact_item", contact_item, methods=["GET", "PUT", "DELETE"],
                       provide_automatic_options=False)


# ---------------------------------------------------------------- settings


@blueprint.route("/settings", methods=["GET"], provide_automatic_options=False)
@requires(READ)
def settings_get():
    return jsonify(service.load_settings().model_dump(mode="json"))


@blueprint.route("/settings", methods=["PUT"], provide_automatic_options=False)
@requires(WRITE)
def settings_put():
    data = json_body()
    try:
        settings = service.save_settings(data, caller().username)
    except SiteError as error:
        raise ApiError(422, summary(error.problems), problems_json(error.problems)) from None
    return jsonify(settings.model_dump(mode="json"))


# ---------------------------------------------------------------- apply, rollback, generations


def _install():
    return current_app.extensions["linebox.install"]


_Request = TypeVar("_Request", bound=BaseModel)


def _request_model(model: type[_Request], data: dict) -> _Request:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = from_pydantic(error)
        raise ApiError(422, summary(problems), [{"field": p.where, "where": p.where,
                                                 "message": message_text(p.message)} for p in problems]) from None


def _result_json(result: apply_mod.ApplyResult, dry_run: bool) -> dict:
    return {
        "ok": result.ok,
        "dry_run": dry_run,
        "error": result.error,
        "rolled_back": result.rolled_back,
        "generation": result.generation,
        "changed": list(result.changed),
        "diff": apply_mod.redact(result.diff),
        "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail, "seconds": round(s.seconds, 4)}
                  for s in result.steps],
    }


@blueprint.route("/apply", methods=["POST"], provide_automatic_options=False)
@requires(WRITE)
def apply_post():
    body = _request_model(ApplyRequest, json_body(required=False))
    install = _install()

    # apply and rollback hold the install's one apply lock themselves (a wait, then 409 naming the holder)
    result = apply_mod.apply(service.snapshot, install.facts(), install.target(), user=caller().username,
                             dry_run=body.dry_run, with_diff=body.diff)
    if not body.diff:
        result.diff = ""
    return jsonify(_result_json(result, body.dry_run)), 200 if result.ok else 409


@blueprint.route("/rollback", methods=["POST"], provide_automatic_options=False)
@requires(WRITE)
def rollback_post():
    body = _request_model(RollbackRequest, json_body(required=False))
    install = _install()
    result = apply_mod.rollback(install.target(), body.generation, user=caller().username)
    return jsonify(_result_json(result, False)), 200 if result.ok else 409


@blueprint.route("/generations", methods=["GET"], provide_automatic_options=False)
@requires(READ)
def generations_get():
    target = _install().target()
    items = []
    for g in list_generations(target):
        items.append({"id": g["id"], "live": bool(g["live"]), "when": str(g.get("when", "")),
                      "user": str(g.get("user", "")), "changed": [str(c) for c in g.get("changed", [])],
                      "failed": (target.generations_dir / g["id"] / "FAILED").exists()})
    return jsonify({"items": items, "total": len(items)})


# ---------------------------------------------------------------- prompts


@blueprint.route("/prompts", methods=["GET"], provide_automatic_options=False)
@requires(READ)
def prompts_get():
    items = [{"name": st.prompt.name, "language": st.language, "text": st.text, "source": st.source,
              "used_by": st.prompt.used_by}
             for st in prompts.states(_install().prompt_place().recordings)]
    return jsonify({"items": items, "total": len(items)})


def _prompt_error(error: prompts.PromptError) -> ApiError:
    field = str(error).partition(": ")[0]  # the field's name, as the English message starts with it
    text = error_text(error)
    message = next((text.partition(sep)[2] for sep in (": ", "：") if sep in text), text)
    return ApiError(422, text, [{"field": field, "where": field, "message": message}])


@blueprint.route("/prompts/<language>/<path:name>", methods=["PUT"], provide_automatic_options=False)
@requires(WRITE)
def prompt_put(language: str, name: str):
    body = _request_model(PromptRecording, json_body())
    try:
        data = base64.b64decode(body.audio_base64, validate=True)
    except ValueError:  # binascii.Error, and non-ASCII text
        raise ApiError(422, "audio_base64: not base64", [{"field": "audio_base64", "where": "audio_base64",
                                                          "message": "not base64"}]) from None
    try:
        made = prompts.replace_recorded(name, language, data, body.filename, _install().prompt_place(),
                                        caller().username)
    except prompts.PromptError as error:
        raise _prompt_error(error) from None
    return jsonify({"name": name, "language": language, "source": "recording", "seconds": made.seconds})


@blueprint.route("/prompts/<language>/<path:name>", methods=["DELETE"], provide_automatic_options=False)
@requires(WRITE)
def prompt_delete(language: str, name: str):
    try:
        had = prompts.revert_recorded(name, language, _install().prompt_place(), caller().username)
    except prompts.PromptError as error:
        raise _prompt_error(error) from None
    return jsonify({"name": name, "language": language, "reverted": had})


@blueprint.before_app_request
def _allow_prompt_recordings() -> None:
    # a recording is larger than any other request: raise the 1 MB limit for this one route only
    if request.endpoint == "api.prompt_put":
        request.max_content_length = 28_000_000 + 64 * 1024


# ---------------------------------------------------------------- call records


def _money(value) -> str | None:
    return None if value is None else str(value)


def _call_json(call: callrecords.Call, legs: bool = False) -> dict:
    out = {"id": call.linkedid, "start": call.start, "from": call.caller, "to": call.called, "outcome": call.outcome,
           "talk_seconds": call.talk_seconds, "total_seconds": call.total_seconds, "extension": call.extension,
           "queues": call.queues, "trunk": call.trunk, "number_class": call.number_class,
           "cost": _money(call.cost), "currency": call.currency, "legs": len(call.legs)}
    if legs:
        out["legs"] = [{"uniqueid": leg.uniqueid, "start": leg.start, "answer": leg.answer, "end": leg.end,
                        "from": leg.src, "to": leg.number or leg.dst, "application": leg.lastapp,
                        "channel": leg.channel, "peer_channel": leg.dstchannel, "outcome": leg.outcome,
                        "talk_seconds": leg.billsec, "total_seconds": leg.duration, "trunk": leg.trunk,
                        "number_class": leg.number_class, "cost": _money(leg.cost), "currency": leg.currency,
                        "inbound_trunk": leg.inbound_trunk, "inbound_cost": _money(leg.inbound_cost),
                        "inbound_currency": leg.inbound_currency}
                       for leg in call.legs]
    return out


@blueprint.route("/calls", methods=["GET"], provide_automatic_options=False)
@requires(CALLS_READ)
def calls_list():
    """Calls matching the filters (the console's Call records search), newest first, one item per call."""
    limit, offset = _paging()
    try:
        search = callrecords.parse_search({name: request.args.get(name, "") for name in callrecords.FILTERS})
    except SiteError as error:
        raise ApiError(422, summary(error.problems), problems_json(error.problems, fields=callrecords.FILTERS)) \
            from None
    found, total = callrecords.search_calls(search, limit=limit, offset=offset)
    return _page([_call_json(call) for call in found], total, limit, offset)


@blueprint.route("/calls/<id>", methods=["GET"], provide_automatic_options=False)
@requires(CALLS_READ)
def calls_item(id: str):  # noqa: A002 (the path names it as the document does)
    """One call: its legs, queue stays, queue events and recordings (paths for the console's player)."""
    found = callrecords.call_detail(id[:64], _install().recordings_dir)
    if found is None:
        raise ApiError(404, gettext("No call %(call)s.", call=id[:64]))
    return jsonify({**_call_json(found.call, legs=True),
                    "queue_stays": [{"queue": s.queue, "entered": s.entered, "outcome": s.outcome,
                                     "wait_seconds": s.wait_seconds, "talk_seconds": s.talk_seconds,
                                     "agent": s.agent} for s in found.stays],
                    "events": [{"time": e.time, "queue": e.queue, "agent": e.agent, "event": e.event,
                                "data": e.data} for e in found.events],
                    "recordings": [{"path": r.path, "who": r.who, "seconds": r.seconds,
                                    "url": url_for("recordings.play", relative=r.path)} for r in found.recordings]})


# ---------------------------------------------------------------- click-to-dial


@blueprint.route("/dial", methods=["POST"], provide_automatic_options=False)
@requires(DIAL)
def dial_post():
    """Ring the caller's own phone (the extension their console follows), then dial the number from it."""
    request_body = _request_model(DialRequest, json_body())
    try:
        number = dial_for(caller().username, request_body.number)
    except SiteError as error:
        raise ApiError(422, summary(error.problems), problems_json(error.problems, fields=("number", "extension"))) \
            from None
    return jsonify({"number": number, "status": "ringing"}), 202


# ---------------------------------------------------------------- audit, me, openapi


@blueprint.route("/audit", methods=["GET"], provide_automatic_options=False)
@requires(READ)
def audit_get():
    limit, offset = _paging()
    entries, total = queries.page_audit(request.args.get("kind", "").strip(), request.args.get("user", "").strip(),
                                        limit, offset)
    items = [{"id": e.id, "when": e.when.isoformat(timespec="seconds") + "Z", "user": e.user, "action": e.action,
              "kind": e.kind, "key": e.key, "before": e.before, "after": e.after} for e in entries]
    return _page(items, total, limit, offset)


@blueprint.route("/me", methods=["GET"], provide_automatic_options=False)
@requires(ANY_USER)
def me_get():
    who = caller()
    return jsonify({"username": who.username, "role": who.role, "via": who.via})


@blueprint.route("/openapi.json", methods=["GET"], provide_automatic_options=False)
@public
def openapi_get():
    """The document with its summaries and descriptions in the caller's language, as far as the catalog
    has them (marked ``N_`` or built as a ``Message`` in ``openapi``); names, keys and the schemas' own
    words stay as they are."""
    return jsonify(_in_language(openapi.document()))


def _in_language(node, key: str = ""):
    """A copy of ``node`` whose ``summary`` and ``description`` texts are in the request's language."""
    if isinstance(node, dict):
        return {name: _in_language(value, name) for name, value in node.items()}
    if isinstance(node, list):
        return [_in_language(item) for item in node]
    if key in ("summary", "description") and isinstance(node, str):
        return message_text(node)
    return node
