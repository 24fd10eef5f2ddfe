"""Who may use an extension, against the lab's real Asterisk 22: its permitted networks, or the site's local ones.

The carrier plays the phones from 127.0.0.1. An extension whose permitted networks leave 127.0.0.1 out is
refused (its phone's REGISTER gets no contact on the pbx, its calls are not let in); one using the site's
local networks (the default, which holds 127.0.0.0/8) registers; widening the first extension's networks
to take 127.0.0.1 in lets its phone register.
"""

from __future__ import annotations

import time

import pytest

from appliance.site import service
from tests.lab.helpers import add, update

pytestmark = [pytest.mark.lab, pytest.mark.timeout(120)]
STATES = ("Registered", "Unregistered", "Rejected", "Stopped", "Stopping")


def registration_state(phones, number: str) -> str:
    """The carrier's view of its phone's registration to the pbx: Registered, Rejected, Unregistered..."""
    out = phones.instance.cli("pjsip show registrations")
    line = next((ln for ln in out.splitlines() if f"ph{number}-reg" in ln), "")
    return next((word for word in line.split() if word in STATES), line)


def wait_state(phones, number: str, wanted: set[str], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while (state := registration_state(phones, number)) not in wanted:
        assert time.monotonic() < deadline, f"phone {number}: registration {state!r}, never one of {wanted}"
        time.sleep(0.3)
    return state


def test_an_extension_is_refused_from_networks_it_is_not_permitted(pbx, rootfs):
    from lab.carrier import Phone, start_carrier

    add("extension", number="100", name="Remote", permitted_networks=["192.0.2.0/24"])
    add("extension", number="101", name="Local")  # the site's local networks, 127.0.0.0/8 among them
    pbx.apply()
    phones = start_carrier(pbx.instance.sip_port,
                           [Phone(e.number, e.password) for e in service.list_objects("extension")], rootfs)
    try:
        phones.wait_registered(["101"])
        # 100's REGISTER comes from 127.0.0.1, outside 192.0.2.0/24: Asterisk answers 403, never 200
        assert wait_state(phones, "100", {"Rejected"}) == "Rejected"
        contacts = pbx.cli("pjsip show contacts")
        assert "101/" in contacts and "100/" not in contacts, contacts

        # a call from the refused phone does not get in either (the pbx's dialplan never sees it)
        mark = phones.mark()
        phones.call("ph100", "101", tag="refused")
        hangup = phones.wait_for("Hangup", lambda e: e.get("Channel", "").startswith("PJSIP/ph100"), since=mark)
        assert hangup.get("Cause") != "16", hangup  # not a normal clearing: the pbx refused it
        assert "ph100" not in pbx.cli("core show channels concise")

        # the admin takes 127.0.0.1 in: the phone's next REGISTER is accepted
        update("extension", "100", permitted_networks=["192.0.2.0/24", "127.0.0.1"])
        pbx.apply()
        phones.instance.cli("pjsip send register ph100-reg")
        wait_state(phones, "100", {"Registered"})
        assert "100/" in pbx.cli("pjsip show contacts")
    finally:
        phones.stop()
