"""The Bans page over real HTTP: technicians see who is banned and why, admins ban and unban (audited).

The console never touches the firewall itself (it has no CAP_NET_ADMIN): these tests run no nft at
all; the ban service puts what the console records into the firewall (tests/lab/test_bans.py).
"""

from __future__ import annotations

from appliance.model import audit
from appliance.security import bans
from appliance.site import service
from tests.web.test_pages import login


def test_technician_sees_bans_and_failures_but_cannot_change_them(console):
    service.save_settings({"ban_failures": 2, "ban_allow": "192.0.2.0/24"}, user="test")
    bans.record_failure("198.51.100.7", "ChallengeResponseFailed", account="101", enforce=False)
    ban = bans.record_failure("198.51.100.7", "ChallengeResponseFailed", account="101", enforce=False)
    assert ban is not None  # (recorded; no firewall here: the service would enforce it)
    tech = login(console, "technician")
    page = tech.get("/bans")
    assert page.status == 200
    assert "198.51.100.7" in page.body and "2 failures in 60 s: PJSIP ChallengeResponseFailed" in page.body
    assert ban.until.strftime("%Y-%m-%d %H:%M:%S") in page.body and "Unban" not in page.body
    assert 'href="/bans"' in page.body  # in the navigation
    token = page.csrf_token()
    assert tech.request("POST", "/bans/unban", {"csrf_token": token, "address": "198.51.100.7"}).status == 403
    assert bans.active("198.51.100.7")


def test_admin_bans_and_unbans_by_hand_with_audit_rows(console, admin_password):
    admin = login(console, "admin")
    response = admin.submit("/bans", {"address": "203.0.113.66"}, form_page="/bans")
    assert response.status == 302
    page = admin.get("/bans")
    assert "203.0.113.66 banned until" in page.body and "banned by hand" in page.body
    assert bans.active("203.0.113.66")[0].by == "admin"
    response = admin.submit("/bans/unban", {"address": "203.0.113.66"}, form_page="/bans")
    assert response.status == 302 and "203.0.113.66 unbanned." in admin.get("/bans").body
    assert not bans.active("203.0.113.66")
    assert [(e.action, e.user) for e in audit.entries(kind="ban")] == [("unban", "admin"), ("ban", "admin")]


def test_bad_address_and_allow_listed_address_are_refused_clearly(console, admin_password):
    service.save_settings({"ban_allow": "192.0.2.0/24"}, user="test")
    admin = login(console, "admin")
    response = admin.submit("/bans", {"address": "1.2.3.4; nft flush ruleset"}, form_page="/bans")
    assert response.status == 422 and "address: &#39;1.2.3.4; nft flush ruleset&#39; is not an IPv4" in response.body
    response = admin.submit("/bans", {"address": "192.0.2.7"}, form_page="/bans")
    assert response.status == 422 and "allow-list" in response.body
    assert not bans.active()
