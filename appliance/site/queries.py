"""Read-only queries over the stored site: whole kinds and the whole site, or one page of a large one.

``list_objects``, ``get_object`` and ``snapshot`` read stored objects back as schema objects, which is
right for apply, checks and export; ``appliance.site.service`` re-exports them beside the functions
that write, and ``appliance.site.impact`` reads through them (they live here, below both, so that the
writer and its change checks do not import each other).

A list page on a site with 10,000 extensions needs less: ``page_objects``, ``keys`` and the audit
pages let SQLite do the filtering (``WHERE`` on the key and name columns), counting and paging
(``LIMIT``/``OFFSET``), and turn only the rows of the page into schema objects.
"""

from __future__ import annotations

import threading

import peewee

from appliance.model.database import database
from appliance.model.models import AuditEntry
from appliance.site import schemas
from appliance.site.checks import Site
from appliance.site.kinds import KINDS, Kind
from appliance.site.kinds import kind as get_kind
from appliance.site.stored import load_settings


def to_schema(k: Kind, row) -> schemas.SiteObject:
    """One stored row of kind ``k`` as its schema object."""
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
    return to_schema(k, row) if row else None


def snapshot() -> Site:
    """The whole site as it is stored now, read in one transaction (one consistent state).

    Its objects may be shared with earlier snapshots of this process (:func:`_memo_objects`): read-only."""
    with database.atomic():
        site = Site(settings=load_settings())
        for name in KINDS:
            site.objects[name] = _memo_objects(name)
    return site


# Per kind: the database it was read from and each stored row (the column values as stored, secrets still
# sealed) with its schema object.  Turning a row into a schema object (decrypting its sealed columns,
# validating it) is most of a snapshot's cost on a large site; a row stored the same as last time is the
# same object, so a full apply after one change turns one row, not 10,000.  Keyed by the stored content
# itself: nothing has to tell this cache what changed.
_MEMO: dict[str, tuple[object, dict[tuple, schemas.SiteObject]]] = {}
_MEMO_LOCK = threading.Lock()


def _memo_objects(kind: str) -> list[schemas.SiteObject]:
    """``list_objects(kind)``, each row unchanged since this process last read it given as the same object."""
    k = get_kind(kind)
    fields = [getattr(k.model, name) for name in k.schema.model_fields]
    sql, params = k.model.select(*fields).order_by(*k.order_by()).sql()
    rows = database.execute_sql(sql, params).fetchall()
    with _MEMO_LOCK:
        owner, memo = _MEMO.get(kind, (None, {}))
    if owner is not database.obj:
        memo = {}
    fresh: dict[tuple, schemas.SiteObject] = {}
    objects = []
    try:
        for row in rows:
            row = tuple(row)
            obj = memo.get(row)
            if obj is None:
                obj = fresh.get(row)
            if obj is None:
                obj = k.schema.model_validate({f.name: f.python_value(v) for f, v in zip(fields, row, strict=True)})
            fresh[row] = obj
            objects.append(obj)
    except TypeError:  # a column whose stored value cannot be a key (an engine's own type): read as usual
        return list_objects(kind)
    with _MEMO_LOCK:
        _MEMO[kind] = (database.obj, fresh)
    return objects

MAX_LIMIT = 500


def _search_columns(k) -> list:
    columns = [getattr(k.model, k.key)]
    if k.key != "name" and "name" in k.schema.model_fields:
        columns.append(k.model.name)
    return columns


def _order(k) -> tuple:
    """Numbers in numeric order (100, 101, 1000), names alphabetically, outbound routes by position."""
    if k.key == "number":
        column = getattr(k.model, k.key)
        return (peewee.fn.LENGTH(column), column)
    return k.order_by()


def page_objects(kind: str, q: str = "", limit: int = 50, offset: int = 0) -> tuple[list[schemas.SiteObject], int]:
    """One page of ``kind``'s objects whose key or name contains ``q`` (case-insensitive), and how many match."""
    k = get_kind(kind)
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    query = k.model.select()
    q = (q or "").strip()
    if q:
        condition = None
        for column in _search_columns(k):
            term = column.contains(q)
            condition = term if condition is None else (condition | term)
        query = query.where(condition)
    total = query.count()
    rows = query.order_by(*_order(k)).limit(limit).offset(offset)
    fields = list(k.schema.model_fields)
    items = [k.schema.model_validate({name: getattr(row, name) for name in fields}) for row in rows]
    return items, total


def keys(kind: str) -> list[str]:
    """Every key of ``kind`` (one column, no schema objects): cheap even with 10,000 rows."""
    k = get_kind(kind)
    column = getattr(k.model, k.key)
    return [key for (key,) in k.model.select(column).order_by(*_order(k)).tuples()]


def keys_and_names(kind: str) -> list[tuple[str, str]]:
    """(key, name) of every object of a kind that has a name column, in list order."""
    k = get_kind(kind)
    column = getattr(k.model, k.key)
    return list(k.model.select(column, k.model.name).order_by(*_order(k)).tuples())


def count(kind: str) -> int:
    return get_kind(kind).model.select().count()


def mailbox_numbers() -> list[str]:
    """Numbers that have a voicemail box: extensions with voicemail on, and standalone boxes."""
    ext = get_kind("extension").model
    box = get_kind("voicemail_box").model
    numbers = {n for (n,) in ext.select(ext.number).where(ext.voicemail == True).tuples()}  # noqa: E712
    numbers |= {n for (n,) in box.select(box.number).tuples()}
    return sorted(numbers, key=lambda n: (len(n), n))


def own_numbers() -> set[str]:
    """Every number an object of the site is reached by (extensions, ring groups, queues, voicemail boxes)."""
    numbers: set[str] = set()
    for kind in KINDS.values():
        if kind.key == "number":
            numbers |= {n for (n,) in kind.model.select(getattr(kind.model, kind.key)).tuples()}
    return numbers


def page_audit(kind: str = "", user: str = "", limit: int = 50, offset: int = 0) -> tuple[list[AuditEntry], int]:
    """One page of the audit log, newest first, optionally for one kind and/or one user; and how many match."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    query = AuditEntry.select()
    if kind:
        query = query.where(AuditEntry.kind == kind)
    if user:
        query = query.where(AuditEntry.user == user)
    total = query.count()
    return list(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)), total


def audit_users() -> list[str]:
    """Everyone who appears in the audit log (for the filter)."""
    return [u for (u,) in AuditEntry.select(AuditEntry.user).distinct().order_by(AuditEntry.user).tuples()]


def audit_kinds() -> list[str]:
    return [k for (k,) in AuditEntry.select(AuditEntry.kind).distinct().order_by(AuditEntry.kind).tuples()]
