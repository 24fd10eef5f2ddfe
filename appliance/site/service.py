"""Service functions over site objects: the only code that writes them.

The CLI, the YAML import and the web console all call these.  Each change
is validated (schema, then what the change can break elsewhere in the site:
``appliance.site.impact``), written in one transaction together with its
audit row, or refused with located problems and nothing written.  The whole
site is checked (``check``) by import and by apply.
"""

from __future__ import annotations

from pydantic import ValidationError

from appliance.errors import Problem, SiteError, from_pydantic
from appliance.model import audit
from appliance.model.database import database
from appliance.model.models import Setting
from appliance.site import impact, schemas
from appliance.site.checks import Site, check_site
from appliance.site.kinds import KINDS
from appliance.site.kinds import kind as get_kind
from appliance.site.stored import SETTINGS_PREFIX, internal_secret  # noqa: F401  (internal_secret: service API)


def _row_to_schema(k, row) -> schemas.SiteObject:
    data = {name: getattr(row, name) for name in k.schema.model_fields}
    return k.schema.model_validate(data)


def list_objects(kind: str) -> list[schemas.SiteObject]:
    k = get_kind(kind)
    fields = [getattr(k.model, name) for name in k.schema.model_fields]
    rows = k.model.select(*fields).order_by(*k.order_by()).dicts()  # plain dicts: no model instances to build
    return [k.schema.model_validate(row) for row in rows]


def get_object(kind: str, key: str) -> schemas.SiteObject | None:
    k = get_kind(kind)
    key = k.lookup_key(key)
    row = None if key is None else k.model.get_or_none(getattr(k.model, k.key) == key)
    return _row_to_schema(k, row) if row else None


def load_settings() -> schemas.Settings:
    values = {row.key[len(SETTINGS_PREFIX):]: row.value
              for row in Setting.select().where(Setting.key.startswith(SETTINGS_PREFIX))}
    return schemas.Settings.model_validate(values)


def snapshot() -> Site:
    """The whole site as it is stored now."""
    site = Site(settings=load_settings())
    for name in KINDS:
        site.objects[name] = list_objects(name)
    return site


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
        existing = k.model.get_or_none(getattr(k.model, k.key) == k.lookup_key(old_key))
        if create and existing is not None:
            raise SiteError([Problem(f"{k.name} {k.key}", f"{k.label} {key} already exists")])
        if original_key and existing is None:
            raise SiteError([Problem(k.name, f"{k.label} {original_key} does not exist")])
        if original_key and str(original_key) != str(key) and k.model.get_or_none(getattr(k.model, k.key) == key):
            raise SiteError([Problem(f"{k.name} {k.key}", f"{k.label} {key} already exists")])
        old = _row_to_schema(k, existing) if existing else None
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


def delete_object(kind: str, key: str, user: str) -> None:
    """Delete one object; refused while anything still points at it."""
    k = get_kind(kind)
    with database.atomic():
        row = k.model.get_or_none(getattr(k.model, k.key) == k.lookup_key(key))
        if row is None:
            raise SiteError([Problem(k.name, f"{k.label} {key} does not exist")])
        old = _row_to_schema(k, row)
        problems = impact.check_change(impact.Change(kind, old, None))
        if problems:
            raise SiteError([Problem(p.where, f"{p.message} (it is still used: change that first)")
                             for p in problems])
        before = old.model_dump()
        row.delete_instance()
        audit.record(user, "delete", kind, key, before, None, k.secrets)


def save_settings(data: dict, user: str) -> schemas.Settings:
    try:
        settings = schemas.Settings.model_validate({**load_settings().model_dump(), **data})
    except ValidationError as error:
        raise SiteError(from_pydantic(error, "settings")) from None
    before = load_settings().model_dump()
    with database.atomic():
        for name, value in settings.model_dump().items():
            Setting.replace(key=SETTINGS_PREFIX + name, value=str(value)).execute()
        if before != settings.model_dump():
            audit.record(user, "update", "settings", "site", before, settings.model_dump())
    return settings


def replace_site(site: Site, user: str) -> dict[str, int]:
    """Make the stored site exactly ``site`` (config import): one transaction, audited per object.

    Returns counts of created, updated and deleted objects.
    """
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
            for key, values in wanted.items():
                if key not in current:
                    k.model.create(**values)
                    audit.record(user, "create", name, key, None, values, k.secrets)
                    counts["created"] += 1
                elif current[key] != values:
                    k.model.update(**values).where(getattr(k.model, k.key) == key).execute()
                    audit.record(user, "update", name, key, current[key], values, k.secrets)
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
        save_settings(site.settings.model_dump(), user)
    return counts


