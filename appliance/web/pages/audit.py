"""The audit log page: newest first, filtered by kind and user, paged; each change as a compact field diff."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from appliance.site import queries
from appliance.site.kinds import KINDS
from appliance.web import objectforms
from appliance.web.pages import blueprint
from appliance.web.pages.common import Paging, page_number
from appliance.web.pages.settings import LABELS as SETTING_LABELS
from appliance.web.roles import VIEWERS, require_role
from appliance.web.roles import kind_label as object_kind_label

MAX_VALUE = 80


@dataclass
class Change:
    field: str
    before: str | None  # None: the field did not exist before (created)
    after: str | None  # None: gone (deleted)
    label: str = ""  # the field's label, as its form says it; empty: the field's name is shown


# what the audit log records besides the site's kinds (``audit.record``'s kinds and actions), in words
OTHER_KINDS = {"site": _l("site"), "agent": _l("agent"), "api_token": _l("API token"), "backup": _l("backup"),
               "ban": _l("ban"), "contact": _l("contact"), "gateway": _l("gateway"), "recording": _l("recording"),
               "settings": _l("settings"), "sound": _l("sound"), "user": _l("user"), "rates": _l("rate table"),
               "prompt": _l("prompt"), "robot_transcript": _l("voice robot transcripts")}
ACTIONS = {"create": _l("create"), "update": _l("update"), "delete": _l("delete"), "bind": _l("bind"),
           "claim": _l("claim"), "login": _l("log in"), "logout": _l("log out"), "pause": _l("pause"),
           "unpause": _l("unpause"), "listen": _l("listen"), "purge": _l("purge"), "download": _l("download"),
           "upload": _l("upload"), "restore": _l("restore"), "set-password": _l("set password"),
           "ban": _l("ban"), "unban": _l("unban"), "expire": _l("expire"),
           "open-adoption-window": _l("open adoption window"), "close-adoption-window": _l("close adoption window"),
           "new-credential": _l("new credential"), "import": _l("import"), "reprice": _l("price again"),
           "view": _l("view")}


# the fields of what is not a site kind (users, gateways, contacts, tokens, bans...), in words
OTHER_FIELDS = {"username": _l("Username"), "role": _l("Role"), "language": _l("Language"),
                "secret": _l("Webhook secret"), "password": _l("Password"),
                "must_change_password": _l("One-time password"), "name": _l("Name"),
                "number": _l("Number"), "numbers": _l("Numbers"), "address": _l("Address"), "mac": "MAC",
                "model": _l("Model"), "ports": _l("Ports"), "card": _l("Card"), "kind": _l("Kind"),
                "company": _l("Company"), "note": _l("Note"), "credential": _l("credential"),
                "extension": _l("Extension"), "trunk": _l("Trunk"), "queue": _l("Queue"), "reason": _l("Why"),
                "with_recordings": _l("Include call recordings (can be large)"), "size": _l("Size"),
                "passphrase": _l("Passphrase"), "until": _l("Until"), "source": _l("Address"),
                "networks": _l("Networks"), "https": "HTTPS", "lines": _l("Rate lines"),
                "valid_from": _l("Applies from"), "records": _l("Call records"), "prompt": _l("Prompt"),
                "seconds": _l("Seconds"), "from": _l("File"), "robot": _l("Voice robot"), "calls": _l("Calls"),
                "deleted": _l("Deleted")}


def field_label(kind: str, field: str) -> str:
    """A field of an audited object that is not a site kind's, as people call it (its name if unknown)."""
    if kind == "settings" and field in SETTING_LABELS:
        return gettext(SETTING_LABELS[field])
    return str(OTHER_FIELDS[field]) if field in OTHER_FIELDS else field


def kind_label(kind: str) -> str:
    """An audited kind as people call it, in the page's language: "IVR menu", "DAHDI trunk", "user"..."""
    if kind in KINDS:
        return gettext(str(object_kind_label(kind)))  # a kind's label is a catalog message (N_)
    return str(OTHER_KINDS[kind]) if kind in OTHER_KINDS else kind.replace("_", " ")


def action_label(action: str) -> str:
    """An audited action in the page's language (one not in the table as stored)."""
    return str(ACTIONS[action]) if action in ACTIONS else action.replace("-", " ")


def _text(value, form_field: objectforms.FormField | None = None) -> str:
    if form_field is not None and form_field.widget == "lines" and isinstance(value, list):
        text = ", ".join(form_field.lines.format(item) for item in value)  # as the form writes it
    elif form_field is not None and form_field.widget == "options" and isinstance(value, dict):
        text = ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


EMPTY: tuple[object, ...] = ("", [], {}, None)


def changes(before: dict | None, after: dict | None, kind: str = "") -> list[Change]:
    """The fields that differ, in the schema's order; a create or delete lists its fields that are not empty."""
    before, after = before or {}, after or {}
    fields = {f.name: f for f in objectforms.form_fields(kind)} if kind in KINDS else {}
    order = tuple(fields)
    whole = not before or not after
    names = [n for n in order if n in before or n in after]
    names += sorted(n for n in {*before, *after} if n not in names)
    out = []
    for name in names:
        if whole and (before or after).get(name) in EMPTY:
            continue
        if before.get(name) != after.get(name) or name not in before or name not in after:
            form_field = fields.get(name)
            out.append(Change(name, _text(before[name], form_field) if name in before else None,
                              _text(after[name], form_field) if name in after else None,
                              form_field.label if form_field is not None else field_label(kind, name)))
    return out


@blueprint.route("/audit")
@require_role(*VIEWERS)
def audit_page():
    kind = request.args.get("kind", "")[:40]
    user = request.args.get("user", "")[:64]
    page = page_number()
    entries, total = queries.page_audit(kind, user, Paging(page, 0).per_page, Paging(page, 0).offset)
    rows = [(entry, changes(entry.before, entry.after, entry.kind)) for entry in entries]
    return render_template("audit.html", rows=rows, paging=Paging(page, total), kind=kind, user=user,
                           kinds=queries.audit_kinds(), users=queries.audit_users(), kind_label=kind_label,
                           action_label=action_label,
                           nav_active="audit")
