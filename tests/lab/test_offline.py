"""An appliance that works offline must not look broken offline: calls make Asterisk look up no name.

This box (and the lab) has no DNS.  Asterisk looks its own host name up for every call when its RTP
is bound to any address (the RTCP's local address, ``ast_find_ourip``), then A.ROOT-SERVERS.NET
when that fails: each failure is an ERROR in its log, which ``linebox diag`` reports as a warning.
No setting of Linebox's files avoids the lookup while media stays reachable on every interface (RTP
bound to 0.0.0.0, as a 0.0.0.0 SIP transport implies; RTCP has no address of its own to set), so the
box's own name must resolve without DNS: the image's /etc/hosts names it, Ansible adds it when
missing, and the lab's Asterisk runs under the image's host name with the image's /etc/hosts.
"""

from __future__ import annotations

import re

import pytest

from appliance.support import diagnostics
from tests.lab.helpers import add, live_with_carrier

pytestmark = pytest.mark.lab

LOOKUP = re.compile(r"getaddrinfo|Unable to lookup|ROOT-SERVERS", re.IGNORECASE)


def test_calls_on_an_offline_box_look_up_no_name_and_leave_diag_clean(pbx, carrier):
    add("extension", number="100", name="Alice")
    add("extension", number="101", name="Bob")
    add("inbound_route", name="main-line", did="5553000", destination="extension:101")
    phones = live_with_carrier(pbx, carrier)

    mark = phones.mark()
    phones.call("ph100", "101", tag="internal")
    phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "101", since=mark)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "internal", since=mark, timeout=30)
    mark = phones.mark()
    phones.call("telco", "5553000", tag="inbound")
    phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "101", since=mark)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "inbound", since=mark, timeout=30)

    log = (pbx.instance.log_dir / "messages.log").read_text()
    lookups = [line for line in log.splitlines() if LOOKUP.search(line)]
    assert not lookups, "\n".join(lookups)
    # the log check of `linebox diag` (the rest of its screen is tested in test_diag)
    assert diagnostics.recent_errors(pbx.install.asterisk_log) == [], log[-3000:]
