"""Webhooks and CRM addresses without a network: nothing is logged unless configured, addresses are http(s)
only, the signature is the documented one, and the secret is sealed at rest.  tests/lab/test_crm.py sends
real events to a real receiver."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from appliance.callcenter import webhooks
from appliance.errors import SiteError
from appliance.model.models import Setting, WebhookDelivery
from appliance.site import service


def test_nothing_is_logged_while_no_receiver_is_configured(install):
    assert webhooks.record_pop({"type": "ringing", "uniqueid": "1.1", "caller": "+1555"}) is None
    assert WebhookDelivery.select().count() == 0


@pytest.mark.parametrize(("field", "value"), [
    ("webhook_url", "ftp://crm.example/hook"), ("webhook_url", "file:///etc/passwd"),
    ("webhook_url", "https://crm.example/a b"), ("webhook_url", "https://crm.example/{number}"),
    ("crm_lookup_url", "https://crm.example/lookup"), ("crm_lookup_url", "https://crm.example/{number}/{x}"),
    ("crm_open_url", "javascript:alert(1)//{number}"), ("crm_lookup_url", "http:///{number}")])
def test_crm_addresses_are_http_or_https_and_templates_hold_the_number_once(install, field, value):
    with pytest.raises(SiteError) as refused:
        service.save_settings({field: value}, "test")
    assert refused.value.problems[0].where == f"settings.{field}"


def test_a_configured_receiver_gets_events_logged_with_the_documented_signature(install):
    service.save_settings({"webhook_url": "https://crm.example/hook",
                           "crm_lookup_url": "https://crm.example/api/caller?number={number}"}, "test")
    row = webhooks.record_pop({"type": "connected", "uniqueid": "1.1", "queue": "700", "agent": "201",
                               "caller": "+1555"})
    assert row is not None and row.event == "call.answered" and row.status == "pending" and row.url.endswith("/hook")
    key = webhooks.secret()
    assert key not in Setting.get(Setting.key == webhooks.SECRET_KEY).value  # sealed at rest
    body = row.body.encode()
    assert webhooks.signature(key, "1700000000", body) == "v1=" + hmac.new(
        key.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.new_secret("test") != key


def test_a_crm_answer_is_untrusted_text_cut_short_with_only_an_http_link():
    from appliance.callcenter import crm
    assert crm.fill("https://crm.example/find?q={number}", "+44 20&x=1") == \
        "https://crm.example/find?q=%2B44%2020%26x%3D1"
    assert crm.parse(b'{"name": "A\\nB", "company": 7, "link": "javascript:alert(1)"}') == \
        {"found": True, "name": "A B", "company": "", "link": ""}
    assert crm.parse(b'{"name": "' + b"x" * 500 + b'", "link": "https://crm.example/1"}')["name"] == "x" * 200
    assert crm.parse(b"[1, 2]") == {"found": False, "error": "not a JSON object"}
    assert crm.parse(b"\xff") == {"found": False, "error": "not JSON"}
    assert crm.lookup("", "+1555") is None and crm.lookup("https://crm.example/{number}", "") is None


def test_a_closing_event_without_the_callers_channel_still_names_the_call():
    """Asterisk sends AgentComplete without the caller's fields when the caller's channel is already gone
    (seen intermittently in the lab): the pop and the webhook's call.ended must still name the call."""
    from appliance.callcenter.live import PopTracker, screen_pop
    member = {"Queue": "600", "Interface": "PJSIP/201", "MemberName": "201"}
    tracker = PopTracker()
    ringing = tracker.complete(screen_pop({"Event": "AgentCalled", **member, "Uniqueid": "7.1",
                                           "Linkedid": "7.1", "CallerIDNum": "+15553700"}))
    assert ringing["uniqueid"] == "7.1"
    tracker.complete(screen_pop({"Event": "AgentConnect", **member, "Uniqueid": "7.1", "Linkedid": "7.1",
                                 "CallerIDNum": "+15553700"}))
    other = tracker.complete(screen_pop({"Event": "AgentComplete", "Queue": "600", "Interface": "PJSIP/202"}))
    assert other["uniqueid"] == "", "another agent's closing event is not given this call"
    ended = tracker.complete(screen_pop({"Event": "AgentComplete", **member}))
    assert (ended["uniqueid"], ended["linkedid"], ended["caller"]) == ("7.1", "7.1", "+15553700")
    again = tracker.complete(screen_pop({"Event": "AgentComplete", **member}))
    assert again["uniqueid"] == "", "the call is forgotten once it ended"
