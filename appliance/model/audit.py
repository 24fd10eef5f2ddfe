"""Write and read the audit log: who changed what, when, before and after (secrets masked)."""

from __future__ import annotations

from typing import overload

from appliance.model.models import AuditEntry

MASK = "********"


@overload
def masked(data: dict, secret_fields: tuple[str, ...]) -> dict: ...
@overload
def masked(data: dict | None, secret_fields: tuple[str, ...]) -> dict | None: ...
def masked(data: dict | None, secret_fields: tuple[str, ...]) -> dict | None:
    if data is None:
        return None
    return {k: (MASK if k in secret_fields and v else v) for k, v in data.items()}


def record(user: str, action: str, kind: str, key: str, before: dict | None, after: dict | None,
           secret_fields: tuple[str, ...] = ()) -> None:
    """Store one audit row; a changed secret shows as masked but still marks the row as a change."""
    before_m, after_m = masked(before, secret_fields), masked(after, secret_fields)
    if before and after and after_m is not None:
        for name in secret_fields:
            if before.get(name) != after.get(name):
                after_m[name] = MASK + " (changed)"
    AuditEntry.create(user=user, action=action, kind=kind, key=key, before=before_m, after=after_m)


def entries(limit: int = 100, kind: str | None = None, user: str | None = None) -> list[AuditEntry]:
    query = AuditEntry.select().order_by(AuditEntry.id.desc()).limit(limit)
    if kind:
        query = query.where(AuditEntry.kind == kind)
    if user:
        query = query.where(AuditEntry.user == user)
    return list(query)
