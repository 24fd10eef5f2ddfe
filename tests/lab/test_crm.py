"""Click-to-dial and the CRM hooks with real calls through Asterisk (issue 21, items 3 and 4).

The console is served over real HTTP from the pbx's install, as in ``test_agent_desk``, whose set-up this
module reuses.  Click-to-dial: the agent's phone (the carrier's registered extension 201) rings first; once
it answers, the pbx dials the number through the extension's outbound route, past the dial guard (the
pbx's own FastAGI service), and the carrier's telco line receives it with the route's caller ID.
"""

from __future__ import annotations

import pytest
import requests

from appliance.access import apitokens
from appliance.model.models import AuditEntry
from appliance.site import service
from tests.lab.helpers import add, live_with_carrier
from tests.lab.test_agent_desk import _served, _wait_calls_gone, session_for_agent
from tests.web.test_callcenter_pages import token_of

pytestmark = pytest.mark.lab

MOBILE = "13912345678"
COMPANY_NUMBER = "02155550000"  # the outbound route's caller ID
RING_SECONDS = 1.5  # the agent's phone rings this long before it is picked up


def _dialled(phones, mark: int, number: str) -> tuple[dict, dict]:
    """The agent's phone ringing, then the carrier's telco line receiving ``number``: checked to come after
    the phone has rung its RING_SECONDS and been picked up (the pbx dials only an answered phone's call)."""
    rang = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=20)
    out = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == number, since=mark, timeout=20)
    assert out["_time"] - rang["_time"] >= RING_SECONDS, "the number was dialled before the agent's phone answered"
    assert rang["Local"].endswith(f":{phones.phones_port}")  # the phone, not the trunk
    assert out["Local"].endswith(f":{phones.telco_port}") and out["CallerID"] == COMPANY_NUMBER, out
    return rang, out


def test_click_to_dial_rings_the_agents_phone_then_the_carrier_gets_the_call_with_the_routes_caller_id(
        pbx, carrier):
    service.save_settings({"country_code": "86", "area_code": "21"}, user="test")
    add("extension", number="201", name="Agent 201")
    phones = live_with_carrier(pbx, carrier)
    add("outbound_route", name="out", patterns=[{"match": "_1NXXXXXXXXX"}], trunks=["telco"],
        caller_id=COMPANY_NUMBER)
    pbx.apply()
    phones.set_behaviour("201", "answer", hold=3, ring=RING_SECONDS)
    phones.set_behaviour(MOBILE, "answer", hold=2, ring=0)
    server = _served(pbx)
    try:
        agent = session_for_agent(server.url)
        # from the agent page's form
        mark = phones.mark()
        answer = agent.post(f"{server.url}/agent/dial", allow_redirects=False, data={
            "csrf_token": token_of(agent, f"{server.url}/agent"), "number": "139 1234 5678"})
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/agent")
        _dialled(phones, mark, MOBILE)
        assert any(e.action == "dial" and e.key == "201" and e.after == {"number": MOBILE}
                   for e in AuditEntry.select())
        _wait_calls_gone(pbx)

        # through the REST API with the agent's token
        token = apitokens.create_token("alice", "crm", "test")
        mark = phones.mark()
        api = requests.post(f"{server.url}/api/v1/dial", json={"number": MOBILE},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert api.status_code == 202 and api.json() == {"number": MOBILE, "status": "ringing"}, api.text
        _dialled(phones, mark, MOBILE)
        refused = requests.post(f"{server.url}/api/v1/dial", json={"number": "1;Hangup"},
                                headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert refused.status_code == 422 and "1;Hangup" in refused.text
    finally:
        server.close()
