"""Provisioning files carry SIP passwords: nobody gets one anonymously, from outside, or by guessing.

Over real HTTP (the provisioning server and the console, each a cheroot server).  Before each
gateway had its own credential and an adoption window, an anonymous ``GET /provision/<mac>.cfg``
for an adopted gateway returned its ports' SIP passwords on plain HTTP, and 100 MAC guesses in a
second were all answered.  Other devices on the LAN are other 127.x source addresses.
"""

from __future__ import annotations

import ssl
from datetime import timedelta

import pytest

from appliance.access import accounts
from appliance.errors import SiteError
from appliance.gateways import service as gateways
from appliance.model import throttle
from appliance.model.models import AuditEntry, Gateway, utcnow
from appliance.services import tls
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app
from hardware import gateways as catalogue
from tests.gateways.conftest import http_get
from tests.gateways.test_provisioning_http import MAC, credential, setup_ht802
from tests.web.conftest import Browser, free_port

ATTACKER = "127.0.0.2"
DEVICE = "127.0.0.3"


def window_expires() -> None:
    """The adoption window opened at adoption runs out (its end moved into the past in the database)."""
    Gateway.update(adoption_until=utcnow() - timedelta(seconds=1)).where(Gateway.mac == MAC).execute()


def test_an_anonymous_fetch_after_the_adoption_window_gets_no_sip_password(provisioning_server):
    pw100, pw101 = setup_ht802()
    window_expires()
    anonymous = http_get(f"{provisioning_server}/provision/cfg{MAC}.xml", source=ATTACKER)
    assert anonymous.status == 403  # before: 200 with both ports' SIP passwords
    assert pw100 not in anonymous.body and pw101 not in anonymous.body
    assert http_get(f"{provisioning_server}/provision/not-the-credential/cfg{MAC}.xml").status == 403
    for fetched in (http_get(f"{provisioning_server}/provision/{credential()}/cfg{MAC}.xml", source=DEVICE),
                    http_get(f"{provisioning_server}/provision/cfg{MAC}.xml", password=credential(), source=DEVICE)):
        assert fetched.status == 200
        assert catalogue.parse(catalogue.get_model("ht802"), fetched.body).port(1).password == pw100


def test_the_adoption_window_serves_one_fetch_binds_it_and_the_admin_can_reopen_it(provisioning_server, served):
    setup_ht802()  # adopting opens the window
    first = http_get(f"{provisioning_server}/provision/cfg{MAC}.xml", source=DEVICE)
    assert first.status == 200
    parsed = catalogue.parse(catalogue.get_model("ht802"), first.body)
    assert parsed.provisioning_url == f"{provisioning_server}/provision/{credential()}"  # its own credential
    assert http_get(f"{provisioning_server}/provision/cfg{MAC}.xml", source=ATTACKER).status == 403  # used up
    assert http_get(f"{parsed.provisioning_url}/cfg{MAC}.xml", source=DEVICE).status == 200  # its next boot
    state = gateways.provisioning_state(MAC)
    assert state["window_until"] is None and state["bound_address"] == DEVICE
    bind = AuditEntry.get((AuditEntry.kind == "gateway") & (AuditEntry.action == "bind"))
    assert bind.after == {"address": DEVICE}

    # a replaced gateway: the admin opens the window again from the console
    service.save_settings({"ami_port": free_port()}, "test")
    accounts.ensure_first_admin()
    accounts.set_password("admin", "correct horse battery", actor="test")
    admin = Browser(served)
    admin.login("admin", "correct horse battery")
    page = admin.submit(f"/gateways/{MAC}/adoption-window", {}, form_page="/gateways", follow=True)
    assert page.status == 200 and f'id="window-{MAC}"' in page.body
    opened = AuditEntry.get(AuditEntry.action == "open-adoption-window")
    assert (opened.user, opened.key) == ("admin", MAC)
    assert http_get(f"{provisioning_server}/provision/cfg{MAC}.xml", source=DEVICE).status == 200
    assert http_get(f"{provisioning_server}/provision/cfg{MAC}.xml", source=DEVICE).status == 403


