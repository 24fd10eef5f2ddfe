"""The Phonebook page through real HTTP: admins create, edit, import and delete; others look or are refused."""

from __future__ import annotations

import html

from appliance.model.models import AuditEntry, Contact
from appliance.phonebook import contacts as phonebook
from appliance.phonebook.lookup import lookup
from tests.web.test_backups import _post_file
from tests.web.test_pages import errors_of, login


def test_admin_creates_searches_edits_and_deletes_a_contact(console):
    admin = login(console, "admin")
    assert admin.get("/contacts").status == 200
    bad = admin.submit("/contacts/new", {"name": "", "company": "Acme", "numbers": "call me\n+44 20 7946 0018"})
    assert bad.status == 422 and Contact.select().count() == 0
    errors = errors_of(bad.body)
    assert errors["name"] == "is required"
    assert "is not a phone number" in html.unescape(errors["numbers"])

    made = admin.submit("/contacts/new", {"name": "Anna Berg", "company": "Acme",
                                          "numbers": "+44 20 7946 0018\n07700 900123", "note": "VIP"})
    assert made.status == 302
    anna = lookup("+442079460018")
    assert anna["name"] == "Anna Berg" and anna["numbers"] == ["+44 20 7946 0018", "07700 900123"]
    listing = admin.get("/contacts?q=7946")
    assert f'data-id="{anna["id"]}"' in listing.body and "Anna Berg" in listing.body and "07700 900123" in listing.body
    assert "No contact matches" in admin.get("/contacts?q=nobody").body

    edited = admin.submit(f"/contacts/{anna['id']}", {"name": "Anna Berg", "company": "Acme Ltd",
                                                       "numbers": "+44 20 7946 0018", "note": ""})
    assert edited.status == 302 and phonebook.get_contact(anna["id"])["company"] == "Acme Ltd"

    token = admin.get(f"/contacts/{anna['id']}").csrf_token()
    deleted = admin.request("POST", f"/contacts/{anna['id']}/delete", {"delete-csrf_token": token})
    assert deleted.status == 302 and phonebook.get_contact(anna["id"]) is None
    assert [e.action for e in AuditEntry.select().where(AuditEntry.kind == "contact").order_by(AuditEntry.id)] == [
        "create", "update", "delete"]


def test_csv_import_all_or_nothing_and_export(console):
    admin = login(console, "admin")
    token = admin.get("/contacts/import").csrf_token()
    bad = _post_file(admin, "/contacts/import", "phonebook.csv",
                     b"name,company,numbers\nAnna Berg,Acme,+44 20 7946 0018\nBo,,12ab\n", {"csrf_token": token})
    assert bad.status == 422 and "row 3: numbers: &#39;12ab&#39; is not a phone number" in bad.body
    assert Contact.select().count() == 0
    good = _post_file(admin, "/contacts/import", "phonebook.csv",
                      b"name,company,numbers\nAnna Berg,Acme,+44 20 7946 0018; 020 7946 0019\n", {"csrf_token": token})
    assert good.status == 302 and lookup("02079460019")["name"] == "Anna Berg"
    exported = admin.get("/contacts/export.csv")
    assert exported.status == 200 and exported.headers["Content-Type"].startswith("text/csv")
    assert exported.body.splitlines()[1] == "Anna Berg,Acme,'+44 20 7946 0018; 020 7946 0019,"


def test_roles(console):
    phonebook.create_contact({"name": "Anna Berg", "numbers": ["100"]}, "t")
    contact_id = phonebook.all_contacts()[0]["id"]
    technician = login(console, "technician")
    assert technician.get("/contacts").status == 200
    page = technician.get(f"/contacts/{contact_id}")
    assert page.status == 200 and "Read only" in page.body and 'id="save"' not in page.body
    assert technician.get("/contacts/new").status == 403
    assert technician.request("POST", f"/contacts/{contact_id}/delete", {}).status in (400, 403)
    assert login(console, "supervisor").get("/contacts").status == 200
    assert login(console, "agent").get("/contacts").status == 403
    assert console.browser().get("/contacts").status == 302  # not logged in: to the login page
    assert login(console, "admin").get("/contacts/999").status == 404
