"""Every gateway model's provisioning file: rendered, then read back to the same credentials."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from hardware import gateways as g

MAC = "000b82a1b2c3"
MODELS = sorted(g.load_catalogue().models)
PROVISIONED = [m for m in MODELS if g.get_model(m).provisioned]


def accounts(model: g.GatewayModel) -> tuple[g.PortAccount, ...]:
    out = []
    for i, kind in enumerate(model.port_kinds, start=1):
        if kind == "fxs" and i != 2:
            out.append(g.PortAccount(i, kind, True, f"{200 + i}", f"{200 + i}", f"Secret{i}xYz&<>\"'",
                                     f"Desk {i} & <co>"))
        elif kind == "fxo":
            out.append(g.PortAccount(i, kind, True, "gw-trunk", "gw-trunk", "", "Lines"))
        else:
            out.append(g.PortAccount(i, kind, False))
    return tuple(out)


def test_catalogue_covers_the_required_models():
    required = {"ht801", "ht802", "ht812", "ht814", "ht818", "gxw4104", "gxw4108", "gxw4216", "gxw4224", "gxw4232",
                "gxw4248", "spa112", "spa122", "ta100", "ta200", "ta400", "ta800", "ta410", "ta810", "ta1610",
                "ta2410", "ta3210", "generic"}
    assert required <= set(MODELS)
    assert g.get_model("ht802").port_kinds == ["fxs", "fxs"]
    assert g.get_model("gxw4108").port_kinds == ["fxo"] * 8
    assert g.get_model("ta3210").port_count == 32
    assert all(g.get_model(m).source for m in MODELS)


@pytest.mark.parametrize("model_id", PROVISIONED)
def test_render_then_parse_gives_back_the_credentials(model_id):
    model = g.get_model(model_id)
    data = g.ProvisioningData(MAC, "192.168.10.2", 5062, accounts(model))
    text = g.render(model, data)
    parsed = g.parse(model, text)
    assert (parsed.server, parsed.sip_port) == ("192.168.10.2", 5062)
    for want in data.ports:
        if want.kind == "fxs" and want.enabled:
            got = parsed.port(want.number)
            assert got.enabled
            assert (got.user_id, got.auth_id, got.password) == (want.user_id, want.auth_id, want.password)
        if want.kind == "fxo":
            assert parsed.port(want.number).enabled
    disabled = [p.number for p in data.ports if not p.enabled]
    for number in disabled:
        assert not parsed.port(number).enabled
    if model.format in ("grandstream", "cisco-spa"):
        ET.fromstring(text.split("\n", 1)[1] if text.startswith("<?xml") else text)  # well-formed


def test_grandstream_ht802_p_values():
    model = g.get_model("ht802")
    text = g.render(model, g.ProvisioningData(MAC, "10.0.0.1", 5060, (
        g.PortAccount(1, "fxs", True, "100", "100", "pw1abcdefghijk"),
        g.PortAccount(2, "fxs", True, "101", "101", "pw2abcdefghijk"))))
    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.tag == "gs_provision" and root.findtext("mac") == MAC
    config = root.find("config")
    assert config.get("version") == "1"
    values = {el.tag: el.text for el in config}
    assert values["P271"] == "1" and values["P47"] == "10.0.0.1:5060"
    assert (values["P35"], values["P36"], values["P34"]) == ("100", "100", "pw1abcdefghijk")
    assert values["P401"] == "1" and values["P747"] == "10.0.0.1:5060"
    assert (values["P735"], values["P736"], values["P734"]) == ("101", "101", "pw2abcdefghijk")


@pytest.mark.parametrize("model_id", PROVISIONED)
def test_every_file_points_the_device_at_the_provisioning_server(model_id):
    model = g.get_model(model_id)
    url = "http://192.168.10.2:8080/provision/a-long-secret-123"
    text = g.render(model, g.ProvisioningData(MAC, "192.168.10.2", 5060, accounts(model), provisioning_url=url))
    assert g.parse(model, text).provisioning_url == url
    without = g.render(model, g.ProvisioningData(MAC, "192.168.10.2", 5060, accounts(model)))
    assert g.parse(model, without).provisioning_url == "" and "8080" not in without


def test_provisioning_server_keys_per_format():
    url = "http://pbx.lan:8080/provision"
    gs = g.render(g.get_model("ht814"), g.ProvisioningData(MAC, "pbx.lan", 5060, accounts(g.get_model("ht814")),
                                                           provisioning_url=url))
    values = {el.tag: el.text for el in ET.fromstring(gs.split("\n", 1)[1]).find("config")}
    assert (values["P212"], values["P237"]) == ("1", "pbx.lan:8080/provision")  # HTTP, path without the scheme
    spa = g.render(g.get_model("spa112"), g.ProvisioningData(MAC, "pbx.lan", 5060, accounts(g.get_model("spa112")),
                                                             provisioning_url=url))
    assert ET.fromstring(spa.split("\n", 1)[1]).findtext("Profile_Rule") == "http://pbx.lan:8080/provision/spa$MA.xml"
    kv = g.render(g.get_model("generic"), g.ProvisioningData(MAC, "pbx.lan", 5060, accounts(g.get_model("generic")),
                                                             provisioning_url=url))
    assert "\nprovisioning.url = http://pbx.lan:8080/provision\n" in kv


@pytest.mark.parametrize("url", ["ftp://pbx.lan/provision", "http://pbx.lan/x\nsip.server = evil",
                                 "http://pbx lan/provision", "pbx.lan:8080/provision"])
def test_odd_provisioning_urls_are_refused(url):
    for model_id in ("ht802", "spa112", "generic"):
        model = g.get_model(model_id)
        with pytest.raises(ValueError):
            g.render(model, g.ProvisioningData(MAC, "10.0.0.1", 5060, accounts(model), provisioning_url=url))


def test_grandstream_plain_p_value_text_is_read_too():
    model = g.get_model("ht801")
    parsed = g.parse(model, "P271 = 1\nP47 = pbx.lan:5060\nP35 = 300\nP36 = 300\nP34 = abc\n")
    assert parsed.server == "pbx.lan" and parsed.port(1).password == "abc" and parsed.port(1).enabled


def test_cisco_flat_profile_elements():
    model = g.get_model("spa122")
    text = g.render(model, g.ProvisioningData(MAC, "10.0.0.1", 5060, (
        g.PortAccount(1, "fxs", True, "100", "100", "pw1"), g.PortAccount(2, "fxs", False))))
    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.tag == "flat-profile"
    assert root.findtext("Proxy_1_") == "10.0.0.1:5060" and root.findtext("User_ID_1_") == "100"
    assert root.findtext("Password_1_") == "pw1" and root.findtext("Line_Enable_1_") == "Yes"
    assert root.findtext("Line_Enable_2_") == "No"


def test_xml_special_characters_are_escaped_not_injected():
    model = g.get_model("ht801")
    evil = "</P34><P2>owned</P2><P34>"
    text = g.render(model, g.ProvisioningData(MAC, "10.0.0.1", 5060, (g.PortAccount(1, "fxs", True, "1", "1", evil),)))
    assert "<P2>" not in text
    assert g.parse(model, text).port(1).password == evil


def test_line_breaks_are_refused_in_key_value_files():
    model = g.get_model("generic")
    ports = tuple(g.PortAccount(i, k, True, "1", "1", "pw\nsip.server = evil") for i, k in
                  enumerate(model.port_kinds, start=1))
    with pytest.raises(ValueError, match="line break"):
        g.render(model, g.ProvisioningData(MAC, "10.0.0.1", 5060, ports))


def test_manual_models_get_no_file():
    model = g.get_model("gxw4248")
    assert not model.provisioned and model.file_names(MAC) == []
    with pytest.raises(ValueError, match="by hand"):
        g.render(model, g.ProvisioningData(MAC, "10.0.0.1", 5060, ()))


@pytest.mark.parametrize("text", ["00:0B:82:A1:B2:C3", "00-0b-82-a1-b2-c3", "000B82A1B2C3", "000b.82a1.b2c3"])
def test_mac_spellings(text):
    assert g.normalize_mac(text) == MAC


def test_mac_in_file_names():
    assert g.mac_in_file_name("cfg000b82a1b2c3.xml") == MAC
    assert g.mac_in_file_name("spa000B82A1B2C3.xml") == MAC
    assert g.mac_in_file_name("cfg.xml") is None
    assert g.mac_in_file_name("cfg000b82a1b2c3000b82a1b2c4.xml") is None
