"""The REST API over real HTTP: CRUD, field-named errors, roles, tokens, apply, audit, JSON-only errors."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
import schemathesis

from appliance.access import apitokens
from appliance.model.audit import MASK
from appliance.model.models import AuditEntry, Extension
from appliance.site import service
from tests.api.conftest import PASSWORD, Client, _NoRedirect

EXT = "/api/v1/extensions"


def problem_fields(reply) -> list:
    return [p["field"] for p in reply.json["problems"]]


def test_extension_crud_round_trip(api):
    client = api.client()
    created = client.post(EXT, {"number": "100", "name": "Reception", "voicemail": True})
    assert created.status == 201, created.text
    assert created.headers["Location"] == "/api/v1/extensions/100"
    body = created.json
    assert body["number"] == "100" and body["name"] == "Reception" and body["voicemail"] is True
    password = body["password"]
    assert re.fullmatch(r"[A-Za-z0-9]{24}", password)  # generated, and shown to the admin who made it

    fetched = client.get(created.headers["Location"])
    assert fetched.status == 200 and fetched.json == body

    listed = client.get(EXT)
    assert listed.status == 200 and listed.json["total"] == 1 and listed.json["items"] == [body]

    # full update that also renames; the password, left out, is kept
    updated = client.put(f"{EXT}/100", {"number": "101", "name": "Front desk", "ring_seconds": 40})
    assert updated.status == 200, updated.text
    assert updated.headers["Location"] == "/api/v1/extensions/101"
    assert updated.json["name"] == "Front desk" and updated.json["ring_seconds"] == 40
    assert updated.json["password"] == password
    assert updated.json["voicemail"] is False  # full update: an omitted field takes its default
    assert client.get(f"{EXT}/100").status == 404
    assert client.get(f"{EXT}/101").json == updated.json
    assert [e.number for e in service.list_objects("extension")] == ["101"]

    deleted = client.delete(f"{EXT}/101")
    assert deleted.status == 204 and deleted.text == ""
    missing = client.get(f"{EXT}/101")
    assert missing.status == 404 and missing.json["error"] == "extension 101 does not exist"
    assert client.delete(f"{EXT}/101").status == 404
    assert client.get(EXT).json["total"] == 0


def test_search_and_paging(api):
    client = api.client()
    for number, name in [("200", "Sales 1"), ("201", "Sales 2"), ("202", "Support"), ("300", "Warehouse"),
                         ("301", "sales floor")]:
        assert client.post(EXT, {"number": number, "name": name}).status == 201
    page = client.get(f"{EXT}?limit=2&offset=1").json
    assert page["total"] == 5 and [e["number"] for e in page["items"]] == ["201", "202"]
    assert (page["limit"], page["offset"]) == (2, 1)
    found = client.get(f"{EXT}?q=sales").json  # name, case-insensitive
    assert found["total"] == 3 and [e["number"] for e in found["items"]] == ["200", "201", "301"]
    assert [e["number"] for e in client.get(f"{EXT}?q=30").json["items"]] == ["300", "301"]  # key
    assert client.get(f"{EXT}?q=%25").json["total"] == 0  # LIKE wildcards are literal
    bad = client.get(f"{EXT}?limit=0")
    assert bad.status == 400 and problem_fields(bad) == ["limit"]
    assert client.get(f"{EXT}?offset=minus").status == 400


def test_bad_value_is_refused_naming_the_field_and_nothing_is_stored(api):
    client = api.client()
    audit_rows = AuditEntry.select().count()
    reply = client.post(EXT, {"number": "12x", "name": "Bad", "ring_seconds": 2})
    assert reply.status == 422
    assert reply.headers["Content-Type"] == "application/json"
    assert sorted(problem_fields(reply)) == ["number", "ring_seconds"]
    assert "'12x' is not allowed here" in reply.json["error"]
    unknown = client.post(EXT, {"number": "100", "name": "X", "colour": "red"})
    assert unknown.status == 422 and unknown.json["problems"][0] == {
        "field": "colour", "where": "extension.colour", "message": "unknown field"}
    nested = client.post("/api/v1/outbound_routes", {"name": "out", "trunks": ["t"], "patterns": [{"match": "9;x"}]})
    assert nested.status == 422 and "patterns.0.match" in problem_fields(nested)
    # a check across the site: the ring group names an extension that does not exist
    group = client.post("/api/v1/ring_groups", {"number": "600", "name": "Sales", "members": ["100"]})
    assert group.status == 422 and problem_fields(group) == ["members"]
    assert group.json["problems"][0]["message"] == "extension 100 does not exist"
    assert Extension.select().count() == 0 and service.list_objects("ring_group") == []
    assert AuditEntry.select().count() == audit_rows

    # an update with a bad value leaves the stored object as it was
    assert client.post(EXT, {"number": "100", "name": "Good"}).status == 201
    before = client.get(f"{EXT}/100").json
    reply = client.put(f"{EXT}/100", {"name": "Good", "email": "not an address"})
    assert reply.status == 422 and problem_fields(reply) == ["email"]
    assert client.get(f"{EXT}/100").json == before


def test_conflicts(api):
    client = api.client()
    assert client.post(EXT, {"number": "100", "name": "A"}).status == 201
    assert client.post(EXT, {"number": "101", "name": "B"}).status == 201
    duplicate = client.post(EXT, {"number": "100", "name": "again"})
    assert duplicate.status == 409 and problem_fields(duplicate) == ["number"]
    rename = client.put(f"{EXT}/101", {"number": "100", "name": "B"})
    assert rename.status == 409 and problem_fields(rename) == ["number"]
    # a number is one plan across extensions, ring groups and voicemail boxes
    taken = client.post("/api/v1/voicemail_boxes", {"number": "100", "name": "Box"})
    assert taken.status == 422 and taken.json["problems"][0]["field"] == "number"
    assert client.post("/api/v1/ring_groups", {"number": "600", "name": "G", "members": ["100"]}).status == 201
    in_use = client.delete(f"{EXT}/100")
    assert in_use.status == 409
    assert in_use.json["problems"] == [{"field": None, "where": "extension",
                                        "message": "extension 100 is used by ring group 600 (members): "
                                                   "change that first"}]
    assert client.get(f"{EXT}/100").status == 200
    assert client.put(f"{EXT}/999", {"name": "nobody"}).status == 404


def test_settings(api):
    client = api.client()
    settings = client.get("/api/v1/settings").json
    assert settings["sip_port"] == 5060
    changed = client.put("/api/v1/settings", {**settings, "sip_port": 5070})
    assert changed.status == 200 and changed.json["sip_port"] == 5070
    assert service.load_settings().sip_port == 5070
    bad = client.put("/api/v1/settings", {"rtp_start": 20000, "rtp_end": 10000})
    assert bad.status == 422 and problem_fields(bad) == ["rtp_end"]
    assert service.load_settings().rtp_end == 20000


def test_without_a_valid_token_is_401(api):
    anonymous = api.client(None)
    for reply in (anonymous.get(EXT), anonymous.post(EXT, {"number": "100", "name": "X"}),
                  anonymous.get(EXT, headers={"Authorization": "Basic YWRtaW46eA=="}),
                  anonymous.get(EXT, headers={"Authorization": "Bearer"}),
                  anonymous.get(EXT, token="lbx_not-a-real-token")):
        assert reply.status == 401
        assert reply.headers["WWW-Authenticate"] == 'Bearer realm="linebox"'
        assert set(reply.json) == {"error", "problems"}
    assert Extension.select().count() == 0
    # a revoked token stops working at once
    client = api.client("admin")
    assert client.get(EXT).status == 200
    apitokens.revoke_token("admin", "tests", "test")
    assert client.get(EXT).status == 401
    # the OpenAPI document is public
    assert anonymous.get("/api/v1/openapi.json").status == 200


def test_technician_reads_with_masked_secrets_and_cannot_change_anything(api):
    admin, tech = api.client("admin"), api.client("technician")
    assert admin.post(EXT, {"number": "100", "name": "Desk", "voicemail": True}).status == 201
    assert admin.post("/api/v1/trunks", {"name": "telco", "host": "sip.example.com", "registration": True,
                                         "username": "acct", "password": "s3cret"}).status == 201
    seen = tech.get(f"{EXT}/100").json
    assert seen["password"] == MASK and seen["voicemail_pin"] == MASK and seen["name"] == "Desk"
    assert tech.get(EXT).json["items"][0]["password"] == MASK
    assert tech.get("/api/v1/trunks/telco").json["password"] == MASK
    assert admin.get(f"{EXT}/100").json["password"] != MASK

    for reply in (tech.post(EXT, {"number": "101", "name": "New"}),
                  tech.put(f"{EXT}/100", {"name": "Changed"}),
                  tech.delete(f"{EXT}/100"),
                  tech.put("/api/v1/settings", {"sip_port": 5070}),
                  tech.post("/api/v1/apply", {"dry_run": True}),
                  tech.post("/api/v1/rollback", {})):
        assert reply.status == 403, reply.text
        assert "technician role may not do this" in reply.json["error"]
    assert [e.name for e in service.list_objects("extension")] == ["Desk"]
    assert tech.get("/api/v1/generations").status == 200
    assert tech.get("/api/v1/settings").status == 200
    assert tech.get("/api/v1/audit").status == 200
    assert tech.get("/api/v1/me").json == {"username": "technician", "role": "technician", "via": "token"}


@pytest.mark.parametrize("role", ["supervisor", "agent"])
def test_supervisor_and_agent_get_no_site_objects(api, role):
    client = api.client(role)
    for path in (EXT, "/api/v1/trunks", "/api/v1/settings", "/api/v1/generations", "/api/v1/audit"):
        assert client.get(path).status == 403
    assert client.post(EXT, {"number": "100", "name": "X"}).status == 403
    assert client.get("/api/v1/me").json["role"] == role


def test_apply_dry_run_shows_the_diff_then_apply_and_rollback(api):
    client = api.client()
    reply = client.post(EXT, {"number": "100", "name": "Reception"})
    created = reply.json
    # the extension's rows are written at once (appliance.provisioning.live); its number range (_1XX) waits
    # for the dialplan of the first apply
    assert reply.headers["X-Linebox-Live"].startswith("yes; revision=")
    assert "opens a new number range" in reply.headers["X-Linebox-Apply-Needed"]
    dry = client.post("/api/v1/apply", {"dry_run": True})
    assert dry.status == 200, dry.text
    result = dry.json
    assert result["ok"] is True and result["dry_run"] is True and result["generation"] is None
    assert "pjsip.conf" in result["changed"]
    assert "+++ new/pjsip.conf" in result["diff"] and "exten => _1XX," in result["diff"]
    assert created["password"] not in result["diff"] and "********" in result["diff"]
    assert [s["name"] for s in result["steps"]] == ["check", "render", "diff"]
    assert client.get("/api/v1/generations").json["items"] == []

    applied = client.post("/api/v1/apply")  # no body: a real apply
    assert applied.status == 200 and applied.json["ok"] is True and applied.json["generation"] == "000001"
    assert any("Asterisk not managed" in s["detail"] for s in applied.json["steps"])
    assert client.post(EXT, {"number": "201", "name": "Office"}).status == 201  # a new range: a new dialplan
    assert client.post("/api/v1/apply", {"dry_run": False, "diff": False}).json["generation"] == "000002"
    generations = client.get("/api/v1/generations").json["items"]
    assert [(g["id"], g["live"], g["user"]) for g in generations] == [("000002", True, "admin"),
                                                                      ("000001", False, "admin")]

    back = client.post("/api/v1/rollback", {})
    assert back.status == 200 and back.json["generation"] == "000001"
    assert [g["id"] for g in client.get("/api/v1/generations").json["items"] if g["live"]] == ["000001"]
    nothing_before = client.post("/api/v1/rollback", {"generation": "000001"})
    assert nothing_before.status == 200
    bad = client.post("/api/v1/rollback", {"generation": "../.."})
    assert bad.status == 422 and problem_fields(bad) == ["generation"]
    missing = client.post("/api/v1/rollback", {"generation": "999"})
    assert missing.status == 409 and "does not exist" in missing.json["error"]
    assert client.post("/api/v1/apply", {"dry_run": "yes please"}).status == 422


def test_failed_apply_is_409_with_the_error(api, monkeypatch):
    client = api.client()
    from appliance.provisioning import apply as apply_mod

    def refuse(site):
        from appliance.errors import Problem
        return [Problem("extension 100 number", "pretend conflict")]
    monkeypatch.setattr(apply_mod, "check_site", refuse)
    reply = client.post("/api/v1/apply", {})
    assert reply.status == 409
    assert reply.json["ok"] is False and reply.json["error"].startswith("check: ")
    assert "pretend conflict" in reply.json["error"] and reply.json["rolled_back"] is False


def test_apply_while_asterisk_is_down_is_409_naming_the_cause_and_changes_nothing(api, install):
    """AMI points at a port nothing listens on: Asterisk is down.  A clear refusal, never a 500, and
    the live generation stays where it was."""
    client = api.client()
    assert client.post(EXT, {"number": "100", "name": "Reception"}).status == 201
    assert client.post("/api/v1/apply").status == 200  # not managed yet: generation 000001, no Asterisk asked
    install.manage_asterisk = True
    assert client.post(EXT, {"number": "201", "name": "Office"}).status == 201  # a new range: the dialplan changes
    reply = client.post("/api/v1/apply")
    assert reply.status == 409, reply.text
    assert reply.json["error"].startswith("asterisk: Asterisk is not running or not answering (cannot reach AMI")
    assert "nothing was applied; generation 000001 stays live" in reply.json["error"]
    assert [(g["id"], g["live"]) for g in client.get("/api/v1/generations").json["items"]] == [("000001", True)]
    assert client.post("/api/v1/rollback", {"generation": "000001"}).status == 200  # nothing differs: no reload


def test_audit_shows_changes_under_the_token_user(api):
    admin = api.client("admin")
    assert admin.post(EXT, {"number": "100", "name": "Desk"}).status == 201
    assert admin.put(f"{EXT}/100", {"name": "Desk 2"}).status == 200
    entries = admin.get("/api/v1/audit?kind=extension&user=admin").json["items"]
    assert [(e["user"], e["action"], e["kind"], e["key"]) for e in entries] == [
        ("admin", "update", "extension", "100"), ("admin", "create", "extension", "100")]
    assert entries[0]["before"]["name"] == "Desk" and entries[0]["after"]["name"] == "Desk 2"
    assert entries[1]["after"]["password"] == MASK
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entries[0]["when"])
    assert admin.get("/api/v1/audit?user=technician").json["items"] == []
    assert len(admin.get("/api/v1/audit?limit=1").json["items"]) == 1
    assert admin.get("/api/v1/audit?limit=x").status == 400


def test_errors_are_json_never_html(api, monkeypatch):
    client = api.client()
    cases = [
        (client.post(EXT, raw=b'{"number": "100",', headers={"Content-Type": "application/json"}), 400,
         "not valid JSON"),
        (client.post(EXT, raw=b"[1, 2]", headers={"Content-Type": "application/json"}), 400, "JSON object"),
        (client.post(EXT, raw=b"number=100", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415,
         "application/json"),
        (client.post(EXT, raw=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400, "UTF-8"),
        (client.post(EXT), 400, "needs a JSON object"),
        (client.get("/api/v1/no-such-thing"), 404, "no API endpoint"),
        (client.get("/api/nothing"), 404, "no API endpoint"),
        (client.request("PATCH", EXT), 405, "PATCH is not allowed"),
        (client.request("DELETE", EXT), 405, "not allowed"),
        (client.request("OPTIONS", EXT), 405, "not allowed"),
    ]
    for reply, status, text in cases:
        assert reply.status == status, (status, reply.text)
        assert reply.content_type == "application/json", reply.text
        assert text in reply.json["error"]
    allowed = client.request("PATCH", f"{EXT}/100")
    assert set(allowed.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PUT", "DELETE"}

    def boom():
        raise RuntimeError("secret internal detail")
    monkeypatch.setattr(service, "load_settings", boom)
    crashed = client.get("/api/v1/settings")
    assert crashed.status == 500 and crashed.content_type == "application/json"
    assert "secret internal detail" not in crashed.text and "Traceback" not in crashed.text


def _console_login(api, username: str) -> tuple[urllib.request.OpenerDirector, str]:
    """Log in to the console with a cookie jar; return the opener and the session's CSRF token."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                         _NoRedirect())
    token_re = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    page = opener.open(api.url + "/login").read().decode()
    data = urllib.parse.urlencode({"csrf_token": token_re.search(page).group(1), "username": username,
                                   "password": PASSWORD}).encode()
    try:
        opener.open(urllib.request.Request(api.url + "/login", data=data, method="POST"))
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302
    status_page = opener.open(api.url + "/").read().decode()
    return opener, token_re.search(status_page).group(1)