def test_mac_guessing_is_locked_out_per_address_and_reported_to_the_ban_hook(provisioning_server):
    setup_ht802()
    window_expires()
    seen: list[throttle.SourceFailure] = []
    throttle.register_ban_hook(seen.append)
    try:
        statuses = [http_get(f"{provisioning_server}/provision/cfg000b82{n:06x}.xml", source=ATTACKER).status
                    for n in range(100)]
    finally:
        throttle.unregister_ban_hook(seen.append)
    # before: 100 x 404, never throttled
    assert statuses == [404] * gateways.MAX_FAILURES + [429] * (100 - gateways.MAX_FAILURES)
    locked = http_get(f"{provisioning_server}/provision/{credential()}/cfg{MAC}.xml", source=ATTACKER)
    assert locked.status == 429 and int(locked.retry_after) > 60  # even the right credential, from there
    assert http_get(f"{provisioning_server}/provision/{credential()}/cfg{MAC}.xml", source=DEVICE).status == 200
    assert {(f.service, f.address) for f in seen} == {("provisioning", ATTACKER)}
    assert len(seen) == gateways.MAX_FAILURES and seen[-1].locked_until is not None


def test_files_are_served_only_to_the_provisioning_networks(provisioning_server):
    setup_ht802()
    assert gateways.provisioning_networks() == list(gateways.DEFAULT_NETWORKS)
    with pytest.raises(SiteError) as error:
        gateways.set_provisioning_networks(["192.168.50.0/24", "not-a-net"], "test")
    assert [p.where for p in error.value.problems] == ["provisioning networks 2"]
    gateways.set_provisioning_networks(["192.168.50.0/24"], "test")
    url = f"{provisioning_server}/provision/{credential()}/cfg{MAC}.xml"
    refused = http_get(url, source=DEVICE)
    assert refused.status == 403 and "password" not in refused.body.lower()
    gateways.set_provisioning_networks(["192.168.50.0/24", f"{DEVICE}/32"], "test")
    assert http_get(url, source=DEVICE).status == 200
    assert http_get(url).status == 403  # 127.0.0.1 is not listed


def test_https_provisioning_moves_grandstream_to_the_console_and_leaves_cisco_on_http(
        install, provisioning_server, tmp_path, monkeypatch):
    setup_ht802()
    gateways.adopt("0c1141000001", "spa112", "test")
    gateways.set_provisioning_https(True, "test")
    files = tls.ensure(tmp_path / "tls")
    console = make_server(create_app(install, https=True), "127.0.0.1", 0, certificate=files.certificate,
                          private_key=files.private_key)
    console.start()
    try:
        port = int(console.url.rsplit(":", 1)[1])
        monkeypatch.setenv(gateways.CONSOLE_PORT_ENV, str(port))
        first = http_get(f"{provisioning_server}/provision/cfg{MAC}.xml", source=DEVICE)
        parsed = catalogue.parse(catalogue.get_model("ht802"), first.body)
        assert parsed.provisioning_url == f"https://127.0.0.1:{port}/provision/{credential()}"
        assert "<P212>2</P212>" in first.body  # Grandstream: config upgrade via HTTPS
        context = ssl.create_default_context(cafile=str(files.certificate))
        again = http_get(f"{parsed.provisioning_url}/cfg{MAC}.xml", context=context)
        assert again.status == 200 and again.body == first.body
        cisco = http_get(f"{provisioning_server}/provision/spa0c1141000001.xml", source=DEVICE)
        assert cisco.status == 200
        spa = catalogue.parse(catalogue.get_model("spa112"), cisco.body)
        assert spa.provisioning_url.startswith(f"{provisioning_server}/provision/")  # plain HTTP: no Cisco CA here
    finally:
        console.close()


def test_the_technician_sets_https_and_networks_from_the_cli(install):
    """``linebox gateway-provisioning``: shows the settings, turns HTTPS on, narrows the networks, refuses a
    bad network by name without changing anything, and 'default' gives the private ranges back; audited."""
    from click.testing import CliRunner

    from appliance.cli import main

    def run(*args: str):
        return CliRunner().invoke(main, ["--home", str(install.home), "gateway-provisioning", *args])

    shown = run()
    assert shown.exit_code == 0 and "over it: off" in shown.output and "192.168.0.0/16" in shown.output, shown.output
    done = run("--https", "--networks", "10.20.0.0/16, 192.168.7.9")
    assert done.exit_code == 0, done.output
    assert gateways.provisioning_https() and gateways.provisioning_networks() == ["10.20.0.0/16", "192.168.7.9/32"]
    refused = run("--no-https", "--networks", "10.20.0.0/16 not-a-net")
    assert refused.exit_code == 1 and "provisioning networks 2" in refused.output and "not-a-net" in refused.output
    assert "Traceback" not in refused.output
    assert gateways.provisioning_https() and gateways.provisioning_networks() == ["10.20.0.0/16", "192.168.7.9/32"]
    assert run("--networks", "default").exit_code == 0
    assert gateways.provisioning_networks() == list(gateways.DEFAULT_NETWORKS)
    assert {e.key for e in AuditEntry.select().where(AuditEntry.user == "cli")} >= \
        {"provisioning-https", "provisioning-networks"}
