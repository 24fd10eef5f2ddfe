"""Phonebook contacts over the REST API: CRUD by id, search, field-named errors, the console's roles, OpenAPI."""

from __future__ import annotations

import pytest

from appliance.model.models import AuditEntry, Contact
from appliance.phonebook import contacts as phonebook
from appliance.phonebook import schema as phonebook_schema
from appliance.phonebook.lookup import lookup
from tests.api.test_api import problem_fields

CONTACTS = "/api/v1/contacts"
ANNA = {"name": "Anna Berg", "company": "Acme", "numbers": ["+44 20 7946 0018", "07700 900123"],
        "note": "prefers mornings"}


def test_contact_crud_round_trip(api):
    client = api.client()
    created = client.post(CONTACTS, ANNA)
    assert created.status == 201, created.text
    body = created.json
    assert body == {"id": body["id"], **ANNA}
    assert created.headers["Location"] == f"{CONTACTS}/{body['id']}"

    fetched = client.get(created.headers["Location"])
    assert fetched.status == 200 and fetched.json == body
    assert client.get(CONTACTS).json == {"items": [body], "total": 1, "limit": 100, "offset": 0}

    # full update: the omitted note becomes empty; the id sent back with a fetched contact is ignored
    replaced = client.put(f"{CONTACTS}/{body['id']}", {"id": 999, "name": "Anna Berg-Lind", "company": "Acme",
                                                       "numbers": ["07700 900123"]})
    assert replaced.status == 200, replaced.text
    assert replaced.json == {"id": body["id"], "name": "Anna Berg-Lind", "company": "Acme",
                             "numbers": ["07700 900123"], "note": ""}
    assert replaced.headers["Location"] == f"{CONTACTS}/{body['id']}"
    assert client.get(f"{CONTACTS}/{body['id']}").json == replaced.json
    assert lookup("+442079460018") is None  # the caller-name lookup sees the change at once

    deleted = client.delete(f"{CONTACTS}/{body['id']}")
    assert deleted.status == 204 and deleted.text == ""
    assert client.get(f"{CONTACTS}/{body['id']}").status == 404
    assert client.get(CONTACTS).json["total"] == 0
    assert [(e.user, e.action, e.kind, e.key) for e in AuditEntry.select().where(AuditEntry.kind == "contact")
            .order_by(AuditEntry.id)] == [("admin", action, "contact", str(body["id"]))
                                          for action in ("create", "update", "delete")]


def test_search_by_name_company_or_number_and_paging(api):
    client = api.client()
    for contact in (ANNA, {"name": "Bo Lind", "company": "Globex", "numbers": ["555 0100"]},
                    {"name": "carl acme", "numbers": ["555 0199"]}):
        assert client.post(CONTACTS, contact).status == 201

    def names(query: str) -> list[str]:
        reply = client.get(f"{CONTACTS}?{query}")
        assert reply.status == 200, reply.text
        return [c["name"] for c in reply.json["items"]]

    assert names("q=ACME") == ["Anna Berg", "carl acme"]  # company or name, case-insensitive
    assert names("q=7946-0018") == ["Anna Berg"]  # a number, written differently
    assert names("q=555") == ["Bo Lind", "carl acme"]
    assert names("q=%25") == [] and names("q=_") == []  # LIKE wildcards are literal
    page = client.get(f"{CONTACTS}?limit=1&offset=1").json
    assert page["total"] == 3 and [c["name"] for c in page["items"]] == ["Bo Lind"]
    assert (page["limit"], page["offset"]) == (1, 1)
    for bad, field in (("limit=0", "limit"), ("limit=501", "limit"), ("offset=minus", "offset")):
        reply = client.get(f"{CONTACTS}?{bad}")
        assert reply.status == 400 and problem_fields(reply) == [field]


@pytest.mark.parametrize("path", ["123456", "abc", "-1", "0", "99999999999999999999999"])
def test_unknown_id_is_404(api, path):
    client = api.client()
    for reply in (client.get(f"{CONTACTS}/{path}"), client.put(f"{CONTACTS}/{path}", ANNA),
                  client.delete(f"{CONTACTS}/{path}")):
        assert reply.status == 404, reply.text
        assert reply.json == {"error": f"contact {path} does not exist", "problems": []}
    assert Contact.select().count() == 0