def test_console_session_works_but_unsafe_requests_need_the_csrf_header(api):
    opener, csrf = _console_login(api, "admin")
    session = Client(api.url, opener=opener)
    assert session.get("/api/v1/me").json == {"username": "admin", "role": "admin", "via": "session"}
    refused = session.post(EXT, {"number": "100", "name": "Desk"})
    assert refused.status == 403 and "X-CSRFToken" in refused.json["error"]
    wrong = session.post(EXT, {"number": "100", "name": "Desk"}, headers={"X-CSRFToken": "forged"})
    assert wrong.status == 403
    assert Extension.select().count() == 0
    made = session.post(EXT, {"number": "100", "name": "Desk"}, headers={"X-CSRFToken": csrf})
    assert made.status == 201
    entry = AuditEntry.select().where(AuditEntry.kind == "extension").get()
    assert entry.user == "admin"
    # the technician's session is read-only like its token
    tech_opener, tech_csrf = _console_login(api, "technician")
    tech = Client(api.url, opener=tech_opener)
    assert tech.get(EXT).status == 200
    assert tech.delete(f"{EXT}/100", headers={"X-CSRFToken": tech_csrf}).status == 403


def test_openapi_documents_every_route(api):
    doc = api.client(None).get("/api/v1/openapi.json").json
    schemathesis.openapi.from_dict(doc).validate()  # against the OpenAPI 3.0 meta-schema
    assert doc["openapi"].startswith("3.0") and doc["servers"] == [{"url": "/api/v1"}]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearerAuth"][
            "description"]}
    routes = set()
    for rule in api.app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    documented = {(path, method) for path, item in doc["paths"].items() for method in item if method != "parameters"}
    assert routes == documented
    for path, method in documented:
        op = doc["paths"][path][method]
        assert op["responses"] and op["summary"] and op["operationId"]
        if path != "/openapi.json":
            assert "401" in op["responses"]
    extension = doc["components"]["schemas"]["Extension"]
    assert extension["properties"]["number"]["pattern"] == "^[0-9]{2,8}$"
    assert doc["components"]["schemas"]["Settings"]["properties"]["language"]["enum"] == ["en", "zh"]
    text = api.client(None).get("/api/v1/openapi.json").text
    assert "$defs" not in text and '"const"' not in text and "patternProperties" not in text
