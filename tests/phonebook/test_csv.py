"""The phonebook's CSV import: every fault named by row and field, nothing written unless all rows are good."""

from __future__ import annotations

from appliance.model.models import AuditEntry, Contact
from appliance.phonebook import contacts as phonebook
from appliance.phonebook import csv_file
from appliance.phonebook.lookup import lookup

GOOD = (b"name,company,numbers,note\r\n"
        b"Anna Berg,Acme,+44 20 7946 0018; 07700 900123,prefers mornings\r\n"
        b"Bo Lind,,'+1 555 000 1111,\r\n")


def test_a_good_file_is_imported_and_importing_it_again_changes_nothing(install):
    problems, counts = csv_file.import_bytes(GOOD, "alice")
    assert problems == [] and counts == {"created": 2, "updated": 0}
    assert lookup("+15550001111")["name"] == "Bo Lind"
    assert lookup("07700900123")["note"] == "prefers mornings"
    problems, counts = csv_file.import_bytes(GOOD, "alice")
    assert problems == [] and counts == {"created": 0, "updated": 2}
    assert Contact.select().count() == 2


def test_bad_rows_are_each_named_with_their_field_and_nothing_is_written(install):
    data = (b"name,company,numbers,note\n"
            b"Anna Berg,Acme,+44 20 7946 0018,\n"
            b",Acme,555 0100,\n"
            b"Cy Rao,,call me,\n"
            b"Di Park,,,\n"
            b"Anna Berg,Acme,555 0199,\n")
    problems, counts = csv_file.import_bytes(data, "alice")
    assert problems == [
        "row 3: name: is required",
        "row 4: numbers: 'call me' is not a phone number (digits, an optional leading + or 00, spaces, dashes, "
        "dots and parentheses; 2 to 20 digits)",
        "row 5: numbers: give at least one phone number",
        "row 6: name: Anna Berg (Acme) is already in row 2",
    ]
    assert counts == {"created": 0, "updated": 0}
    assert Contact.select().count() == 0 and AuditEntry.select().count() == 0


def test_a_file_of_the_wrong_shape_says_what_is_wrong(install):
    assert csv_file.import_bytes(b"name,phone\nAnna,100\n", "alice")[0] == [
        "row 1: unknown column(s) phone (columns: name, company, numbers, note)",
        "row 1: missing column(s) numbers"]
    assert csv_file.import_bytes("name,numbers\nÅsa,100\n".encode("latin-1"), "alice")[0] == [
        "the file is not UTF-8 text (save it as 'CSV UTF-8')"]
    assert csv_file.import_bytes(b"name,numbers\nAnna,100,200\n", "alice")[0] == [
        "row 2: 3 cells but 2 columns"]
    assert Contact.select().count() == 0


def test_export_reads_back_the_same(install):
    csv_file.import_bytes(GOOD, "alice")
    exported = csv_file.export_text()
    assert exported.splitlines()[2] == "Bo Lind,,'+1 555 000 1111,"  # a leading + is guarded from spreadsheets
    before = phonebook.all_contacts()
    assert csv_file.import_bytes(exported.encode(), "alice") == ([], {"created": 0, "updated": 2})
    assert phonebook.all_contacts() == before
