"""Service functions over site objects: the only code that writes them.

The CLI, the YAML import and the web console all call these.  Each change
is validated (schema, then what the change can break elsewhere in the site:
``appliance.site.impact``), written in one transaction together with its
audit row, or refused with located problems and nothing written.  The whole
site is checked (``check``) by import and by apply.

The readers (``list_objects``, ``get_object``, ``snapshot``: ``appliance.site.queries``;
``load_settings``: ``appliance.site.stored``) are re-exported here, so callers find the site's
whole API in one place; they live below this module because ``impact`` reads through them too.
"""

from __future__ import annotations

from typing import cast

from pydantic import ValidationError

from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError, from_pydantic
from appliance.model import audit
from appliance.model.database import database
from appliance.model.models import Setting
from appliance.site import impact, policy, schemas
from appliance.site.checks import NAMED_DESTINATIONS, Site, check_site, resolve_names
from appliance.site.kinds import KINDS
from appliance.site.kinds import kind as get_kind
from appliance.site.queries import get_object, list_objects, snapshot, to_schema  # noqa: F401  (get_object: service API)
from appliance.site.stored import (  # noqa: F401  (internal_secret: service API)
    SETTINGS_PREFIX,
    internal_secret,
    load_settings,
)


def validate(kind: str, data: dict, where: str = "") -> schemas.SiteObject:
    k = get_kind(kind)
    try:
        return k.schema.model_validate(data)
    except ValidationError as error:
        raise SiteError(from_pydantic(error, where or k.name)) from None


def check() -> list[Problem]:
    """Every problem in the stored site (what apply refuses): the full check, for when a part is not enough."""
    return check_site(snapshot())


def save_object(kind: str, data: dict, user: str, original_key: str | None = None,
                create: bool = False) -> schemas.SiteObject:
    """Create (``create``) or update one object (``original_key`` renames); refused if it breaks the site."""
    k = get_kind(kind)
    obj = validate(kind, data)
    key = getattr(obj, k.key)
    with database.atomic():
        old_key = original_key or key
        obj = _resolve_names(k, obj, k.lookup_key(old_key))
        existing = k.model.get_or_none(getattr(k.model, k.key) == k.lookup_key(old_key))
        if create and existing is not None:
            raise SiteError([Problem(f"{k.name} {k.key}", Message(N_("%(kind)s %(key)s already exists"),
                                                                 kind=Message(k.label), key=key))])
        if original_key and existing is None:
            raise SiteError([Problem(k.name, Message(N_("%(kind)s %(key)s does not exist"), kind=Message(k.label),
                                                     key=original_key))])
        if original_key and str(original_key) != str(key) and k.model.get_or_none(getattr(k.model, k.key) == key):
            raise SiteError([Problem(f"{k.name} {k.key}", Message(N_("%(kind)s %(key)s already exists"),
                                                                 kind=Message(k.label), key=key))])
        old = to_schema(k, existing) if existing else None
        refused = [Problem(f"{k.name}.{field}", message) for field, message in policy.problems(kind, old, obj)]
        if refused:
            raise SiteError(refused)
        problems = impact.check_change(impact.Change(kind, old, obj))
        if problems:
            raise SiteError(problems)
        values = obj.model_dump()
        before = old.model_dump() if old else None
        if existing:
            k.model.update(**values).where(k.model.id == existing.id).execute()
        else:
            k.model.create(**values)
        audit.record(user, "update" if existing else "create", kind, key, before, values, k.secrets)
    return obj


def _resolve_names(k, obj: schemas.SiteObject, old_key) -> schemas.SiteObject:
    """``obj`` with the queues and ring groups it names by name given by number (``checks.resolve_destination``):
    the stored ones, with ``obj`` itself in place of what it was, and only read when a name is there to look up."""

    def named(dkind: str) -> list[tuple[str, str]]:
        kind = NAMED_DESTINATIONS[dkind]
        model = KINDS[kind].model
        rows = [(number, name) for number, name in model.select(model.number, model.name).tuples()
                if not (kind == k.name and number == old_key)]
        if kind != k.name:
            return rows
        saved = cast("schemas.Queue | schemas.RingGroup", obj)
        return [*rows, (saved.number, saved.name)]

    resolved, problems = resolve_names(k.name, obj, named)
    if problems:
        raise SiteError([Problem(".".join([k.name, *map(str, path)]), message) for path, message in problems])
    return resolved


