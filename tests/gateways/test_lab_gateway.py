"""A simulated HT802 fetches its file from the provisioning server over plain HTTP, registers both ports, and calls.

The first fetch is the one the adoption window (opened by adopting) allows; the file gives the gateway its own
credential, which its next fetch uses, while an anonymous fetch is refused from then on."""

from __future__ import annotations

import time

import pytest

from appliance.gateways import port_state
from appliance.gateways import service as gateways
from appliance.model.models import Gateway
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web import provisioning as provision
from lab.gateway_sim import GatewaySimulator, ProvisioningFailed
from tests.lab.helpers import add

pytestmark = pytest.mark.lab

MAC = "00:0B:82:5A:11:02"


def test_ht802_simulator_registers_both_ports_and_calls_port_to_port(pbx, rootfs):
    add("extension", number="100", name="Lobby phone")
    add("extension", number="101", name="Fax corner")
    pbx.apply()
    gateways.adopt(MAC, "ht802", "test", name="Lobby ATA", address="127.0.0.1")
    gateways.bind_fxs(MAC, 1, "100", "test")
    gateways.bind_fxs(MAC, 2, "101", "test")

    server = make_server(provision.create_app(pbx.install), "127.0.0.1", 0)  # as linebox provision-serve
    server.start()
    simulator = None
    try:
        simulator = GatewaySimulator.provision("ht802", MAC, server.url)  # in the adoption window
        assert simulator.file_name == "cfg000b825a1102.xml"
        assert simulator.config.sip_port == pbx.instance.sip_port
        credential = Gateway.get(Gateway.mac == "000b825a1102").credential
        assert simulator.config.provisioning_url == f"{server.url}/provision/{credential}"
        with pytest.raises(ProvisioningFailed):  # the window is used: nobody else gets the file anonymously
            GatewaySimulator.provision("ht802", MAC, server.url)
        simulator.refetch()  # its next boot: with its own credential
        assert simulator.config.port(1).password == service.get_object("extension", "100").password
        simulator.start(rootfs)
        simulator.wait_registered()

        with pbx.install.connect_ami() as ami:
            deadline = time.monotonic() + 10
            while True:
                states = {s.number: s for s in port_state.port_states(ami) if s.gateway == "000b825a1102"}
                if all(s.state == "registered" for s in states.values()) or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
        assert [states[n].state for n in (1, 2)] == ["registered", "registered"], states
        assert f":{simulator.instance.sip_port}" in states[2].contacts[0]

        simulator.call(1, "101")
        answered = simulator.wait_for("GatewayAnswered", lambda e: e.get("Exten") == "101", timeout=30)
        assert answered["CallerID"] == "100"
        simulator.wait_for("GatewayConnected", lambda e: e.get("Port") == "1")
    finally:
        if simulator is not None:
            simulator.stop()
        server.close()
