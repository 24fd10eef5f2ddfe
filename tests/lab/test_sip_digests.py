"""Extensions' SIP credentials reach Asterisk only as digests, against the lab's real Asterisk 22.

Extensions' auth rows (the projection Asterisk reads, ``appliance.provisioning.projection``) hold
``password_digest = MD5:...`` of "number:realm:password" with the realm pinned (``render.SIP_REALM``),
never the password: a copy of the file (a backup, a debug bundle) does not let anyone register as the
phone.  Phones still register and call with their password (stored sealed in the database); a wrong
password is still refused.
"""

from __future__ import annotations

import stat

import pytest

from appliance.provisioning import projection
from appliance.provisioning.render import SIP_REALM, sip_digest
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

    # extensions' auths are rows of the projection Asterisk reads (appliance.provisioning.projection):
    # digests there, and neither passwords nor extensions in pjsip.conf
    pjsip = (pbx.install.config_root / "live" / "pjsip.conf").read_text()
    projection_file = pbx.install.target().projection_file
    stored = projection_file.read_bytes()
    for number, password in passwords.items():
        assert password not in pjsip and password.encode() not in stored, f"extension {number}'s password is stored"
        assert f"[{number}-auth]" not in pjsip
    with projection.connect(projection_file) as db:
        auths = projection.read_rows(db)["ps_auths"]
    assert {row[2] for row in auths.values()} == {SIP_REALM} and f"default_realm = {SIP_REALM}" in pjsip
    assert all(row[4] == sip_digest(passwords[row[3]], row[3]) for row in auths.values())
    assert stat.S_IMODE(projection_file.stat().st_mode) == 0o640  # never world-readable
    assert "100-auth" in pbx.cli("pjsip show auth 100-auth")
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
