"""Adopting gateways and binding their ports: validation names the field, every change is audited."""

from __future__ import annotations

import pytest

from appliance.errors import SiteError
from appliance.gateways import port_state
from appliance.gateways import service as gateways
from appliance.model import audit
from appliance.model.models import GatewayPort
from appliance.site import service
from hardware import gateways as catalogue


def ext(number: str) -> None:
    service.save_object("extension", {"number": number, "name": f"Desk {number}"}, "test", create=True)


def problems(error: pytest.ExceptionInfo) -> dict[str, str]:
    return {p.where: p.message for p in error.value.problems}


def test_adopt_creates_the_model_ports_and_an_audit_row(install):
    gw = gateways.adopt("00:0B:82:11:22:33", "ht814", "alice", name="Lobby ATA", address="192.168.1.40")
    assert gw["mac"] == "000b82112233"
    assert [(p["number"], p["kind"]) for p in gw["ports"]] == [(1, "fxs"), (2, "fxs"), (3, "fxs"), (4, "fxs")]
    entry = audit.entries(kind="gateway")[0]
    assert (entry.user, entry.action, entry.key) == ("alice", "create", "000b82112233")
    assert gateways.list_gateways()[0]["name"] == "Lobby ATA"


def test_adopt_refuses_bad_input_naming_each_field(install):
    with pytest.raises(SiteError) as error:
        gateways.adopt("not-a-mac", "ht999", "alice", address="bad host;")
    found = problems(error)
    assert set(found) == {"gateway mac", "gateway model", "gateway address"}
    assert gateways.list_gateways() == []


def test_adopt_twice_is_refused(install):
    gateways.adopt("000b82112233", "ht802", "alice")
    with pytest.raises(SiteError, match="already exists"):
        gateways.adopt("00:0b:82:11:22:33", "ht802", "alice")


def test_generic_gateway_takes_port_counts_others_do_not(install):
    gw = gateways.adopt("020000000001", "generic", "alice", ports={"fxs": 3, "fxo": 1})
    assert [p["kind"] for p in gw["ports"]] == ["fxs", "fxs", "fxs", "fxo"]
    with pytest.raises(SiteError) as error:
        gateways.adopt("020000000002", "ht802", "alice", ports={"fxs": 3})
    assert "gateway ports" in problems(error)


def test_bind_fxs_port_to_an_extension(install):
    ext("100")
    ext("101")
    gateways.adopt("000b82112233", "ht802", "alice")
    gw = gateways.bind_fxs("000b82112233", 1, "100", "alice")
    assert gw["ports"][0]["extension"] == "100"
    with pytest.raises(SiteError) as error:
        gateways.bind_fxs("000b82112233", 2, "999", "alice")
    assert "does not exist" in problems(error)["gateway port extension"]
    with pytest.raises(SiteError) as error:
        gateways.bind_fxs("000b82112233", 2, "100", "alice")
    assert "already bound" in problems(error)["gateway port extension"]
    with pytest.raises(SiteError) as error:
        gateways.bind_fxs("000b82112233", 3, "101", "alice")
    assert "no port 3" in problems(error)["gateway port"]
    assert audit.entries(kind="gateway")[0].after["ports"][0]["extension"] == "100"


def test_bind_fxo_port_creates_an_ip_authenticated_trunk(install):
    gateways.adopt("000b82445566", "gxw4104", "alice", address="192.168.1.50")
    gw = gateways.bind_fxo("000b82445566", 1, "alice")
    gateways.bind_fxo("000b82445566", 2, "alice")
    trunk = service.get_object("trunk", "gw-000b82445566")
    assert trunk is not None and trunk.host == "192.168.1.50" and trunk.match == ["192.168.1.50"]
    assert not trunk.registration and not trunk.username
    assert gw["ports"][0]["trunk"] == "gw-000b82445566"
    with pytest.raises(SiteError) as error:
        gateways.bind_fxs("000b82445566", 3, "100", "alice")
    assert "not FXS" in problems(error)["gateway port"]


