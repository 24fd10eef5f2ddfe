"""The provisioning server over real plain HTTP: known MAC gets its file, unknown is logged; and the console's
HTTPS path, which devices pointed at the console before still use."""

from __future__ import annotations

import ssl

from appliance.gateways import service as gateways
from appliance.model.models import Gateway, ProvisioningRequest
from appliance.services import tls
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app
from hardware import gateways as catalogue
from tests.gateways.conftest import http_get

MAC = "000b82112233"


def setup_ht802() -> tuple[str, str]:
    for number in ("100", "101"):
        service.save_object("extension", {"number": number, "name": f"Desk {number}"}, "test", create=True)
    gateways.adopt(MAC, "ht802", "test")
    gateways.bind_fxs(MAC, 1, "100", "test")
    gateways.bind_fxs(MAC, 2, "101", "test")
    return service.get_object("extension", "100").password, service.get_object("extension", "101").password


def credential(mac: str = MAC) -> str:
    return Gateway.get(Gateway.mac == mac).credential


def test_known_mac_gets_its_file_with_each_ports_credentials(provisioning_server):
    pw100, pw101 = setup_ht802()
    fetched = http_get(f"{provisioning_server}/provision/cfg{MAC}.xml")
    assert fetched.status == 200 and "xml" in fetched.content_type and fetched.cache_control == "no-store"
    assert provisioning_server.startswith("http://127.0.0.1:")
    parsed = catalogue.parse(catalogue.get_model("ht802"), fetched.body)
    assert parsed.server == "127.0.0.1" and parsed.sip_port == service.load_settings().sip_port
    # the file keeps the device on this server, with its own credential:
    # P212 = 1 (HTTP), P237 = <host:port>/provision/<credential>
    assert parsed.provisioning_url == f"{provisioning_server}/provision/{credential()}"
    assert f"<P237>{provisioning_server.removeprefix('http://')}/provision/{credential()}</P237>" in fetched.body
    assert (parsed.port(1).user_id, parsed.port(1).password, parsed.port(1).enabled) == ("100", pw100, True)
    assert (parsed.port(2).user_id, parsed.port(2).password) == ("101", pw101)
    row = ProvisioningRequest.select().order_by(ProvisioningRequest.id.desc()).first()
    assert (row.mac, row.known, row.status, row.address) == (MAC, True, 200, "127.0.0.1")
    assert gateways.get_gateway(MAC) is not None


def test_unknown_mac_is_404_and_logged_for_adoption(provisioning_server):
    setup_ht802()
    fetched = http_get(f"{provisioning_server}/provision/cfg000b82999999.xml", user_agent="Grandstream Model HT818")
    assert fetched.status == 404 and fetched.cache_control == "no-store"
    assert "Desk" not in fetched.body and "password" not in fetched.body.lower()
    unknown = gateways.unknown_devices()
    assert [u["mac"] for u in unknown] == ["000b82999999"]
    assert unknown[0]["user_agent"] == "Grandstream Model HT818" and unknown[0]["address"] == "127.0.0.1"
    gw = gateways.adopt_unknown("000b82999999", "ht818", "admin")
    assert gw["address"] == "127.0.0.1" and len(gw["ports"]) == 8
    assert gateways.unknown_devices() == []
    assert http_get(f"{provisioning_server}/provision/cfg000b82999999.xml").status == 200


def test_wrong_file_name_for_the_model_and_names_without_mac_are_404(provisioning_server):
    setup_ht802()
    assert http_get(f"{provisioning_server}/provision/spa{MAC}.xml").status == 404
    assert http_get(f"{provisioning_server}/provision/cfg.xml").status == 404
    assert http_get(f"{provisioning_server}/provision/..%2F..%2Fetc%2Fpasswd").status == 404


def test_provisioning_password_in_path_or_basic_auth(provisioning_server):
    setup_ht802()
    gateways.close_adoption_window(MAC, "test")
    gateways.set_provisioning_password("prov-secret-123456", "test")
    assert http_get(f"{provisioning_server}/provision/cfg{MAC}.xml").status == 403
    assert http_get(f"{provisioning_server}/provision/wrong-secret-1234/cfg{MAC}.xml").status == 403
    assert http_get(f"{provisioning_server}/provision/cfg{MAC}.xml", password="wrong").status == 403
    fetched = http_get(f"{provisioning_server}/provision/prov-secret-123456/cfg{MAC}.xml")
    assert fetched.status == 200
    # told to come back with its own credential in the path
    parsed = catalogue.parse(catalogue.get_model("ht802"), fetched.body)
    assert parsed.provisioning_url == f"{provisioning_server}/provision/{credential()}"
    assert http_get(f"{provisioning_server}/provision/cfg{MAC}.xml", password="prov-secret-123456").status == 200
    statuses = [r.status for r in ProvisioningRequest.select().order_by(ProvisioningRequest.id)]
    assert statuses == [403, 403, 403, 200, 200]


def test_unbound_port_is_disabled_in_the_file(provisioning_server):
    setup_ht802()
    gateways.unbind(MAC, 2, "test")
    parsed = catalogue.parse(catalogue.get_model("ht802"), http_get(f"{provisioning_server}/provision/cfg{MAC}").body)
    assert parsed.port(1).enabled and not parsed.port(2).enabled and parsed.port(2).password == ""


def test_only_the_provisioning_routes_are_served(provisioning_server):
    setup_ht802()
    assert http_get(f"{provisioning_server}/login").status == 404
    assert http_get(f"{provisioning_server}/gateways").status == 404
    assert http_get(f"{provisioning_server}/api/v1/extensions").status == 404
    alive = http_get(f"{provisioning_server}/-/alive")
    assert (alive.status, alive.body) == (200, "alive\n")


def test_the_console_still_serves_files_over_https_and_points_devices_at_the_provisioning_server(
        install, tmp_path, monkeypatch):
    """Devices pointed at the console before keep working; their file moves them to plain HTTP on 8080."""
    monkeypatch.delenv(gateways.PROVISION_PORT_ENV, raising=False)
    pw100, _ = setup_ht802()
    files = tls.ensure(tmp_path / "tls")
    server = make_server(create_app(install, https=True), "127.0.0.1", 0, certificate=files.certificate,
                         private_key=files.private_key)
    server.start()
    try:
        context = ssl.create_default_context(cafile=str(files.certificate))
        fetched = http_get(f"{server.url}/provision/cfg{MAC}.xml", context=context)
        assert server.url.startswith("https://") and fetched.status == 200 and fetched.cache_control == "no-store"
        parsed = catalogue.parse(catalogue.get_model("ht802"), fetched.body)
        assert parsed.port(1).password == pw100
        assert parsed.provisioning_url == f"http://127.0.0.1:8080/provision/{credential()}"
        monkeypatch.setenv(gateways.PROVISION_PORT_ENV, "8099")  # provision.env, read by the console's unit too
        fetched = http_get(f"{server.url}/provision/{credential()}/cfg{MAC}.xml", context=context)
        assert catalogue.parse(catalogue.get_model("ht802"), fetched.body).provisioning_url == \
            f"http://127.0.0.1:8099/provision/{credential()}"
        assert http_get(f"{server.url}/provision/cfg000b82444444.xml", context=context).status == 404
    finally:
        server.close()
    assert [u["mac"] for u in gateways.unknown_devices()] == ["000b82444444"]
