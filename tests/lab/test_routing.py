"""Inbound and outbound routing through real Asterisk: ring groups, time conditions, trunk failover."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from appliance.site.schemas import DAYS
from tests.lab.helpers import add, live_with_carrier, update

pytestmark = pytest.mark.lab


def test_inbound_did_rings_group_then_falls_back(pbx, carrier):
    for number, name in (("100", "Alice"), ("101", "Bob"), ("102", "Reception")):
        add("extension", number=number, name=name)
    add("ring_group", number="600", name="Sales", strategy="ringall", members=["100", "101"], ring_seconds=5,
        fallback="extension:102")
    add("inbound_route", name="sales-line", did="5551000", destination="ringgroup:600")
    phones = live_with_carrier(pbx, carrier)
    phones.set_behaviour("100", "noanswer")
    phones.set_behaviour("101", "noanswer")

    mark = phones.mark()
    started = time.monotonic()
    phones.call("telco", "5551000", tag="inbound")
    phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "100", since=mark)
    phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "101", since=mark)
    answered = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "102", since=mark, timeout=20)
    waited = answered["_time"] - started
    assert 4.5 <= waited <= 12, f"fallback after {waited:.1f}s, ring group rings 5s"
    assert answered["CallerID"] == "+15550001111"


def test_out_of_hours_call_goes_to_voicemail(pbx, carrier):
    add("extension", number="100", name="Alice", voicemail=True, voicemail_pin="4711")
    add("extension", number="101", name="Bob")
    today = DAYS[datetime.now(UTC).weekday()]
    other_day = DAYS[(datetime.now(UTC).weekday() + 3) % 7]
    add("time_condition", name="office-hours", timezone="UTC",
        ranges=[{"days": other_day, "start": "00:00", "end": "23:59"}],
        open_destination="extension:101", closed_destination="voicemail:100")
    add("inbound_route", name="main", did="5552000", destination="timecondition:office-hours")
    phones = live_with_carrier(pbx, carrier)

    mark = phones.mark()
    phones.call("telco", "5552000", tag="after-hours", hold=14)
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "after-hours", since=mark, timeout=40)
    inbox = pbx.instance.host_dir / "spool" / "voicemail" / "default" / "100" / "INBOX"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not list(inbox.glob("msg*.txt")):
        time.sleep(0.3)
    messages = list(inbox.glob("msg*.txt"))
    assert messages, f"no voicemail left in {inbox} (closed on {today}, open only on {other_day})"
    assert "callerid=" in messages[0].read_text() and "+15550001111" in messages[0].read_text()
    assert not any(e.get("Exten") == "101" for e in phones.events[mark:] if e.get("UserEvent") == "CarrierIncoming")


def _zone_now_in_hour(hour: int) -> tuple[str, datetime]:
    """A fixed-offset zone (``Etc/GMT-8`` is UTC+8: no daylight saving) whose local time is now in ``hour``,
    and that time: the offsets -12 to +14 give every hour of the day somewhere."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        if (now + timedelta(hours=offset)).hour == hour:
            name = f"Etc/GMT{-offset:+d}"
            return name, now.astimezone(ZoneInfo(name))
    raise AssertionError("no zone has that hour")  # pragma: no cover: 27 offsets cover 24 hours


def test_open_until_midnight_and_closed_from_the_closing_minute(pbx, carrier):
    """A range may end at 24:00 (open until midnight, the last minute included), and a range's end is its
    closing time: a call in the minute a range ends finds it closed.  In a zone where it is now 22:xx."""
    for number, name in (("101", "Open"), ("102", "Closed")):
        add("extension", number=number, name=name)
    zone, local = _zone_now_in_hour(22)
    today = DAYS[local.weekday()]
    add("time_condition", name="late", timezone=zone, ranges=[{"days": today, "start": "22:00", "end": "24:00"}],
        open_destination="extension:101", closed_destination="extension:102")
    add("time_condition", name="closing", timezone=zone, ranges=[{"days": today, "start": "00:00", "end": "23:00"}],
        open_destination="extension:101", closed_destination="extension:102")
    add("inbound_route", name="late-line", did="5552400", destination="timecondition:late")
    add("inbound_route", name="closing-line", did="5552401", destination="timecondition:closing")
    phones = live_with_carrier(pbx, carrier)

    def rings(did: str, tag: str) -> str:
        mark = phones.mark()
        phones.call("telco", did, tag=tag, hold=3)
        return phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") in ("101", "102"), since=mark,
                               timeout=20)["Exten"]

    assert rings("5552400", "until-midnight") == "101", f"closed at {datetime.now(ZoneInfo(zone)):%H:%M:%S} {zone}"

    # The closing range ends at the minute it is now: wait for a minute with time left in it, make the range
    # end there and call at once (before, Asterisk was given 00:00-HH:MM, which includes that whole minute).
    while datetime.now(ZoneInfo(zone)).second > 40:
        time.sleep(0.5)
    now = datetime.now(ZoneInfo(zone))
    update("time_condition", "closing", ranges=[{"days": DAYS[now.weekday()], "start": "00:00",
                                                  "end": f"{now:%H:%M}"}])
    pbx.apply()
    at = datetime.now(ZoneInfo(zone))
    assert rings("5552401", "at-closing") == "102", f"open at {at:%H:%M:%S}, closing at {now:%H:%M}"