def test_fxo_needs_the_gateway_address_and_follows_it(install):
    gateways.adopt("000b82445566", "ta400", "alice")
    with pytest.raises(SiteError) as error:
        gateways.bind_fxo("000b82445566", 1, "alice")
    assert "gateway address" in problems(error)
    gateways.update_gateway("000b82445566", "alice", address="192.168.1.51")
    gateways.bind_fxo("000b82445566", 1, "alice")
    gateways.update_gateway("000b82445566", "alice", address="192.168.1.52")
    assert service.get_object("trunk", "gw-000b82445566").host == "192.168.1.52"


def test_unbind_and_delete(install):
    ext("100")
    gateways.adopt("000b82112233", "ht801", "alice")
    gateways.bind_fxs("000b82112233", 1, "100", "alice")
    assert gateways.unbind("000b82112233", 1, "alice")["ports"][0]["extension"] == ""
    gateways.delete_gateway("000b82112233", "alice")
    assert gateways.list_gateways() == [] and GatewayPort.select().count() == 0
    assert service.get_object("extension", "100") is not None


def test_provisioning_password_is_validated_and_masked_in_the_audit(install):
    with pytest.raises(SiteError) as error:
        gateways.set_provisioning_password("short", "alice")
    assert "provisioning password" in problems(error)
    gateways.set_provisioning_password("a-long-enough-secret", "alice")
    assert "a-long-enough-secret" not in str(audit.entries(kind="settings")[0].after)


CONTACTS = """
  Contact:  <Aor/ContactUri..............................> <Hash....> <Status> <RTT(ms)..>
==========================================================================================

  Contact:  100/sip:100@127.0.0.1:5071                   1d3e0fb8a1 Avail         1.203
  Contact:  gw-000b82445566/sip:192.168.1.50:5060        5a1d0e0c7f Unavail         nan

Objects found: 2
"""


class FakeAmi:
    def command(self, text: str) -> str:
        return CONTACTS if text == "pjsip show contacts" else ""


def test_port_states_from_pjsip_contacts(install):
    ext("100")
    ext("101")
    gateways.adopt("000b82112233", "ht802", "alice")
    gateways.bind_fxs("000b82112233", 1, "100", "alice")
    gateways.bind_fxs("000b82112233", 2, "101", "alice")
    gateways.adopt("000b82445566", "gxw4104", "alice", address="192.168.1.50")
    gateways.bind_fxo("000b82445566", 1, "alice")
    states = {(s.gateway, s.number): s for s in port_state.port_states(FakeAmi())}
    assert states[("000b82112233", 1)].state == "registered"
    assert states[("000b82112233", 1)].contacts == ["sip:100@127.0.0.1:5071 Avail"]
    assert states[("000b82112233", 2)].state == "not registered"
    assert states[("000b82445566", 1)].state == "trunk unreachable"
    assert states[("000b82445566", 2)].state == "unbound"


def test_mixed_gateway_fxo_trunk_matches_address_and_its_own_sip_port(install):
    ext("100")
    gateways.adopt("020000000009", "generic", "alice", address="192.168.1.60")
    gateways.bind_fxs("020000000009", 1, "100", "alice")
    gateways.bind_fxo("020000000009", 3, "alice")
    trunk = service.get_object("trunk", "gw-020000000009")
    assert (trunk.host, trunk.port, trunk.match) == ("192.168.1.60", 5062, ["192.168.1.60:5062"])
    text, _ = gateways.render_for("020000000009", "192.168.1.2")
    parsed = catalogue.parse(catalogue.get_model("generic"), text)
    assert parsed.fxo_sip_port == 5062 and parsed.port(3).enabled and parsed.port(1).user_id == "100"
    gateways.update_gateway("020000000009", "alice", address="192.168.1.61")
    assert service.get_object("trunk", "gw-020000000009").match == ["192.168.1.61:5062"]
