"""Real calls through Debian's Asterisk, configured only by what Linebox generated."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.lab.helpers import add

pytestmark = pytest.mark.lab


def test_extension_calls_extension_and_leaves_a_cdr(pbx, carrier):
    add("extension", number="100", name="Alice")
    add("extension", number="101", name="Bob")
    pbx.apply()
    phones = carrier()
    assert "Avail" in pbx.cli("pjsip show endpoint 100") or "Contact:" in pbx.cli("pjsip show endpoint 100")

    mark = phones.mark()
    phones.call("ph100", "101", tag="a-to-b")
    answered = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "101", since=mark)
    assert answered["CallerID"] == "100"
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "a-to-b", since=mark, timeout=30)
    time.sleep(1)
    cdr_db = pbx.instance.log_dir / "linebox-cdr.db"
    rows = sqlite3.connect(cdr_db).execute(
        "select src, dst, disposition, billsec from cdr where dst = '101'").fetchall()
    assert rows and rows[0][0] == "100" and rows[0][2] == "ANSWERED"
