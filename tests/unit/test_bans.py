"""Bans decided from counted failures, on a real SQLite file and the base role's real nftables sets.

Each test runs in a network namespace of its own holding the firewall the Ansible base role installs
(so the ban sets are real and the host's own rule set is never touched); needs root, as CI has.
"""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import pytest

from appliance.errors import SiteError
from appliance.model import audit
from appliance.model.models import AuthFailure, utcnow
from appliance.security import bans, firewall
from appliance.services.bans import source_of
from appliance.site import service
from appliance.support import diagnostics
from lab import netns
from lab.banlab import firewall_rules

SOURCE = "198.51.100.7"


@pytest.fixture
def box(install):
    """An install whose calling thread sits in a fresh network namespace with Linebox's firewall."""
    if os.geteuid() != 0:
        pytest.fail("the ban tests need root (network namespaces): run them as root, as CI does")
    lan = netns.Lan.create(f"lbu{os.getpid() % 100000}")
    try:
        with netns.entered(lan.hub):
            subprocess.run(["nft", "-f", "-"], input=firewall_rules(5060, "10000-20000"), text=True, check=True,
                           capture_output=True, timeout=20)
            service.save_settings({"ban_failures": 3, "ban_window_seconds": 60, "ban_seconds": 600,
                                   "ban_max_seconds": 2000, "ban_allow": "192.0.2.0/24"}, user="test")
            yield install
    finally:
        lan.delete()


def fail(times: int, source: str = SOURCE, now=None, reason: str = "ChallengeResponseFailed"):
    return [bans.record_failure(source, reason, account="101", now=now) for _ in range(times)]


def test_the_nth_failure_bans_and_the_firewall_drops_the_source(box):
    results = fail(3)
    assert results[:2] == [None, None]
    ban = results[2]
    assert ban is not None and ban.source == SOURCE and ban.failures == 3
    assert ban.reason == "3 failures in 60 s: PJSIP ChallengeResponseFailed"
    assert (ban.until - ban.since) == timedelta(seconds=600)
    left = firewall.elements()[SOURCE]
    assert 590 <= left <= 600
    entry = audit.entries(kind="ban")[0]
    assert (entry.action, entry.user, entry.key) == ("ban", bans.SERVICE_USER, SOURCE)
    assert entry.after["until"] and entry.after["reason"] == ban.reason


def test_failures_outside_the_window_do_not_add_up(box):
    long_ago = utcnow() - timedelta(seconds=120)
    fail(2, now=long_ago)
    assert fail(2) == [None, None]
    assert not bans.active(SOURCE)


def test_each_new_ban_lasts_twice_as_long_up_to_the_maximum(box):
    durations = []
    start = utcnow() - timedelta(hours=5)
    for round_ in range(4):
        moment = start + timedelta(hours=round_)  # each ban long over before the next round
        ban = fail(3, now=moment)[-1]
        durations.append(int((ban.until - ban.since).total_seconds()))
    assert durations == [600, 1200, 2000, 2000]


def test_allow_listed_and_loopback_sources_are_counted_never_banned(box):
    assert fail(12, "192.0.2.44") == [None] * 12
    assert fail(10, "127.0.0.1") == [None] * 10
    assert not bans.active()
    assert ("192.0.2.44", "PJSIP", 12) in bans.failure_counts(timedelta(hours=1))
    with pytest.raises(SiteError, match="allow-list"):
        bans.ban("192.0.2.44", "by hand", user="admin")
    lines = [f.text for f in diagnostics.check_bans() if f.level == "warn"]
    assert lines == ["192.0.2.44 (allow-listed) failed 12 auth(s) in 1 h"]  # the worst one


def test_unban_lifts_it_in_the_firewall_and_the_audit_log(box):
    fail(3)
    assert bans.unban(SOURCE, user="admin") == 1
    assert SOURCE not in firewall.elements()
    assert not bans.active(SOURCE)
    assert [(e.action, e.user) for e in audit.entries(kind="ban")] == [("unban", "admin"), ("ban", bans.SERVICE_USER)]
    assert bans.unban(SOURCE, user="admin") == 0
    # counting starts again after the ban: the failures before it were paid for
    assert fail(2) == [None, None]


def test_bad_addresses_are_refused_naming_the_field(box):
    for bad in ("not-an-address", "10.0.0.0/8", "1.2.3.4; nft flush ruleset"):
        with pytest.raises(SiteError, match=r"^address: '") as error:
            bans.ban(bad, "x", user="admin")
        assert "Traceback" not in str(error.value)
    with pytest.raises(SiteError, match="^seconds:"):
        bans.ban(SOURCE, "x", user="admin", seconds=0)
    with pytest.raises(SiteError, match="settings.ban_allow"):
        service.save_settings({"ban_allow": "192.168.1.0/24, lan"}, user="admin")


def test_sync_puts_bans_back_after_a_firewall_reload_and_expires_old_ones(box):
    fail(3)
    expired = bans.ban("203.0.113.9", "by hand", user="admin", seconds=5)
    subprocess.run(["nft", "-f", "-"], input=firewall_rules(5060, "10000-20000"), text=True, check=True,
                   capture_output=True, timeout=20)  # flush ruleset: the sets come back empty
    assert firewall.elements() == {}
    changes = bans.sync_firewall(now=expired.until + timedelta(seconds=1))
    assert f"ban of {expired.source} expired" in changes
    assert list(firewall.elements()) == [SOURCE]
    assert [(e.action, e.user) for e in audit.entries(kind="ban")][0] == ("expire", bans.SERVICE_USER)


def test_a_ban_is_recorded_even_when_the_firewall_is_missing(box):
    subprocess.run(["nft", "flush", "ruleset"], check=True, timeout=20)
    ban = fail(3)[-1]
    assert ban is not None and bans.active(SOURCE)
    with pytest.raises(firewall.FirewallError, match="nft"):
        bans.sync_firewall()


def test_diag_shows_bans_and_failure_counts(box):
    fail(3)
    fail(2, "203.0.113.50", reason="InvalidAccountID")
    texts = [f.text for f in diagnostics.check_bans()]
    assert texts[0] == "1 banned now, 1 ban(s) in 24 h, 5 failed auth(s) in 1 h"
    assert texts[1].startswith(f"{SOURCE} until ") and "ChallengeResponseFailed" in texts[1]
    assert AuthFailure.select().count() == 5
    bans.prune(now=utcnow() + timedelta(days=2))
    assert AuthFailure.select().count() == 0


def test_the_source_of_a_security_event():
    assert source_of("IPV4/UDP/192.0.2.7/5060") == "192.0.2.7"
    assert source_of("IPV6/UDP/[2001:db8::7]/5060") == "2001:db8::7"
    assert source_of("IPV4/TCP/127.0.0.1/36498") == "127.0.0.1"
    assert source_of("") is None and source_of("garbage") is None


def test_ipv6_sources_go_to_the_ipv6_set(box):
    bans.ban("2001:db8::7", "by hand", user="admin", seconds=60)
    bans.ban("::ffff:198.51.100.9", "by hand", user="admin", seconds=60)  # an IPv4 peer on a dual-stack socket
    assert set(firewall.elements()) == {"2001:db8::7", "198.51.100.9"}
