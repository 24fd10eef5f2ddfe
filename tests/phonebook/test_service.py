"""Contacts through the service functions: validation names the field, lookups, audit, replace."""

from __future__ import annotations

import pytest

from appliance.errors import SiteError
from appliance.model.models import AuditEntry, Contact, ContactNumber
from appliance.phonebook import contacts as phonebook
from appliance.phonebook.lookup import display_name, lookup
from appliance.site import service


def test_create_lookup_update_delete_are_audited(install):
    anna = phonebook.create_contact({"name": " Anna Berg ", "company": "Acme",
                                     "numbers": "+44 20 7946 0018; 07700 900123", "note": "prefers mornings"}, "alice")
    assert anna["name"] == "Anna Berg" and anna["numbers"] == ["+44 20 7946 0018", "07700 900123"]
    assert display_name(anna) == "Anna Berg (Acme)"
    assert lookup("00442079460018")["id"] == anna["id"]
    assert lookup("02079460018") is None  # no country code set: national form differs
    assert lookup("02079460018", "44")["id"] == anna["id"]
    assert lookup("anonymous") is None and lookup("") is None

    phonebook.update_contact(anna["id"], {"name": "Anna Berg", "company": "Acme", "numbers": ["07700 900123"]}, "bob")
    assert lookup("+442079460018") is None
    phonebook.delete_contact(anna["id"], "alice")
    assert Contact.select().count() == 0 and ContactNumber.select().count() == 0
    assert [(e.user, e.action, e.kind, e.key) for e in AuditEntry.select().order_by(AuditEntry.id)] == [
        ("alice", "create", "contact", str(anna["id"])), ("bob", "update", "contact", str(anna["id"])),
        ("alice", "delete", "contact", str(anna["id"]))]


def test_bad_input_names_each_field_and_stores_nothing(install):
    with pytest.raises(SiteError) as raised:
        phonebook.create_contact({"name": "", "company": "x" * 81, "numbers": ["12ab", "+44 20 7946 0018",
                                                                               "0044 20 7946 0018"]}, "alice")
    wheres = [p.where for p in raised.value.problems]
    assert wheres == ["contact.name", "contact.company", "contact.numbers", "contact.numbers"]
    messages = " ".join(p.message for p in raised.value.problems)
    assert "'12ab' is not a phone number" in messages and "is the same number as" in messages
    with pytest.raises(SiteError, match="at least one phone number"):
        phonebook.create_contact({"name": "Nobody", "numbers": []}, "alice")
    with pytest.raises(SiteError, match="unknown field"):
        phonebook.create_contact({"name": "X", "numbers": ["100"], "email": "x@example.com"}, "alice")
    assert Contact.select().count() == 0 and AuditEntry.select().count() == 0


def test_site_country_code_setting_is_validated(install):
    with pytest.raises(SiteError):
        service.save_settings({"country_code": "+44"}, user="alice")
    assert service.save_settings({"country_code": "44"}, user="alice").country_code == "44"


def test_search_by_name_company_or_number(install):
    phonebook.create_contact({"name": "Anna Berg", "company": "Acme", "numbers": ["+44 20 7946 0018"]}, "t")
    phonebook.create_contact({"name": "Bo Lind", "company": "Globex", "numbers": ["555 0100"]}, "t")
    assert [c["name"] for c in phonebook.list_contacts("acme")[0]] == ["Anna Berg"]
    assert [c["name"] for c in phonebook.list_contacts("7946-0018")[0]] == ["Anna Berg"]
    assert [c["name"] for c in phonebook.list_contacts("")[0]] == ["Anna Berg", "Bo Lind"]
    assert phonebook.list_contacts("", limit=1, offset=1) == ([phonebook.list_contacts("bo")[0][0]], 2)


def test_replace_all_makes_the_phonebook_exactly_the_list(install):
    phonebook.create_contact({"name": "Anna Berg", "company": "Acme", "numbers": ["100"]}, "t")
    phonebook.create_contact({"name": "Gone", "numbers": ["200"]}, "t")
    counts = phonebook.replace_all([{"name": "Anna Berg", "company": "Acme", "numbers": ["101"], "note": ""},
                                    {"name": "New", "company": "", "numbers": ["300"], "note": ""}], "t")
    assert counts == {"created": 1, "updated": 1, "deleted": 1, "unchanged": 0}
    assert [(c["name"], c["numbers"]) for c in phonebook.all_contacts()] == [("Anna Berg", ["101"]), ("New", ["300"])]


def test_search_treats_like_wildcards_as_text(install):
    phonebook.create_contact({"name": "Anna Berg", "numbers": ["555 0100"]}, "t")
    phonebook.create_contact({"name": "100% Sales_Team", "numbers": ["555 0101"]}, "t")
    assert [c["name"] for c in phonebook.list_contacts("%")[0]] == ["100% Sales_Team"]
    assert [c["name"] for c in phonebook.list_contacts("a_b")[0]] == []  # "_" would match "Anna Berg"'s space
    assert [c["name"] for c in phonebook.list_contacts("sales_")[0]] == ["100% Sales_Team"]
