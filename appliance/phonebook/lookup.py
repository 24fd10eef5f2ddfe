"""Finding a contact by phone number: what FastAGI's caller-name script asks on every inbound call.

Apart from the service functions (``appliance.phonebook.contacts``) so the FastAGI server, a small
service of its own, reads contacts without loading what validates and writes them.  Numbers match by
the rule in ``appliance.phonebook.numbers``.
"""

from __future__ import annotations

import peewee

from appliance.model.models import Contact, ContactNumber
from appliance.phonebook.numbers import equivalents, normalize


def describe(contact: Contact) -> dict:
    """A stored contact as plain data: what the API, the console and the audit log show."""
    numbers = (ContactNumber.select().where(ContactNumber.contact == contact)
               .order_by(ContactNumber.position, ContactNumber.id))
    return {"id": contact.id, "name": contact.name, "company": contact.company,
            "numbers": [n.number for n in numbers], "note": contact.note}


def display_name(contact: dict) -> str:
    """What a phone shows for the contact: ``Anna Berg (Acme)``."""
    return f"{contact['name']} ({contact['company']})" if contact.get("company") else contact["name"]


def lookup(number: str, country_code: str = "") -> dict | None:
    """The contact whose number is ``number`` (in any form the rule in ``numbers`` makes equal), or None.

    Several contacts with the same number: the first by name.  A number that cannot be normalised
    (``anonymous``, empty) matches nobody.
    """
    try:
        forms = equivalents(normalize(number), country_code)
    except ValueError:
        return None
    row = (Contact.select().join(ContactNumber).where(ContactNumber.normalized.in_(sorted(forms)))
           .order_by(peewee.fn.lower(Contact.name), Contact.id).first())
    return describe(row) if row else None