def test_bad_values_are_422_naming_the_field_and_nothing_is_stored(api):
    client = api.client()
    bad = client.post(CONTACTS, {**ANNA, "numbers": ["+44 20 7946 0018", "12ab"]})
    assert bad.status == 422 and bad.headers["Content-Type"] == "application/json"
    assert bad.json["problems"] == [{"field": "numbers", "where": "contact.numbers",
                                     "message": "'12ab' is not a phone number (digits, an optional leading + or 00, "
                                                "spaces, dashes, dots and parentheses; 2 to 20 digits)"}]
    assert "'12ab' is not a phone number" in bad.json["error"]
    several = client.post(CONTACTS, {"name": " ", "numbers": [], "colour": "red"})
    assert several.status == 422 and problem_fields(several) == ["colour"]  # unknown fields are refused first
    several = client.post(CONTACTS, {"name": " ", "numbers": []})
    assert several.status == 422 and problem_fields(several) == ["name", "numbers"]
    for body, field in (({**ANNA, "numbers": {"a": 1}}, "numbers"), ({**ANNA, "name": 7}, "name"),
                        ({**ANNA, "numbers": ["555 0100", "5550100"]}, "numbers")):
        reply = client.post(CONTACTS, body)
        assert reply.status == 422 and set(problem_fields(reply)) == {field}, reply.text
    assert client.post(CONTACTS, raw=b'{"name":', headers={"Content-Type": "application/json"}).status == 400
    assert client.post(CONTACTS, raw=b"name=x", headers={"Content-Type": "text/plain"}).status == 415
    assert Contact.select().count() == 0 and AuditEntry.select().where(AuditEntry.kind == "contact").count() == 0

    # a bad replacement leaves the stored contact as it was
    stored = client.post(CONTACTS, ANNA).json
    reply = client.put(f"{CONTACTS}/{stored['id']}", {**ANNA, "numbers": ["x"]})
    assert reply.status == 422 and problem_fields(reply) == ["numbers"]
    assert client.get(f"{CONTACTS}/{stored['id']}").json == stored


@pytest.mark.parametrize("role", ["technician", "supervisor"])
def test_technician_and_supervisor_look_contacts_up_but_only_admins_change_them(api, role):
    stored = api.client("admin").post(CONTACTS, ANNA).json
    client = api.client(role)
    assert client.get(CONTACTS).json["items"] == [stored]
    assert client.get(f"{CONTACTS}?q=acme").json["total"] == 1
    assert client.get(f"{CONTACTS}/{stored['id']}").json == stored
    for reply in (client.post(CONTACTS, ANNA), client.put(f"{CONTACTS}/{stored['id']}", ANNA),
                  client.delete(f"{CONTACTS}/{stored['id']}")):
        assert reply.status == 403, reply.text
        assert reply.json["error"] == f"the {role} role may not do this (allowed: admin)"
    assert phonebook.all_contacts() == [stored]


def test_agent_gets_no_contacts(api):
    stored = api.client("admin").post(CONTACTS, ANNA).json
    agent = api.client("agent")
    for reply in (agent.get(CONTACTS), agent.get(f"{CONTACTS}/{stored['id']}"), agent.post(CONTACTS, ANNA),
                  agent.delete(f"{CONTACTS}/{stored['id']}")):
        assert reply.status == 403
        assert "agent role may not do this" in reply.json["error"]
    assert api.client(None).get(CONTACTS).status == 401
    assert phonebook.all_contacts() == [stored]


def test_openapi_documents_the_contacts_endpoints(api):
    doc = api.client(None).get("/api/v1/openapi.json").json
    assert set(doc["paths"]["/contacts"]) == {"get", "post"}
    assert set(doc["paths"]["/contacts/{contact_id}"]) == {"parameters", "get", "put", "delete"}
    ops = {(path, method): op for path in ("/contacts", "/contacts/{contact_id}")
           for method, op in doc["paths"][path].items() if method != "parameters"}
    for (_path, method), op in ops.items():
        assert op["x-roles"] == (["admin", "technician", "supervisor"] if method == "get" else ["admin"])
        assert {"401", "403"} <= set(op["responses"]) and "409" not in op["responses"]
    assert set(ops["/contacts", "post"]["responses"]) >= {"201", "400", "415", "422"}
    assert set(ops["/contacts/{contact_id}", "delete"]["responses"]) >= {"204", "404"}
    schemas = doc["components"]["schemas"]
    assert set(schemas["Contact"]["properties"]) == {"id", *phonebook_schema.FIELDS}  # id: read-only, ignored when sent
    assert schemas["Contact"]["properties"]["id"]["readOnly"] is True
    assert set(schemas["ContactView"]["required"]) == {"id", *phonebook_schema.FIELDS}
    assert schemas["Contact"]["properties"]["numbers"]["maxItems"] == phonebook_schema.MAX_NUMBERS
    assert "contacts" in [t["name"] for t in doc["tags"]]
