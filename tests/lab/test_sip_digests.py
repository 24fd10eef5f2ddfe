"""Extensions' SIP credentials reach Asterisk only as digests, against the lab's real Asterisk 22.

pjsip.conf's auth sections for extensions hold ``password_digest = MD5:...`` of "number:realm:password"
with the realm pinned (``render.SIP_REALM``), never the password: a copy of the file (a rollback
generation, a debug bundle, a copy of /etc) does not let anyone register as the phone.  Phones still
register and call with their password (stored sealed in the database); a wrong password is still refused.
"""

from __future__ import annotations

import pytest

from appliance.provisioning.render import SIP_REALM
from appliance.site import service
from tests.lab.helpers import add
from tests.lab.test_sip_exposure import wait_state

pytestmark = [pytest.mark.lab, pytest.mark.timeout(120)]


def test_phones_register_and_call_with_digest_only_credentials(pbx, rootfs):
    from lab.carrier import Phone, start_carrier

    for number, name in (("100", "Alice"), ("101", "Bob"), ("102", "Mallory")):
        add("extension", number=number, name=name)
    pbx.apply()
    passwords = {e.number: e.password for e in service.list_objects("extension")}

    pjsip = (pbx.install.config_root / "live" / "pjsip.conf").read_text()
    for number, password in passwords.items():
        assert password not in pjsip, f"extension {number}'s password is in pjsip.conf"
        assert f"[{number}-auth]" in pjsip
    assert pjsip.count("password_digest = MD5:") == 3 and f"default_realm = {SIP_REALM}" in pjsip
    auth = pjsip.split("[100-auth]", 1)[1].split("\n\n", 1)[0]
    assert "\npassword =" not in auth and f"realm = {SIP_REALM}" in auth, auth
    # nor are they in clear in the database (sealed with the key file beside it: appliance.model.sealed)
    database = pbx.install.database
    raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert not [n for n, password in passwords.items() if password.encode() in raw]

    # 102's phone has a wrong password (the right one with its last character changed)
    wrong = passwords["102"][:-1] + ("a" if passwords["102"][-1] != "a" else "b")
    phones = start_carrier(pbx.instance.sip_port, [Phone("100", passwords["100"]), Phone("101", passwords["101"]),
                                                   Phone("102", wrong)], rootfs)
    try:
        phones.wait_registered(["100", "101"])
        assert wait_state(phones, "102", {"Rejected"}) == "Rejected"
        contacts = pbx.cli("pjsip show contacts")
        assert "100/" in contacts and "102/" not in contacts, contacts

        mark = phones.mark()
        phones.call("ph100", "101", tag="digest-call")
        answered = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "101", since=mark)
        assert answered["CallerID"] == "100"
    finally:
        phones.stop()
