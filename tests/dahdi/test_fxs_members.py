"""Queue and ring-group members that are extensions on an FXS port ring their DAHDI channel, as the
extension's own dialplan does (render.py ``device``), not a PJSIP endpoint they do not have."""

from __future__ import annotations

from appliance.provisioning import render
from appliance.site import service

U = "test"


def test_fxs_extensions_in_queues_and_ring_groups_dial_their_dahdi_channel(install):
    for number, name in (("100", "Front desk"), ("101", "Office")):
        service.save_object("extension", {"number": number, "name": name}, U, create=True)
    service.save_object("analog_port", {"channel": 3, "kind": "fxs", "extension": "100"}, U, create=True)
    service.save_object("queue", {"number": "800", "name": "Desk", "strategy": "ringall",
                                  "members": [{"extension": "100", "penalty": 0},
                                              {"extension": "101", "penalty": 1}]}, U, create=True)
    files = render.render_all(service.snapshot(), install.facts())
    queues = files["queues.conf"]
    # rung and watched (state interface) on the port; the penalty is the skill level the console shows
    assert "member => DAHDI/3,0,100,DAHDI/3\n" in queues
    assert "member => PJSIP/101,1,101,PJSIP/101\n" in queues
    assert "PJSIP/100" not in queues