def _route_with_two_trunks(phones, primary_port: int) -> None:
    add("trunk", name="primary", host="127.0.0.1", port=primary_port, match=[f"127.0.0.1:{phones.telco_port}"],
        qualify_seconds=2)
    add("trunk", name="backup", host="127.0.0.1", port=phones.telco_b_port,
        match=[f"127.0.0.1:{phones.telco_b_port}"], qualify_seconds=2)
    add("outbound_route", name="national",
        patterns=[{"match": "_9NXXXXXX", "strip": 1, "prepend": "+3314"}], trunks=["primary", "backup"])


def test_outbound_leaves_by_first_trunk_with_digits_rewritten(pbx, carrier):
    # the route sends a Paris number (+33 1 ...): international, which a new site blocks unless allowed
    add("extension", number="100", name="Alice", dial_permission="international")
    pbx.apply()
    phones = carrier()
    _route_with_two_trunks(phones, phones.telco_port)
    pbx.apply()

    mark = phones.mark()
    phones.call("ph100", "95551234", tag="out")
    incoming = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten", "").startswith("+"), since=mark)
    assert incoming["Exten"] == "+33145551234"
    assert incoming["Local"].endswith(f":{phones.telco_port}"), incoming


def test_outbound_fails_over_to_backup_trunk(pbx, carrier, record_property):
    # the route sends a Paris number (+33 1 ...): international, which a new site blocks unless allowed
    add("extension", number="100", name="Alice", dial_permission="international")
    pbx.apply()
    phones = carrier()
    from lab.instance import free_port
    dead_port = free_port()
    _route_with_two_trunks(phones, dead_port)
    pbx.apply()
    # Let the qualify find the primary line dead, as it would be long before a real call.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "Unavail" not in pbx.cli("pjsip show aor primary"):
        time.sleep(0.5)

    mark = phones.mark()
    started = time.monotonic()
    phones.call("ph100", "95551234", tag="failover")
    incoming = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten", "").startswith("+"), since=mark,
                               timeout=45)
    failover = incoming["_time"] - started
    record_property("failover_seconds", round(failover, 2))
    print(f"failover to backup trunk took {failover:.2f} s")
    assert incoming["Exten"] == "+33145551234"
    assert incoming["Local"].endswith(f":{phones.telco_b_port}"), incoming
    assert failover < 10


def test_outbound_caller_name_goes_with_the_company_number(pbx, carrier):
    """A route that sends the company's number sends its caller name too, never the agent's; empty: no name."""
    add("extension", number="100", name="Agent Fang")
    phones = live_with_carrier(pbx, carrier)
    add("outbound_route", name="national", patterns=[{"match": "_9NXXXXXX", "strip": 1}], trunks=["telco"],
        caller_id="4007002505")
    pbx.apply()

    def call_out(tag: str) -> dict:
        mark = phones.mark()
        phones.call("ph100", "95551234", tag=tag)
        return phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "5551234", since=mark)

    incoming = call_out("no-name")
    assert incoming["CallerID"] == "4007002505"
    assert incoming.get("CallerName", "") == "", incoming  # the agent's name is not sent with the company's number

    update("outbound_route", "national", caller_id_name="Harbour Dental")
    pbx.apply()
    incoming = call_out("company-name")
    assert (incoming["CallerID"], incoming.get("CallerName")) == ("4007002505", "Harbour Dental"), incoming


def test_rejected_apply_keeps_previous_config_and_calls_work(pbx, carrier):
    add("extension", number="100", name="Alice")
    add("extension", number="101", name="Bob")
    pbx.apply()
    phones = carrier()
    live_before = pbx.install.target().live_generation()

    update("extension", "101", options={"dtmf_mode": "bogus"})
    result = pbx.apply(expect_ok=False)
    assert not result.ok and result.rolled_back
    assert "dtmf_mode=bogus" in result.error
    assert "pjsip.conf" in result.error and "extension 101" in result.error
    assert pbx.install.target().live_generation() == live_before

    mark = phones.mark()
    phones.call("ph100", "101", tag="after-rollback")
    phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "101", since=mark)


def _registration_state(pbx, name: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        line = next((ln for ln in pbx.cli("pjsip show registrations").splitlines() if f"{name}-reg/" in ln), "")
        state = next((w for w in ("Registered", "Rejected", "Unregistered", "Stopped") if w in line), "missing")
        if state in ("Registered", "Rejected"):
            return state
        time.sleep(0.3)
    return state


def test_registering_trunk_registers_and_carries_calls(pbx, carrier):
    add("extension", number="100", name="Alice")
    pbx.apply()
    phones = carrier(trunk_accounts=[("acme", "Carrier8Secret")])
    add("trunk", name="acme", registration=True, host="127.0.0.1", port=phones.telco_port, username="acme",
        password="Carrier8Secret", match=[f"127.0.0.1:{phones.telco_port}"])
    add("outbound_route", name="all", patterns=[{"match": "_0X."}], trunks=["acme"])
    pbx.apply()
    assert _registration_state(pbx, "acme") == "Registered"

    mark = phones.mark()
    phones.call("ph100", "0123456789", tag="via-registered-trunk")
    incoming = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "0123456789", since=mark)
    assert incoming["Endpoint"] == "acme", incoming  # the carrier authenticated the call as the account

    update("trunk", "acme", password="WrongPassword1")
    pbx.apply()
    assert _registration_state(pbx, "acme") == "Rejected"
