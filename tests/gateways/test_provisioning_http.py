"""The provisioning endpoint through the real WSGI server: known MAC gets its file, unknown is logged."""

from __future__ import annotations

from appliance import gateways
from appliance.model.models import ProvisioningRequest
from appliance.site import service
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


def test_known_mac_gets_its_file_with_each_ports_credentials(served):
    pw100, pw101 = setup_ht802()
    fetched = http_get(f"{served}/provision/cfg{MAC}.xml")
    assert fetched.status == 200 and "xml" in fetched.content_type
    parsed = catalogue.parse(catalogue.get_model("ht802"), fetched.body)
    assert parsed.server == "127.0.0.1" and parsed.sip_port == service.load_settings().sip_port
    assert (parsed.port(1).user_id, parsed.port(1).password, parsed.port(1).enabled) == ("100", pw100, True)
    assert (parsed.port(2).user_id, parsed.port(2).password) == ("101", pw101)
    row = ProvisioningRequest.select().order_by(ProvisioningRequest.id.desc()).first()
    assert (row.mac, row.known, row.status, row.address) == (MAC, True, 200, "127.0.0.1")
    assert gateways.get_gateway(MAC) is not None


def test_unknown_mac_is_404_and_logged_for_adoption(served):
    setup_ht802()
    fetched = http_get(f"{served}/provision/cfg000b82999999.xml", user_agent="Grandstream Model HT818")
    assert fetched.status == 404
    assert "Desk" not in fetched.body and "password" not in fetched.body.lower()
    unknown = gateways.unknown_devices()
    assert [u["mac"] for u in unknown] == ["000b82999999"]
    assert unknown[0]["user_agent"] == "Grandstream Model HT818" and unknown[0]["address"] == "127.0.0.1"
    gw = gateways.adopt_unknown("000b82999999", "ht818", "admin")
    assert gw["address"] == "127.0.0.1" and len(gw["ports"]) == 8
    assert gateways.unknown_devices() == []
    assert http_get(f"{served}/provision/cfg000b82999999.xml").status == 200


def test_wrong_file_name_for_the_model_and_names_without_mac_are_404(served):
    setup_ht802()
    assert http_get(f"{served}/provision/spa{MAC}.xml").status == 404
    assert http_get(f"{served}/provision/cfg.xml").status == 404
    assert http_get(f"{served}/provision/..%2F..%2Fetc%2Fpasswd").status == 404


def test_provisioning_password_in_path_or_basic_auth(served):
    setup_ht802()
    gateways.set_provisioning_password("prov-secret-123456", "test")
    assert http_get(f"{served}/provision/cfg{MAC}.xml").status == 403
    assert http_get(f"{served}/provision/wrong-secret-1234/cfg{MAC}.xml").status == 403
    assert http_get(f"{served}/provision/cfg{MAC}.xml", password="wrong").status == 403
    assert http_get(f"{served}/provision/prov-secret-123456/cfg{MAC}.xml").status == 200
    assert http_get(f"{served}/provision/cfg{MAC}.xml", password="prov-secret-123456").status == 200
    statuses = [r.status for r in ProvisioningRequest.select().order_by(ProvisioningRequest.id)]
    assert statuses == [403, 403, 403, 200, 200]


def test_unbound_port_is_disabled_in_the_file(served):
    setup_ht802()
    gateways.unbind(MAC, 2, "test")
    parsed = catalogue.parse(catalogue.get_model("ht802"), http_get(f"{served}/provision/cfg{MAC}").body)
    assert parsed.port(1).enabled and not parsed.port(2).enabled and parsed.port(2).password == ""
