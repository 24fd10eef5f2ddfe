"""API tokens: shown once, stored only hashed, bound to a user and its current role, audited, revocable."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta

import pytest

from appliance.access import accounts, apitokens
from appliance.errors import SiteError
from appliance.model.models import ApiToken, AuditEntry, User


@pytest.fixture
def alice(install):
    return accounts.create_user("alice", "a long test password", "technician", "test")


def test_a_token_is_stored_only_as_its_hash(install, alice):
    token = apitokens.create_token("alice", "monitoring", actor="admin")
    assert token.startswith("lbx_") and len(token) >= 40
    row = ApiToken.get()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.user.username == "alice" and row.name == "monitoring" and row.last_used is None
    with sqlite3.connect(install.database) as conn:
        dump = "\n".join(conn.iterdump())
    assert token not in dump and token[4:] not in dump
    entry = AuditEntry.select().where(AuditEntry.kind == "api_token").get()
    assert (entry.user, entry.action, entry.key) == ("admin", "create", "alice/monitoring")
    assert token not in str(entry.after) and row.token_hash not in str(entry.after)


def test_user_for_token(install, alice):
    token = apitokens.create_token("alice", "monitoring", actor="admin")
    assert apitokens.user_for_token(token).username == "alice"
    assert ApiToken.get().last_used is not None
    for bad in ("", "lbx_", token + "x", token[:-1], "Bearer " + token, token.replace("lbx_", "xyz_"), "é" * 300):
        assert apitokens.user_for_token(bad) is None
    # the token acts with the user's role as it is now
    User.update(role="admin").where(User.username == "alice").execute()
    assert apitokens.user_for_token(token).role == "admin"


def test_names_are_unique_per_user_and_checked(install, alice):
    accounts.create_user("bob", "a long test password", "admin", "test")
    apitokens.create_token("alice", "ci", actor="admin")
    apitokens.create_token("bob", "ci", actor="admin")  # same name, other user: fine
    with pytest.raises(SiteError) as raised:
        apitokens.create_token("alice", "ci", actor="admin")
    assert raised.value.problems[0].where == "name" and "already has a token" in raised.value.problems[0].message
    for bad_name in ("", " lead", "x" * 41, "new\nline", "semi;colon"):
        with pytest.raises(SiteError):
            apitokens.create_token("alice", bad_name, actor="admin")
    with pytest.raises(SiteError) as raised:
        apitokens.create_token("nobody", "ci", actor="admin")
    assert raised.value.problems[0].where == "username"
    assert [(t["username"], t["name"]) for t in apitokens.list_tokens()] == [("alice", "ci"), ("bob", "ci")]
    assert [t["name"] for t in apitokens.list_tokens("bob")] == ["ci"]


def test_revoke(install, alice):
    keep = apitokens.create_token("alice", "keep", actor="admin")
    gone = apitokens.create_token("alice", "gone", actor="admin")
    apitokens.revoke_token("alice", "gone", actor="admin")
    assert apitokens.user_for_token(gone) is None
    assert apitokens.user_for_token(keep).username == "alice"
    with pytest.raises(SiteError):
        apitokens.revoke_token("alice", "gone", actor="admin")
    entry = AuditEntry.select().where(AuditEntry.action == "delete").get()
    assert (entry.kind, entry.key, entry.user, entry.after) == ("api_token", "alice/gone", "admin", None)


def test_deleting_the_user_deletes_its_tokens(install, alice):
    token = apitokens.create_token("alice", "ci", actor="admin")
    alice.delete_instance()
    assert ApiToken.select().count() == 0
    assert apitokens.user_for_token(token) is None


def _linebox(install, *args: str):
    from click.testing import CliRunner

    from appliance.cli import main
    return CliRunner().invoke(main, ["--home", str(install.home), *args])


def test_token_list_on_the_command_line_shows_who_when_and_last_use_but_never_the_token(install, alice):
    """A technician can see which tokens exist (to revoke the right one) without a Python one-liner."""
    assert _linebox(install, "token", "list").output == "no API tokens\n"
    accounts.create_user("bob", "a long test password", "admin", "test")
    made = _linebox(install, "token", "create", "alice", "monitoring")
    assert made.exit_code == 0, made.output
    used = made.output.strip()
    unused = apitokens.create_token("bob", "backup job", actor="admin")
    assert apitokens.user_for_token(used).username == "alice"

    result = _linebox(install, "token", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["user", "name", "created", "(UTC)", "last", "used", "(UTC)", "expires"]
    today = ApiToken.get().created.strftime("%Y-%m-%d")
    in_90_days = (ApiToken.get().created + timedelta(days=apitokens.DEFAULT_DAYS)).strftime("%Y-%m-%d")
    assert lines[1].split()[:3] == ["alice", "monitoring", today] and lines[1].split()[4] == today
    assert lines[1].split()[6] == in_90_days
    assert lines[2].split()[:4] == ["bob", "backup", "job", today] and lines[2].split()[5:] == ["never", in_90_days]
    assert len(lines) == 3 and all(len(line) <= 80 for line in lines)
    for secret in (used, unused, used[4:], apitokens.hash_token(used)):
        assert secret not in result.output

    only_bob = _linebox(install, "token", "list", "--user", "bob")
    assert [line.split()[0] for line in only_bob.output.splitlines()[1:]] == ["bob"]
    assert _linebox(install, "token", "list", "--user", "alice").output.count("monitoring") == 1
    nobody = _linebox(install, "token", "list", "--user", "nobody")
    assert nobody.exit_code == 1 and "user nobody does not exist" in nobody.output
    assert "Traceback" not in nobody.output


def test_token_revoke_on_the_command_line_takes_it_off_the_list(install, alice):
    token = apitokens.create_token("alice", "old job", actor="admin")
    result = _linebox(install, "token", "revoke", "alice", "old job")
    assert result.exit_code == 0 and result.output == "revoked alice/old job\n"
    assert apitokens.user_for_token(token) is None
    assert _linebox(install, "token", "list", "--user", "alice").output == "user alice has no API tokens\n"
    again = _linebox(install, "token", "revoke", "alice", "old job")
    assert again.exit_code == 1 and "user alice has no token called 'old job'" in again.output


def test_an_api_token_expires(api):
    token = apitokens.create_token("agent", "short-lived", "test", expires_days=1)
    client = api.client(None)
    assert client.get("/api/v1/me", token=token).status == 200
    row = ApiToken.get(ApiToken.name == "short-lived")
    ApiToken.update(expires=row.expires - timedelta(days=1, seconds=1)).where(ApiToken.id == row.id).execute()
    reply = client.get("/api/v1/me", token=token)
    assert reply.status == 401
    listed = {t["name"]: t for t in apitokens.list_tokens("agent")}
    assert listed["short-lived"]["expired"] and not listed["tests"]["expired"]
    assert listed["tests"]["expires"] is not None  # tokens expire by default (90 days)
