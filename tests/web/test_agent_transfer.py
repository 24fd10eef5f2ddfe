"""The agent page's transfer control over real HTTP, without Asterisk (tests/lab/test_transfers.py makes the
real calls): what the agent types is checked against the site and refused, naming the field, before
anything is asked of Asterisk, and a refused transfer leaves no audit row."""

from __future__ import annotations

import pytest

from appliance.model.models import AuditEntry
from appliance.site import service
from tests.web.test_agent_desk import _agent
from tests.web.test_callcenter_pages import session_for, token_of


def _post(s, console, **data):
    return s.post(f"{console.url}/agent/transfer",
                  data={"csrf_token": token_of(s, f"{console.url}/agent"), **data})


def test_the_agent_page_has_the_transfer_control(console):
    page = _agent(console).get(f"{console.url}/agent").text
    assert 'id="transfer"' in page and 'name="how"' in page and 'value="park"' in page
    assert 'value="number"' in page and 'value="queue"' in page and 'value="extension"' in page


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"how": "blind", "kind": "extension", "to": "299"}, "destination", "no extension 299"),
    ({"how": "attended", "kind": "queue", "to": "799"}, "destination", "no queue 799"),
    ({"how": "blind", "kind": "number", "to": "110,1)\r\nAction: Originate"}, "destination", "2 to 20 digits"),
    ({"how": "blind", "kind": "number", "to": "1"}, "destination", "2 to 20 digits"),
    ({"how": "blind", "kind": "context", "to": "100"}, "kind", "choose an extension"),
    ({"how": "hangup", "kind": "extension", "to": "101"}, "how", "choose a blind"),
])
def test_a_bad_destination_is_refused_naming_the_field_and_nothing_is_audited(console, data, field, words):
    answer = _post(_agent(console), console, **data)
    assert answer.status_code == 422, answer.text
    assert answer.json()["done"] is False and field in answer.json()["problems"] and words in answer.json()["problems"]
    assert not AuditEntry.select().where(AuditEntry.kind == "call").exists()


def test_a_console_user_without_an_extension_cannot_transfer(console):
    s = session_for(console, "bob", "agent")
    answer = _post(s, console, how="blind", kind="extension", to="101")
    assert answer.status_code == 422 and "extension" in answer.json()["problems"]


def test_a_good_destination_with_asterisk_down_says_so(console):
    service.save_object("queue", {"number": "700", "name": "Support"}, "test", create=True)
    answer = _post(_agent(console), console, how="blind", kind="queue", to="700")
    assert answer.status_code == 503 and "Asterisk is not reachable" in answer.json()["problems"], answer.text
    assert not AuditEntry.select().where(AuditEntry.kind == "call").exists()
