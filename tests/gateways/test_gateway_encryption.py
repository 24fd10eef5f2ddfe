"""Gateways on an encrypted site: their files carry SIP over TLS and SRTP where the model has the keys.

The site's sip_encryption decides (not plain: TLS to the TLS port, the SRTP mode); the files are read back
with the same parsers the lab's gateway simulator uses.  The keys are UNVERIFIED on real firmware
(hardware/data/gateways.yaml, [gs-tls]).
"""

from __future__ import annotations

from appliance.gateways import service as gateways
from appliance.site import service, stored
from hardware import gateways as catalogue


def _site(encryption: str) -> None:
    service.save_settings({**stored.load_settings().model_dump(), "sip_encryption": encryption,
                           "sip_tls_port": 5071}, user="test")


def _file(mac: str, model: str) -> catalogue.ProvisioningData:
    text, _ = gateways.render_for(mac, "192.168.1.2")
    return catalogue.parse(catalogue.get_model(model), text)


def test_a_plain_site_gives_gateways_udp_and_no_security_keys(install):
    for number in ("100", "101"):
        service.save_object("extension", {"number": number, "name": f"Desk {number}"}, "test", create=True)
    gateways.adopt("000b82112233", "ht802", "alice")
    gateways.bind_fxs("000b82112233", 1, "100", "alice")
    text, _ = gateways.render_for("000b82112233", "192.168.1.2")
    assert "<P130>" not in text and "<P183>" not in text
    data = _file("000b82112233", "ht802")
    assert (data.transport, data.srtp, data.sip_port) == ("udp", "plain", 5060)


def test_an_encrypted_site_gives_tls_and_srtp_where_the_model_knows_how(install):
    for number in ("100", "101", "102"):
        service.save_object("extension", {"number": number, "name": f"Desk {number}"}, "test", create=True)
    _site("required")
    gateways.adopt("000b82112233", "ht802", "alice")
    gateways.bind_fxs("000b82112233", 1, "100", "alice")
    gateways.bind_fxs("000b82112233", 2, "101", "alice")
    text, _ = gateways.render_for("000b82112233", "192.168.1.2")
    assert "<P130>2</P130>" in text and "<P183>2</P183>" in text  # profile 1: TLS, SRTP forced
    assert "<P47>192.168.1.2:5071</P47>" in text  # to the TLS port
    assert "<P747>192.168.1.2:5060</P747>" in text  # profile 2's keys are unknown: it stays on UDP
    data = _file("000b82112233", "ht802")
    assert (data.transport, data.srtp, data.tls_port) == ("tls", "required", 5071)

    gateways.adopt("00259c112233", "spa112", "alice")
    gateways.bind_fxs("00259c112233", 1, "102", "alice")
    text, _ = gateways.render_for("00259c112233", "192.168.1.2")
    assert '<SIP_Transport_1_ ua="na">TLS</SIP_Transport_1_>' in text
    assert '<Secure_Call_Setting_1_ ua="na">Yes</Secure_Call_Setting_1_>' in text
    assert '<Proxy_1_ ua="na">192.168.1.2:5071</Proxy_1_>' in text
    data = _file("00259c112233", "spa112")
    assert (data.transport, data.srtp, data.tls_port) == ("tls", "required", 5071)


def test_the_generic_file_names_transport_port_and_srtp(install):
    _site("preferred")
    gateways.adopt("020000000001", "generic", "alice", ports={"fxs": 1, "fxo": 0})
    values = catalogue.parse_keyvalue(gateways.render_for("020000000001", "192.168.1.2")[0])
    assert (values["sip.transport"], values["sip.tls_port"], values["sip.srtp"]) == ("tls", "5071", "preferred")
