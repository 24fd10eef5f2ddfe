"""API tokens: shown once, stored only hashed, bound to a user and its current role, audited, revocable."""

from __future__ import annotations

import hashlib
import sqlite3

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
