"""Contacts in the site's YAML file: exported, imported all-or-nothing with located errors, left alone when absent."""

from __future__ import annotations

import pytest

from appliance import config_file
from appliance.errors import SiteError
from appliance.phonebook import contacts as phonebook


def test_contacts_round_trip_through_the_site_file(install):
    phonebook.create_contact({"name": "Anna Berg", "company": "Acme", "numbers": ["+44 20 7946 0018"],
                              "note": "VIP"}, "t")
    text = config_file.export_text()
    assert "contacts:\n- name: Anna Berg\n  company: Acme\n  numbers:\n  - +44 20 7946 0018\n  note: VIP\n" in text
    phonebook.create_contact({"name": "Extra", "numbers": ["100"]}, "t")
    config_file.import_text(text, "t")
    assert [(c["name"], c["numbers"]) for c in phonebook.all_contacts()] == [("Anna Berg", ["+44 20 7946 0018"])]
    # a file without the section leaves the phonebook alone
    config_file.import_text(text.split("contacts:")[0], "t")
    assert len(phonebook.all_contacts()) == 1


def test_a_bad_contact_is_reported_at_its_line_and_nothing_changes(install):
    phonebook.create_contact({"name": "Kept", "numbers": ["100"]}, "t")
    text = config_file.export_text().split("contacts:")[0] + (
        "contacts:\n- name: Anna Berg\n  numbers: ['+44 20 7946 0018']\n- name: Bo\n  numbers:\n  - 12ab\n")
    with pytest.raises(SiteError) as raised:
        config_file.import_text(text, "t")
    (problem,) = raised.value.problems
    assert problem.where == "contacts.1.numbers" and "'12ab' is not a phone number" in problem.message
    assert text.splitlines()[problem.line - 1] == "  numbers:"
    assert [c["name"] for c in phonebook.all_contacts()] == ["Kept"]