def delete_object(kind: str, key: str, user: str) -> None:
    """Delete one object; refused while anything still points at it."""
    k = get_kind(kind)
    with database.atomic():
        row = k.model.get_or_none(getattr(k.model, k.key) == k.lookup_key(key))
        if row is None:
            raise SiteError([Problem(k.name, Message(N_("%(kind)s %(key)s does not exist"), kind=Message(k.label),
                                                     key=key))])
        old = to_schema(k, row)
        problems = impact.check_change(impact.Change(kind, old, None))
        if problems:
            raise SiteError(_in_use(k.name, Message(N_("%(kind)s %(key)s"), kind=Message(k.label), key=key), problems))
        before = old.model_dump()
        row.delete_instance()
        audit.record(user, "delete", kind, key, before, None, k.secrets)


def _in_use(where: str, label: str, problems: list[Problem]) -> list[Problem]:
    """What a refused delete says: who uses the object and through which fields, one problem per user.

    The checks word a broken reference from the referrer's side ("queue 700 members: extension 201 does
    not exist"), which is right once the object is gone but reads as the opposite of the truth while it is
    still there; the referrer's location ("<object> <field>", an IVR's "option <digit>") names who uses it.
    """
    users: dict[str, list[str]] = {}
    for p in problems:
        user, sep, digit = p.where.rpartition(" option ")
        user, field = (user, f"option {digit}") if sep else p.where.rpartition(" ")[::2]
        fields = users.setdefault(user or p.where, [])
        if field and field not in fields:
            fields.append(field)
    described = {user: f"{user} ({', '.join(fields)})" if fields else user for user, fields in users.items()}
    return [Problem(where, Message(N_("%(label)s is used by %(user)s: change that first"), label=label, user=user))
            for user in described.values()]


def save_settings(data: dict, user: str) -> schemas.Settings:
    try:
        settings = schemas.Settings.model_validate(schemas.with_language_defaults(load_settings().model_dump(), data))
    except ValidationError as error:
        raise SiteError(from_pydantic(error, "settings")) from None
    before = load_settings().model_dump()
    with database.atomic():
        for name, value in settings.model_dump().items():
            Setting.replace(key=SETTINGS_PREFIX + name, value=str(value)).execute()
        if before != settings.model_dump():
            audit.record(user, "update", "settings", "site", before, settings.model_dump(),
                         tuple(sorted(schemas.SECRET_SETTINGS)))
    return settings


def replace_site(site: Site, user: str, changes: list[tuple[str, str, str]] | None = None) -> dict[str, int]:
    """Make the stored site exactly ``site`` (config import): one transaction, audited per object.

    Returns counts of created, updated and deleted objects; ``changes``, when given, receives each
    change as (action, kind, key), so that an import can say what it changed, not only how much.
    """
    changed = [] if changes is None else changes
    problems = check_site(site)
    if problems:
        raise SiteError(problems)
    counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    with database.atomic():
        for name, k in KINDS.items():
            wanted = {getattr(o, k.key): o.model_dump() for o in site.objects[name]}
            current = {getattr(o, k.key): o.model_dump() for o in list_objects(name)}
            for key in sorted(set(current) - set(wanted)):
                k.model.delete().where(getattr(k.model, k.key) == key).execute()
                audit.record(user, "delete", name, key, current[key], None, k.secrets)
                counts["deleted"] += 1
                changed.append(("delete", name, str(key)))
            for key, values in wanted.items():
                if key not in current:
                    k.model.create(**values)
                    audit.record(user, "create", name, key, None, values, k.secrets)
                    counts["created"] += 1
                    changed.append(("create", name, str(key)))
                elif current[key] != values:
                    k.model.update(**values).where(getattr(k.model, k.key) == key).execute()
                    audit.record(user, "update", name, key, current[key], values, k.secrets)
                    counts["updated"] += 1
                    changed.append(("update", name, str(key)))
                else:
                    counts["unchanged"] += 1
        save_settings(site.settings.model_dump(), user)
    return counts


