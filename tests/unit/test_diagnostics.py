"""The diag screen's verdicts from fake hardware and a fake Asterisk status (the lab test runs it for real)."""

from __future__ import annotations

from appliance.asterisk.status import AsteriskStatus, Contact, Endpoint, Registration
from appliance.support import diagnostics
from tests.hardware.fake_sysfs import make_fake_sysfs


def test_span_alarms_become_fail_lines_with_advice(tmp_path):
    findings = diagnostics.check_spans(make_fake_sysfs(tmp_path))
    assert findings
    failing = [f for f in findings if f.level == "fail"]
    assert failing and all(f.advice for f in failing)


def test_rejected_registration_is_a_fault_and_exit_status_follows():
    status = AsteriskStatus(reachable=True, endpoints=[Endpoint("acme", "Unavailable")],
                            registrations=[Registration("acme-reg", "sip:x", "Rejected")])
    findings = diagnostics.check_trunks(status, ["acme"])
    assert [f.level for f in findings] == ["fail", "warn"]
    assert diagnostics.exit_status(findings) == 2
    screen = diagnostics.render(findings)
    assert screen[0].startswith("FAIL Trunk") and screen[-1].startswith("Linebox diag: FAULTS")


def test_screen_never_exceeds_80_by_24():
    findings = [diagnostics.Finding("Log", "warn", "x" * 200, "y" * 200) for _ in range(40)]
    screen = diagnostics.render(findings)
    assert len(screen) <= 23 and all(len(line) <= 80 for line in screen)
    assert "more line(s)" in screen[-2]


def test_unreachable_asterisk_is_a_fault():
    finding = diagnostics.check_asterisk(AsteriskStatus(reachable=False, error="refused"))
    assert finding.level == "fail" and "systemctl" in finding.advice


def test_phones_are_counted_from_their_contacts_once_per_extension():
    contacts = [Contact("100", "sip:100@192.0.2.7:5062", "Reachable"), Contact("100", "sip:100@192.0.2.8", "Unknown"),
                Contact("101", "sip:101@192.0.2.9", "Reachable"), Contact("gw-port", "sip:x@192.0.2.1", "Reachable")]
    finding = diagnostics.check_phones(AsteriskStatus(reachable=True, contacts=contacts), ["100", "101", "102"])
    assert finding.text == "2 of 3 extension(s) registered"
