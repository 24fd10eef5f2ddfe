"""Caller-name lookup through real Asterisk: an inbound call from a number in the phonebook reaches the
phone with the contact's name (from ``linebox agi``, the FastAGI server as its service runs it), and with
the server stopped the same call still goes through, unnamed and without delay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.agi.server import health_check
from appliance.phonebook import contacts as phonebook
from appliance.site import service
from lab.instance import free_port
from tests.lab.helpers import add, live_with_carrier

pytestmark = pytest.mark.lab

CALLER = "+15550001111"  # the carrier's outside line (lab.carrier.endpoint_number)
LINEBOX = Path(sys.executable).parent / "linebox"


def start_agi(home: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM")}
    process = subprocess.Popen([str(LINEBOX), "--home", str(home), "agi", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while not health_check("127.0.0.1", port, timeout=1):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"linebox agi did not start: {process.communicate()[0]}")
        time.sleep(0.2)
    return process


def answered_call(phones, tag: str) -> tuple[dict, float]:
    """Call the office's main number from the outside line (caller name = the number); the answered event."""
    mark = phones.mark()
    started = time.monotonic()
    phones.call("telco", "5551000", tag=tag, hold=2)
    answered = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "100", since=mark, timeout=20)
    return answered, answered["_time"] - started


def test_inbound_caller_is_named_from_the_phonebook_and_calls_go_on_without_the_server(pbx, carrier):
    port = free_port()
    service.save_settings({"agi_port": port}, user="test")
    add("extension", number="100", name="Reception")
    add("inbound_route", name="main", did="5551000", destination="extension:100")
    anna = phonebook.create_contact({"name": "Anna Berg", "company": "Acme", "numbers": ["+1 (555) 000-1111"]},
                                    "test")
    phones = live_with_carrier(pbx, carrier)
    assert f"agi://127.0.0.1:{port}/caller-name" in pbx.cli("dialplan show sub-caller-name")

    agi = start_agi(pbx.install.home, port)
    try:
        # The carrier sends the number again as the name (as many do): the phone shows the contact.
        answered, named_after = answered_call(phones, tag=CALLER)
        assert answered["CallerID"] == CALLER
        assert answered["CallerIDName"] == "Anna Berg (Acme)"
        # A caller the carrier names is left alone, in the phonebook or not.
        answered, _ = answered_call(phones, tag="Carrier Name")
        assert answered["CallerIDName"] == "Carrier Name"
    finally:
        agi.terminate()
        output = agi.communicate(timeout=15)[0]
    assert agi.returncode == 0, output
    assert "caller +15550001111: match -> Anna Berg (Acme)" in output and f"(contact {anna['id']})" in output

    # Server stopped: AGI() fails at once and the call reaches the phone as the carrier sent it.
    assert not health_check("127.0.0.1", port, timeout=1)
    answered, unnamed_after = answered_call(phones, tag=CALLER)
    assert answered["CallerIDName"] == CALLER
    assert unnamed_after < named_after + 1.5, (unnamed_after, named_after)
    log = pbx.install.asterisk_log.read_text(errors="replace")
    assert f"127.0.0.1:{port}" in log, "Asterisk did not try the stopped server"
