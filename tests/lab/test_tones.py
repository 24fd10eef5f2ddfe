"""Tones Asterisk plays itself, from the site's tone zone (indications.conf)."""

from __future__ import annotations

import pytest

from appliance.site import service
from tests.lab.helpers import add, live_with_carrier, loud_seconds

pytestmark = pytest.mark.lab


def test_caller_sent_on_from_an_ivr_hears_ringback_not_silence(pbx, carrier):
    add("extension", number="201", name="Front desk")
    add("ivr", name="front", greeting="beep", timeout_seconds=5,
        options=[{"digit": "1", "destination": "extension:201"}])
    add("inbound_route", name="main-line", did="5553000", destination="ivr:front")
    phones = live_with_carrier(pbx, carrier)
    phones.set_behaviour("201", "noanswer")

    # The IVR has answered the call, so the ringing of 201 cannot be signalled: Asterisk plays it.
    mark = phones.mark()
    phones.call("telco", "5553000", tag="ringback", dtmf="ww1", hold=10, record=True)
    phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=20)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "ringback", since=mark, timeout=30)
    heard = loud_seconds(phones.heard("ringback"), after=2.5)
    assert heard >= 1.5, f"the caller heard {heard:.1f} s of ringback while 201 rang (US: 2 s on, 4 s off)"

    # The zone follows the site's setting (DAHDI's analog ports use the same one), at the next apply.
    service.save_settings({"tone_zone": "de"}, "test")
    result = pbx.apply()
    assert "indications.conf" in result.changed
    log = (pbx.instance.log_dir / "messages.log").read_text()
    assert log.rstrip().rsplit("default indication country to", 1)[-1].startswith(" 'de'"), log[-2000:]
