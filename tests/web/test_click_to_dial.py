"""Click-to-dial's checks before any call (no Asterisk here: tests/lab/test_crm.py places the real calls).

The number is validated before it reaches an AMI header; a user whose console follows no extension is told
to claim one; the REST API allows admins and agents only, and names the field at fault."""

from __future__ import annotations

import pytest

from appliance.callcenter import clicktodial
from appliance.errors import SiteError
from appliance.model.models import AnalogPort
from appliance.site import service
from tests.web.test_agent_desk import _agent
from tests.web.test_callcenter_pages import session_for, token_of


@pytest.mark.parametrize("typed, dialled", [("139 1234 5678", "13912345678"), ("+44 (20) 7946-0018", "+442079460018"),
                                            ("*97", "*97"), ("110", "110")])
def test_a_number_is_dialled_as_typed_without_separators(typed, dialled):
    assert clicktodial.dialable(typed) == dialled


@pytest.mark.parametrize("typed", ["", "12\r\nAction: Originate", "1;Hangup", "1,2", "++1", "1" * 33, "abc"])
def test_anything_but_a_number_is_refused_naming_the_field(typed):
    with pytest.raises(SiteError) as refused:
        clicktodial.dialable(typed)
    assert refused.value.problems[0].where == "number"


def test_the_originate_rings_the_agents_own_device_into_the_phones_context(install):
    service.save_object("extension", {"number": "100", "name": "Desk"}, "test", create=True)
    fields = clicktodial.originate_fields("100", "13912345678")
    assert (fields["Channel"], fields["Context"], fields["Exten"], fields["Priority"]) == (
        "PJSIP/100", "from-internal", "13912345678", "1")
    assert "CallerID" not in fields and "Application" not in fields  # the phone's own caller ID, no app
    AnalogPort.create(kind="fxs", channel=5, extension="100")
    assert clicktodial.originate_fields("100", "110")["Channel"] == "DAHDI/5"


def test_the_agent_page_refuses_a_bad_number_and_asks_for_an_extension_first(console):
    unclaimed = session_for(console, "bob", "agent")
    answer = unclaimed.post(f"{console.url}/agent/dial", data={
        "csrf_token": token_of(unclaimed, f"{console.url}/agent"), "number": "110"})
    assert "say which extension is yours first" in answer.text
    s = _agent(console)
    answer = s.post(f"{console.url}/agent/dial", data={"csrf_token": token_of(s, f"{console.url}/agent"),
                                                        "number": "1;Hangup", "next": "https://evil.example/"})
    assert answer.url == f"{console.url}/agent"  # never an open redirect
    assert "1;Hangup is not a number to dial" in answer.text
    page = s.get(f"{console.url}/agent").text
    assert 'id="click-to-dial"' in page and 'class="pop-call-back' in page


def test_the_crm_page_says_nothing_is_sent_unless_configured_and_shows_the_log(console):
    from appliance.callcenter import webhooks
    admin = session_for(console, "carol", "admin")
    page = admin.get(f"{console.url}/crm").text
    assert "Nothing is sent anywhere unless configured" in page and "No webhook deliveries." in page
    service.save_settings({"webhook_url": "https://crm.example/hook"}, "test")
    webhooks.record_pop({"type": "ringing", "uniqueid": "1.1", "caller": "+1555<script>"})
    page = admin.get(f"{console.url}/crm").text
    assert "https://crm.example/hook" in page and "call.ringing" in page
    assert webhooks.secret() in page
    technician = session_for(console, "tom", "technician")
    shown = technician.get(f"{console.url}/crm").text
    assert "Nothing is sent anywhere unless configured" in shown and webhooks.secret() not in shown
    assert technician.post(f"{console.url}/crm/secret", data={
        "csrf_token": token_of(technician, f"{console.url}/crm")}).status_code == 403
