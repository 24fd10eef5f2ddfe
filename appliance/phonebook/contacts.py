"""Contacts (name, company, numbers, note): the service functions that list, validate, write and audit them.

The only code that writes contacts; the console page (``appliance.web.contacts``), the REST API, the
CSV import (``appliance.phonebook.csv_file``) and the site file (``appliance.config_file``) are thin
layers over them.  Every change is validated first against ``appliance.phonebook.schema`` (problems
name the field: ``contact.numbers``), written in one transaction with its audit row (kind ``contact``,
key the id), or refused with nothing written.

Contacts are not site objects: Asterisk's configuration does not depend on them, so a change needs no
apply; the FastAGI server reads them at call time through ``appliance.phonebook.lookup``.
"""
from __future__ import annotations

from collections.abc import Sequence

import peewee
from pydantic import ValidationError

from appliance.catalog import N_
from appliance.errors import Problem, SiteError, from_pydantic, missing
from appliance.model import audit
from appliance.model.database import database
from appliance.model.models import Contact, ContactNumber
from appliance.phonebook import schema
from appliance.phonebook.lookup import describe
from appliance.phonebook.numbers import normalize

KIND = "contact"


def validate(data: dict) -> schema.Contact:
    """Check one contact against ``schema.Contact``; raise SiteError naming each bad field (``contact.name``,
    ``contact.numbers``).  Unknown fields are reported alone: the rest of the input may mean something else."""
    if not isinstance(data, dict):
        raise SiteError([Problem(KIND, N_("expected name, company, numbers and note"))])
    try:
        return schema.Contact.model_validate(data)
    except ValidationError as error:
        problems = from_pydantic(error, KIND)
        unknown = [p for p in problems if p.message == "unknown field"]
        raise SiteError(unknown or problems) from None


def _audited(contact: dict) -> dict:
    return {k: v for k, v in contact.items() if k != "id"}


def _write_numbers(contact: Contact, numbers: Sequence[str]) -> None:
    ContactNumber.delete().where(ContactNumber.contact == contact).execute()
    for position, number in enumerate(numbers):
        ContactNumber.create(contact=contact, number=number, normalized=normalize(number), position=position)


def _search(q: str):
    query = Contact.select()
    if q:
        try:
            key = normalize(q)
        except ValueError:
            key = None
        # contains() escapes LIKE's wildcards: a search for "%" or "_" finds those characters, not everyone
        condition = Contact.name.contains(q) | Contact.company.contains(q)
        if key:
            numbers = ContactNumber.select(ContactNumber.contact).where(ContactNumber.normalized.contains(key))
            condition |= Contact.id.in_(numbers)
        query = query.where(condition)
    return query


def list_contacts(q: str = "", limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
    """One page of contacts (by name) matching ``q`` in the name, company or a number; and the total."""
    query = _search(q.strip())
    total = query.count()
    rows = query.order_by(peewee.fn.lower(Contact.name), Contact.id).limit(limit).offset(offset)
    return [describe(c) for c in rows], total


def all_contacts() -> list[dict]:
    return [describe(c) for c in Contact.select().order_by(peewee.fn.lower(Contact.name), Contact.id)]


def get_contact(contact_id) -> dict | None:
    try:
        key = int(contact_id)
    except (TypeError, ValueError):
        return None
    if not 0 < key < 2**63:
        return None
    contact = Contact.get_or_none(Contact.id == key)
    return describe(contact) if contact else None


def create_contact(data: dict, user: str) -> dict:
    valid = validate(data)
    with database.atomic():
        contact = Contact.create(name=valid.name, company=valid.company, note=valid.note)
        _write_numbers(contact, valid.numbers)
        after = describe(contact)
        audit.record(user, "create", KIND, str(contact.id), None, _audited(after))
    return after


def update_contact(contact_id, data: dict, user: str) -> dict:
    valid = validate(data)
    with database.atomic():
        before = get_contact(contact_id)
        if before is None:
            raise SiteError([Problem(KIND, missing(N_("contact"), contact_id))])
        Contact.update(name=valid.name, company=valid.company, note=valid.note).where(
            Contact.id == before["id"]).execute()
        contact = Contact.get_by_id(before["id"])
        _write_numbers(contact, valid.numbers)
        after = describe(contact)
        if before != after:
            audit.record(user, "update", KIND, str(contact.id), _audited(before), _audited(after))
    return after


def delete_contact(contact_id, user: str) -> None:
    with database.atomic():
        before = get_contact(contact_id)
        if before is None:
            raise SiteError([Problem(KIND, missing(N_("contact"), contact_id))])
        Contact.delete().where(Contact.id == before["id"]).execute()
        audit.record(user, "delete", KIND, str(before["id"]), _audited(before), None)


def replace_all(items: list[dict], user: str) -> dict[str, int]:
    """Make the phonebook exactly ``items`` (config import): contacts matched by name and company.

    Each item must be valid (``validate``); the caller holds the transaction.
    """
    counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    current: dict[tuple[str, str], list[dict]] = {}
    for contact in all_contacts():
        current.setdefault((contact["name"], contact["company"]), []).append(contact)
    for item in items:
        valid = validate(item)
        same = current.get((valid.name, valid.company))
        if same:
            existing = same.pop(0)
            if _audited(existing) == valid.model_dump():
                counts["unchanged"] += 1
            else:
                update_contact(existing["id"], valid.model_dump(), user)
                counts["updated"] += 1
        else:
            create_contact(valid.model_dump(), user)
            counts["created"] += 1
    for left in current.values():
        for contact in left:
            delete_contact(contact["id"], user)
            counts["deleted"] += 1
    return counts
