"""The OpenAPI 3.0 document for ``/api/v1``, generated from the pydantic schemas the services validate with.

Object schemas come from ``model_json_schema()`` and are converted to OpenAPI 3.0's dialect of JSON
Schema (``const`` → ``enum``, ``patternProperties`` → ``additionalProperties``, ``anyOf [.., null]``
→ ``nullable``), so the document and the validation can never drift apart; phonebook contacts'
schema is the phonebook's own (``appliance.phonebook.schema``).
"""

from __future__ import annotations

import copy
from functools import cache

from appliance.catalog import N_
from appliance.errors import Message
from appliance.phonebook import schema as phonebook_schema
from appliance.site import schemas
from appliance.site.kinds import KINDS, Kind
from appliance.web.api.core import ANY_USER, CALLS_READ, DIAL, PHONEBOOK_READ, READ, ROLES_FOR, WRITE
from appliance.web.api.requests import (
    DEFAULT_PAGE,
    MAX_PAGE,
    ApplyRequest,
    DialRequest,
    PromptRecording,
    RollbackRequest,
)

VERSION = "1.0.0"
MASKED_NOTE = N_("Secret: returned to admins; other roles get '********' (an empty value stays empty).")
# access levels with a fixed text; the others (READ, WRITE, PHONEBOOK_READ) list core.ROLES_FOR's roles
CALL_FILTERS = (
    ("number", "Caller, called or dialled number; a final * matches a prefix (0139*)."),
    ("extension", "Calls of this extension (calling, called or the agent)."),
    ("queue", "Calls that waited in this queue."),
    ("trunk", "Calls with a leg on this trunk (failover attempts included)."),
    ("outcome", "ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION."),
    ("from", "First day (YYYY-MM-DD, the site's day)."),
    ("to", "Last day, included."),
    ("min_cost", "At least this cost, in the call's currency."),
    ("max_cost", "At most this cost."),
)
ROLE_TEXT = {
    "any": N_("Roles: any logged-in role."),
    "public": N_("No authentication."),
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _response_ref(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def to_openapi30(node):
    """Rewrite a pydantic (JSON Schema 2020-12) schema into OpenAPI 3.0's subset, recursively."""
    if isinstance(node, list):
        return [to_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    node.pop("$defs", None)
    node.pop("propertyNames", None)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "examples" in node:
        examples = node.pop("examples")
        if isinstance(examples, list) and examples:
            node["example"] = examples[0]
    if "patternProperties" in node:
        patterns = node.pop("patternProperties")
        if len(patterns) == 1:
            (pattern, value), = patterns.items()
            node["additionalProperties"] = value
            node["description"] = (node.get("description", "") + f" Keys match {pattern}.").strip()
    for combiner in ("anyOf", "oneOf"):
        options = node.get(combiner)
        if isinstance(options, list) and any(o == {"type": "null"} for o in options):
            rest = [o for o in options if o != {"type": "null"}]
            node.pop(combiner)
            node["nullable"] = True
            if len(rest) == 1:
                node.update({k: v for k, v in rest[0].items() if k not in node})
            else:
                node[combiner] = rest
    return {key: (value if key in ("enum", "default", "example", "pattern") else to_openapi30(value))
            for key, value in node.items()}


def _model_schemas(model) -> dict[str, dict]:
    """The model's schema and the nested models it refers to, keyed by component name."""
    raw = model.model_json_schema(ref_template="#/components/schemas/{model}")
    out = {name: to_openapi30(sub) for name, sub in raw.get("$defs", {}).items()}
    out[model.__name__] = to_openapi30(raw)
    return out


def _view_schema(k: Kind, request_schema: dict) -> dict:
    """What the API answers: every field present; secrets may be masked, so they are plain strings there."""
    view = copy.deepcopy(request_schema)
    view["title"] = f"{k.schema.__name__} (as returned)"
    for name in k.secrets:
        view["properties"][name] = {"type": "string", "description": MASKED_NOTE}
    for prop in view["properties"].values():
        prop.pop("default", None)
    view["required"] = list(view["properties"])
    return view


def _update_schema(k: Kind, request_schema: dict) -> dict:
    update = copy.deepcopy(request_schema)
    update["title"] = f"{k.schema.__name__} (full update)"
    update["required"] = [r for r in update.get("required", []) if r != k.key]
    if not update["required"]:
        del update["required"]  # OpenAPI 3.0 wants a non-empty list or none (an IVR needs nothing but its name)
    update["description"] = (f"The whole {k.label}: omitted fields take their defaults, except `{k.key}` "
                             f"(default: the one in the path; a different one renames it)"
                             + (f" and the secrets ({', '.join(k.secrets)}), which keep their stored values."
                                if k.secrets else "."))
    return update


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _roles(access: str) -> list[str]:
    """The roles allowed ``access``: the same table ``core.allow`` enforces, so the two cannot disagree."""
    if access == "public":
        return []
    return list(ANY_USER if access == "any" else ROLES_FOR[access])


def _op(summary: str, access: str, responses: dict, *, tag: str, parameters: list | None = None,
        body: dict | None = None, body_required: bool = True, operation_id: str) -> dict:
    roles = _roles(access)
    op = {
        "summary": summary,
        "description": ROLE_TEXT.get(access) or Message(N_("Roles: %(roles)s."), roles=", ".join(roles)),
        "operationId": operation_id,
        "tags": [tag],
        "x-roles": roles,
        "responses": {},
    }
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": _json(body)}
    if access == "public":
        op["security"] = []
    else:
        responses = {**responses, "401": _response_ref("Unauthorized")}
        if access != "any":
            responses["403"] = _response_ref("Forbidden")
    if body is not None:
        responses.setdefault("400", _response_ref("BadRequest"))
        responses.setdefault("415", _response_ref("UnsupportedMediaType"))
        responses.setdefault("422", _response_ref("Unprocessable"))
    op["responses"] = dict(sorted(responses.items()))
    return op


def _paging_parameters(extra: list | None = None,
                       q: str = N_("Only objects whose key or name contains this text (case-insensitive).")
                       ) -> list[dict]:
    return [
        {"name": "q", "in": "query", "required": False, "description": q,
         "schema": {"type": "string", "maxLength": 200}},
        {"name": "limit", "in": "query", "required": False, "description": N_("Page size."),
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE}},
        {"name": "offset", "in": "query", "required": False, "description": N_("Objects to skip."),
         "schema": {"type": "integer", "minimum": 0, "maximum": 1000000000, "default": 0}},
        *(extra or []),
    ]


def _page_schema(view: str) -> dict:
    return {
        "type": "object",
        "required": ["items", "total", "limit", "offset"],
        "properties": {"items": {"type": "array", "items": _ref(view)},
                       "total": {"type": "integer", "minimum": 0, "description": N_("Objects matching q, all pages.")},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    }


def _collection_paths(plural: str, name: str, label: str, schema: str, key_param: dict, *, update: str,
                      read: str = READ, q: str | None = None, site_object: bool = True) -> dict:
    """List, create, get, replace and delete: ``/<plural>`` and ``/<plural>/{key}``, as ``routes`` serves them.

    ``schema`` names the request body's component; ``<schema>View`` and ``<schema>Page`` are the answers.
    Site objects (``site_object``) have keys their clients choose and refer to each other, hence the 409s
    (key taken, still in use) and renames; other objects (contacts) get ids from the service.
    """
    view = _json(_ref(f"{schema}View"))
    labels = KINDS[name].plural_text if name in KINDS else f"{label}s"
    location = {"Location": {"description": Message(N_("URL of the %(thing)s."), thing=Message(label)),
                             "schema": {"type": "string"}}}
    conflict = {"409": _response_ref("Conflict")} if site_object else {}
    still_used = {"409": {"description": N_("Refused: other objects still use it (the problems say which)."),
                          "content": _json(_ref("Error"))}} if site_object else {}
    return {
        f"/{plural}": {
            "get": _op(Message(N_("List %(things)s (search, paging)"), things=Message(labels)), read, {
                "200": {"description": Message(N_("One page of %(things)s."), things=Message(labels)),
                        "content": _json(_ref(f"{schema}Page"))},
                "400": _response_ref("BadRequest"),
            }, tag=plural, parameters=_paging_parameters(q=q) if q else _paging_parameters(),
                operation_id=f"list_{plural}"),
            "post": _op(Message(N_("Create a %(thing)s"), thing=Message(label)), WRITE, {
                "201": {"description": Message(N_("Created; the stored %(thing)s (with generated secrets).")
                                               if site_object else N_("Created; the stored %(thing)s."),
                                               thing=Message(label)),
                        "headers": location, "content": view},
                **conflict,
            }, tag=plural, body=_ref(schema), operation_id=f"create_{name}"),
        },
        f"/{plural}/{{{key_param['name']}}}": {
            "parameters": [key_param],
            "get": _op(Message(N_("Get a %(thing)s"), thing=Message(label)), read, {
                "200": {"description": Message(N_("The %(thing)s."), thing=Message(label)), "content": view},
                "404": _response_ref("NotFound"),
            }, tag=plural, operation_id=f"get_{name}"),
            "put": _op(Message(N_("Replace (or rename) a %(thing)s") if site_object else N_("Replace a %(thing)s"),
                           thing=Message(label)), WRITE, {
                "200": {"description": Message(N_("The stored %(thing)s; Location is its (possibly new) URL.")
                                               if site_object else N_("The stored %(thing)s; Location is its URL."),
                                               thing=Message(label)),
                        "headers": location, "content": view},
                "404": _response_ref("NotFound"),
                **conflict,
            }, tag=plural, body=_ref(update), operation_id=f"replace_{name}"),
            "delete": _op(Message(N_("Delete a %(thing)s"), thing=Message(label)), WRITE, {
                "204": {"description": N_("Deleted.")},
                "404": _response_ref("NotFound"),
                **still_used,
            }, tag=plural, operation_id=f"delete_{name}"),
        },
    }


def _kind_paths(k: Kind, components: dict) -> dict:
    name = k.schema.__name__
    request_schema = components[name]
    components[f"{name}View"] = _view_schema(k, request_schema)
    components[f"{name}Update"] = _update_schema(k, request_schema)
    components[f"{name}Page"] = _page_schema(f"{name}View")
    key_schema = {k2: v for k2, v in request_schema["properties"][k.key].items() if k2 != "title"}
    key_param = {"name": "key", "in": "path", "required": True,
                 "description": Message(N_("The %(thing)s's %(key)s."), thing=Message(k.label), key=k.key),
                 "schema": key_schema}
    return _collection_paths(k.plural, k.name, k.label, name, key_param, update=f"{name}Update")


def _contact_paths(components: dict) -> dict:
    """The phonebook (``appliance.phonebook``): its schema is the one its service validates with."""
    contact = _model_schemas(phonebook_schema.Contact)["Contact"]
    contact["properties"]["id"].pop("default", None)  # read-only: ignored when sent, never defaulted
    components["Contact"] = contact
    view = copy.deepcopy(contact)
    view["title"] = "Contact (as returned)"
    view.pop("description", None)
    view["properties"]["id"] = {"type": "integer", "minimum": 1}
    for prop in view["properties"].values():
        prop.pop("default", None)
    view["required"] = ["id", *phonebook_schema.FIELDS]
    components["ContactView"] = view
    components["ContactPage"] = _page_schema("ContactView")
    id_param = {"name": "contact_id", "in": "path", "required": True, "description": N_("The contact's id."),
                "schema": {"type": "integer", "minimum": 1}}
    return _collection_paths("contacts", "contact", "contact", "Contact", id_param, update="Contact",
                             read=PHONEBOOK_READ, site_object=False,
                             q="Only contacts whose name or company contains this text (case-insensitive), "
                               "or with a number containing it (compared without spaces, dashes, ...).")


def _common_schemas() -> dict:
    out = {
        "Problem": {
            "type": "object",
            "required": ["field", "where", "message"],
            "properties": {
                "field": {"type": "string", "nullable": True,
                          "description": N_("The request field at fault (dotted path for nested ones), or null.")},
                "where": {"type": "string", "description": N_("Where the service located the problem.")},
                "message": {"type": "string"},
                "line": {"type": "integer"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error", "problems"],
            "properties": {"error": {"type": "string"},
                           "problems": {"type": "array", "items": _ref("Problem")}},
        },
        "Step": {
            "type": "object",
            "required": ["name", "ok", "detail", "seconds"],
            "properties": {"name": {"type": "string"}, "ok": {"type": "boolean"}, "detail": {"type": "string"},
                           "seconds": {"type": "number", "minimum": 0}},
        },
        "ApplyResult": {
            "type": "object",
            "required": ["ok", "dry_run", "error", "rolled_back", "generation", "changed", "diff", "steps"],
            "properties": {
                "ok": {"type": "boolean"},
                "dry_run": {"type": "boolean"},
                "error": {"type": "string", "description": N_("Empty when ok; else the step that failed and why.")},
                "rolled_back": {"type": "boolean",
                                "description": "Asterisk refused the new files and the previous generation "
                                               "was put back live."},
                "generation": {"type": "string", "nullable": True},
                "changed": {"type": "array", "items": {"type": "string"}, "description": N_("Files that changed.")},
                "diff": {"type": "string", "description": N_("Unified diff, secrets shown as ********.")},
                "steps": {"type": "array", "items": _ref("Step")},
            },
        },
        "Generation": {
            "type": "object",
            "required": ["id", "live", "when", "user", "changed", "failed"],
            "properties": {"id": {"type": "string"}, "live": {"type": "boolean"}, "when": {"type": "string"},
                           "user": {"type": "string"}, "changed": {"type": "array", "items": {"type": "string"}},
                           "failed": {"type": "boolean"}},
        },
        "GenerationList": {
            "type": "object", "required": ["items", "total"],
            "properties": {"items": {"type": "array", "items": _ref("Generation")}, "total": {"type": "integer"}},
        },
        "AuditEntry": {
            "type": "object",
            "required": ["id", "when", "user", "action", "kind", "key", "before", "after"],
            "properties": {
                "id": {"type": "integer"},
                "when": {"type": "string", "format": "date-time"},
                "user": {"type": "string"},
                "action": {"type": "string", "example": "update"},
                "kind": {"type": "string", "example": "extension"},
                "key": {"type": "string"},
                "before": {"type": "object", "nullable": True, "additionalProperties": True},
                "after": {"type": "object", "nullable": True, "additionalProperties": True},
            },
        },
        "AuditList": {
            "type": "object", "required": ["items", "total", "limit", "offset"],
            "properties": {"items": {"type": "array", "items": _ref("AuditEntry")},
                           "total": {"type": "integer", "description": N_("Entries matching the filters, all pages.")},
                           "limit": {"type": "integer"}, "offset": {"type": "integer"}},
        },
        "CallSummary": {
            "type": "object",
            "required": ["id", "start", "from", "to", "outcome", "talk_seconds", "total_seconds", "cost", "currency"],
            "properties": {
                "id": {"type": "string", "description": "The call's id (Asterisk's linkedid): GET /calls/{id}."},
                "start": {"type": "string", "description": "When it began, in the site's time zone."},
                "from": {"type": "string"}, "to": {"type": "string"},
                "outcome": {"type": "string", "enum": ["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"]},
                "talk_seconds": {"type": "integer"}, "total_seconds": {"type": "integer"},
                "extension": {"type": "string"}, "queues": {"type": "array", "items": {"type": "string"}},
                "trunk": {"type": "string"}, "number_class": {"type": "string"},
                "cost": {"type": "string", "nullable": True,
                         "description": "Decimal, in `currency`; null: not priced."},
                "currency": {"type": "string"},
                "legs": {"description": "How many legs (list: their details, on GET /calls/{id})."},
            },
        },
        "CallList": {
            "type": "object", "required": ["items", "total", "limit", "offset"],
            "properties": {"items": {"type": "array", "items": _ref("CallSummary")},
                           "total": {"type": "integer", "description": "Calls matching the filters, all pages."},
                           "limit": {"type": "integer"}, "offset": {"type": "integer"}},
        },
        "CallDetail": {
            "allOf": [_ref("CallSummary"), {"type": "object", "properties": {
                "queue_stays": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                "events": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                "recordings": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
            }}],
        },
        "Me": {
            "type": "object", "required": ["username", "role", "via"],
            "properties": {"username": {"type": "string"},
                           "role": {"type": "string", "enum": ["admin", "supervisor", "technician", "agent"]},
                           "via": {"type": "string", "enum": ["token", "session"]}},
        },
    }
    out["Prompt"] = {
        "type": "object", "required": ["name", "language", "text", "source", "used_by"],
        "properties": {"name": {"type": "string", "example": "queue-thereare"},
                       "language": {"type": "string", "enum": ["en", "zh"]},
                       "text": {"type": "string", "description": N_("What the generated prompt says.")},
                       "source": {"type": "string", "enum": ["generated", "recording", "asterisk"],
                                  "description": "What callers hear: the spoken text, the admin's recording, or "
                                                 "Debian's own English sound."},
                       "used_by": {"type": "string"}},
    }
    out["PromptList"] = {
        "type": "object", "required": ["items", "total"],
        "properties": {"items": {"type": "array", "items": _ref("Prompt")}, "total": {"type": "integer"}},
    }
    out["PromptChange"] = {
        "type": "object", "required": ["name", "language"],
        "properties": {"name": {"type": "string"}, "language": {"type": "string"},
                       "source": {"type": "string"}, "seconds": {"type": "number"}, "reverted": {"type": "boolean"}},
    }
    for model in (schemas.Settings, ApplyRequest, RollbackRequest, PromptRecording, DialRequest):
        out.update(_model_schemas(model))
    return out


def _responses() -> dict:
    def error(description: str) -> dict:
        return {"description": description, "content": _json(_ref("Error"))}
    return {
        "BadRequest": error(N_("Malformed request: body not JSON or not an object, or a bad query parameter.")),
        "Unauthorized": {**error(N_("No token, or an unknown or revoked one.")),
                         "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}},
        "Forbidden": error(N_("The caller's role may not do this (or a session request lacks its CSRF token).")),
        "NotFound": error(N_("No such object.")),
        "Conflict": error(N_("The key is already used by another object of this kind.")),
        "UnsupportedMediaType": error(N_("The body is not sent as application/json.")),
        "Unprocessable": error(N_("Invalid values; each problem names its field. Nothing was stored.")),
    }


@cache
def document() -> dict:
    """The whole OpenAPI document (built once per process: it only depends on the code)."""
    components: dict[str, dict] = {}
    for k in KINDS.values():
        components.update(_model_schemas(k.schema))
    components.update(_common_schemas())
    paths: dict[str, dict] = {}
    for k in KINDS.values():
        paths.update(_kind_paths(k, components))
    paths.update(_contact_paths(components))

    result = {"description": N_("The result of the apply, step by step."), "content": _json(_ref("ApplyResult"))}
    failed = {"description": "It failed (the error says at which step; the previous configuration stays live), "
                             "or another apply is running.",
              "content": _json({"anyOf": [_ref("ApplyResult"), _ref("Error")]})}
    paths.update({
        "/settings": {
            "get": _op(Message(N_("Site settings")), READ, {"200": {"description": N_("The settings."),
                                                         "content": _json(_ref("Settings"))}},
                       tag="settings", operation_id="get_settings"),
            "put": _op(Message(N_("Change site settings")), WRITE,
                       {"200": {"description": N_("The stored settings."), "content": _json(_ref("Settings"))}},
                       tag="settings", body=_ref("Settings"), operation_id="put_settings"),
        },
        "/apply": {
            "post": _op(Message(N_("Apply the stored site to Asterisk (or a dry run: check, render, diff)")), WRITE,
                        {"200": result, "409": failed}, tag="apply", body=_ref("ApplyRequest"),
                        body_required=False, operation_id="apply"),
        },
        "/rollback": {
            "post": _op(Message(N_("Put an earlier generation back live")), WRITE,
                        {"200": result, "409": failed}, tag="apply", body=_ref("RollbackRequest"),
                        body_required=False, operation_id="rollback"),
        },
        "/prompts": {
            "get": _op(Message(N_("Every prompt callers hear, per language, and whether it is generated or recorded")),
                       READ,
                       {"200": {"description": N_("Prompts."), "content": _json(_ref("PromptList"))}},
                       tag="prompts", operation_id="list_prompts"),
        },
        "/prompts/{language}/{name}": {
            "parameters": [
                {"name": "language", "in": "path", "required": True,
                 "schema": {"type": "string", "enum": ["en", "zh"]}},
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 80},
                 "description": N_("The prompt's name (GET /prompts), e.g. queue-thereare or digits/5.")},
            ],
            "put": _op(Message(N_("Replace a prompt by a recording (played at once; no apply needed)")), WRITE,
                       {"200": {"description": N_("The recording is played."), "content": _json(_ref("PromptChange"))},
                        "404": _response_ref("NotFound")},
                       tag="prompts", body=_ref("PromptRecording"), operation_id="replace_prompt"),
            "delete": _op(Message(N_("Drop a prompt's recording: the generated one is played again")), WRITE,
                          {"200": {"description": N_("Reverted."), "content": _json(_ref("PromptChange"))},
                           "404": _response_ref("NotFound"), "422": _response_ref("Unprocessable")},
                          tag="prompts", operation_id="revert_prompt"),
        },
        "/generations": {
            "get": _op(Message(N_("Kept configuration generations, newest first")), READ,
                       {"200": {"description": N_("Generations."), "content": _json(_ref("GenerationList"))}},
                       tag="apply", operation_id="list_generations"),
        },
        "/audit": {
            "get": _op(Message(N_("The audit log, newest first (secrets masked)")), READ, {
                "200": {"description": N_("Audit entries."), "content": _json(_ref("AuditList"))},
                "400": _response_ref("BadRequest"),
            }, tag="audit", operation_id="list_audit", parameters=[
                {"name": "kind", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 40},
                 "description": N_("Only this kind of object (extension, trunk, settings, user, api_token, ...).")},
                {"name": "user", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 64},
                 "description": N_("Only changes made by this user.")},
                *_paging_parameters()[1:],
            ]),
        },
        "/calls": {
            "get": _op(Message(N_("Call records: the calls matching the filters, newest first")), CALLS_READ, {
                "200": {"description": "Calls.", "content": _json(_ref("CallList"))},
                "400": _response_ref("BadRequest"), "422": _response_ref("Unprocessable"),
            }, tag="calls", operation_id="list_calls", parameters=[
                *[{"name": name, "in": "query", "required": False, "schema": {"type": "string", "maxLength": 64},
                   "description": text} for name, text in CALL_FILTERS],
                *_paging_parameters()[1:],
            ]),
        },
        "/calls/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string", "maxLength": 64}}],
            "get": _op(Message(N_("One call: its legs, queue stays, events and recordings")), CALLS_READ, {
                "200": {"description": "The call.", "content": _json(_ref("CallDetail"))},
                "404": _response_ref("NotFound"),
            }, tag="calls", operation_id="get_call"),
        },
        "/dial": {
            "post": _op(Message(N_("Click-to-dial: your phone rings, then the number is dialled from it")), DIAL, {
                "202": {"description": N_("Your phone is ringing; the number is dialled once you pick it up, "
                                          "through the outbound routes and the dial guard as if typed on it."),
                        "content": _json({"type": "object", "required": ["number", "status"],
                                          "properties": {"number": {"type": "string"},
                                                         "status": {"type": "string", "enum": ["ringing"]}}})},
            }, tag="calls", body=_ref("DialRequest"), operation_id="dial"),
        },
        "/me": {
            "get": _op(Message(N_("Who the API thinks you are")), "any",
                       {"200": {"description": N_("The caller."), "content": _json(_ref("Me"))}},
                       tag="auth", operation_id="me"),
        },
        "/openapi.json": {
            "get": _op(Message(N_("This document")), "public",
                       {"200": {"description": N_("OpenAPI 3.0 document."),
                                "content": _json({"type": "object", "additionalProperties": True})}},
                       tag="auth", operation_id="openapi"),
        },
    })
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Linebox REST API",
            "version": VERSION,
            "description": "Site objects, phonebook contacts, settings, apply and audit of a Linebox PBX. "
                           "Authenticate with `Authorization: Bearer <token>`; see docs/api.md.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}, {"consoleSession": []}],
        "tags": [{"name": k.plural, "description": f"{k.label}s"} for k in KINDS.values()]
                + [{"name": "contacts", "description": N_("phonebook contacts (caller names, screen pops)")}]
                + [{"name": n} for n in ("settings", "apply", "calls", "audit", "auth")],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "responses": _responses(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token made by appliance.access.apitokens.create_token; it acts "
                                              "with its user's role."},
                "consoleSession": {"type": "apiKey", "in": "cookie", "name": "linebox_session",
                                   "description": "The console's login session (its JavaScript); unsafe "
                                                  "methods then need the X-CSRFToken header."},
            },
        },
    }
