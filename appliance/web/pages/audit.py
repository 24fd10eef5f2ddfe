"""The audit log page: newest first, filtered by kind and user, paged; each change as a compact field diff."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import render_template, request

from appliance.site import queries
from appliance.site.kinds import KINDS
from appliance.web import objectforms
from appliance.web.pages import blueprint
from appliance.web.pages.common import Paging, page_number
from appliance.web.roles import VIEWERS, require_role

MAX_VALUE = 80


@dataclass
class Change:
    field: str
    before: str | None  # None: the field did not exist before (created)
    after: str | None  # None: gone (deleted)
    label: str = ""  # the field's label, as its form says it; empty: the field's name is shown


def kind_label(kind: str) -> str:
    """An audited kind as people call it: "IVR menu", "DAHDI trunk"; users, settings... as stored, in words."""
    return KINDS[kind].label if kind in KINDS else kind.replace("_", " ")


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
                              form_field.label if form_field is not None else ""))
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
                           nav_active="audit")
