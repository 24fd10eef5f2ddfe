"""DAHDI state readers: a fake sysfs tree laid out as dahdi-sysfs.c creates it, and recorded tool output."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware.dahdi_state import (
    ALARM_BITS,
    SpanCounters,
    alarms_from_mask,
    parse_alarms,
    parse_dahdi_maint,
    parse_dahdi_scan,
    parse_proc_span,
    parse_span_assignments,
    read_sysfs,
)
from tests.hardware.fake_sysfs import TE420, make_fake_sysfs

FIXTURES = Path(__file__).parent / "fixtures"


def test_alarm_mask_names_every_dahdi_bit():
    assert alarms_from_mask(0) == frozenset()
    assert alarms_from_mask(0x108) == {"RED", "LOS"}
    assert alarms_from_mask(sum(ALARM_BITS.values())) == set(ALARM_BITS)
    assert alarms_from_mask(0x40) == {"UNKNOWN"}


@pytest.mark.parametrize(("text", "expected"), [
    ("OK", set()),
    ("0x0", set()),
    ("0x14", {"YELLOW", "BLUE"}),
    ("RED", {"RED"}),
    ("BLU/YEL", {"BLUE", "YELLOW"}),             # dahdi_scan spelling
    ("RED/LFA", {"RED", "LOF"}),
    ("LB/REC/NOP", {"LOOP", "RECOVER", "NOTOPEN"}),
    ("LMFA/OK", {"LMFA"}),
    ("UUU", {"UNKNOWN"}),
    ("UNCONFIGURED", {"UNCONFIGURED"}),
    ("BLUE YELLOW RED LOOP RECOVERING NOTOPEN", {"BLUE", "YELLOW", "RED", "LOOP", "RECOVER", "NOTOPEN"}),  # /proc
    ("AIS RAI LOS LOF", {"BLUE", "YELLOW", "LOS", "LOF"}),  # telecom names
])
def test_parse_alarms_accepts_every_spelling(text, expected):
    assert parse_alarms(text) == expected


def test_parse_alarms_rejects_an_unknown_word():
    with pytest.raises(ValueError, match="PURPLE"):
        parse_alarms("RED/PURPLE")


def test_read_sysfs_devices(tmp_path):
    state = read_sysfs(make_fake_sysfs(tmp_path))
    assert [d.name for d in state.devices] == ["pci:0000:03:00.0", "pci:0000:04:00.0"]
    te420 = state.devices[1]
    assert te420.manufacturer == "Digium"
    assert te420.type == "Wildcard TE420 (5th Gen) (VPMOCT064)"
    assert te420.span_count == 4
    assert te420.hardware_id == ""
    assert te420.location == "PCI Express Bus 04 Slot 01"
    assert te420.local_spantypes == {1: "E1", 2: "E1", 3: "E1", 4: "T1"}
    assert state.devices[0].hardware_id == "1DA4B0123456"


def test_read_sysfs_spans(tmp_path):
    state = read_sysfs(make_fake_sysfs(tmp_path))
    assert [s.number for s in state.spans] == [1, 2, 3, 4, 5]
    one, two, three, four, five = state.spans
    assert one.alarms == frozenset() and one.is_sync_master and one.is_digital
    assert (one.basechan, one.channels, one.spantype, one.lineconfig) == (1, 31, "E1", "HDB3/CCS/CRC4")
    assert one.device == "pci:0000:04:00.0" and one.local_spanno == 1
    assert two.alarms == {"RED", "LOS"} and two.alarm_mask == 0x108
    assert three.alarms == {"YELLOW"}
    assert four.alarms == {"BLUE"} and four.spantype == "T1"
    assert five.alarms == {"NOTOPEN"} and five.is_digital is False and five.device == "pci:0000:03:00.0"
    assert one.linecompat == "AMI HDB3 CCS CRC4"


def test_read_sysfs_without_dahdi_is_empty(tmp_path):
    state = read_sysfs(tmp_path)
    assert state.devices == () and state.spans == ()


def test_read_sysfs_tolerates_unreadable_attributes(tmp_path):
    root = make_fake_sysfs(tmp_path)
    (root / TE420 / "span-1" / "basechan").unlink()  # the kernel returns ENODEV for a span without channels
    span = read_sysfs(root).spans[0]
    assert span.basechan is None and span.channels == 31


def test_parse_dahdi_scan():
    spans = parse_dahdi_scan((FIXTURES / "dahdi_scan.txt").read_text())
    assert [s.number for s in spans] == [1, 2, 3, 4, 5]
    one = spans[0]
    assert one.alarms == frozenset() and one.is_digital and one.spantype == "E1" and one.crc4
    assert one.values["name"] == "TE4/0/1"
    assert one.values["devicetype"] == "Wildcard TE420 (5th Gen) (VPMOCT064)"
    assert one.get_int("basechan") == 1 and one.get_int("totchans") == 31
    assert spans[1].alarms == {"RED"}
    assert spans[2].alarms == {"YELLOW"} and not spans[2].crc4
    assert spans[3].alarms == {"BLUE"} and spans[3].spantype == "T1"
    analog = spans[4]
    assert not analog.is_digital and analog.spantype == "analog"
    assert [(p.channel, p.kind, p.failed) for p in analog.ports] == [
        (118, "FXS", False), (119, "FXS", False), (120, "FXO", False), (121, "FXS", True)]


def test_parse_dahdi_scan_rejects_garbage():
    with pytest.raises(ValueError):
        parse_dahdi_scan("Unable to open /dev/dahdi/ctl: No such file or directory\n")


def test_parse_span_assignments():
    rows = parse_span_assignments((FIXTURES / "span_assignments_list.txt").read_text())
    assert len(rows) == 7
    first = rows[0]
    assert (first.local_spanno, first.spanno, first.basechan, first.hardware_id) == (1, 1, 1, "")
    assert first.location == "PCI_Express_Bus_04_Slot_01"
    assert first.devpath.endswith("/pci:0000:04:00.0")
    assert (rows[4].spanno, rows[4].basechan, rows[4].hardware_id) == (5, 118, "1DA4B0123456")
    unassigned = [r for r in rows if not r.assigned]
    assert [(r.local_spanno, r.spanno, r.basechan) for r in unassigned] == [(1, None, None), (2, None, None)]


def test_parse_span_assignments_dynamic_span_from_the_lab():
    """LAB.md quotes ``1:1:1 [DYN/loc/1:0]`` for a local dynamic span; the rest of the line follows the script."""
    rows = parse_span_assignments("1:1:1    [DYN/loc/1:0]  @ /sys/devices/dahdi_dynamic/loc:1:0\n")
    assert rows[0].hardware_id == "DYN/loc/1:0" and rows[0].location == ""


def test_parse_proc_span_with_alarm_and_counters():
    span = parse_proc_span((FIXTURES / "proc_dahdi_2.txt").read_text())
    assert (span.number, span.name, span.desc) == (2, "TE4/0/2", "T4XXP (PCI) Card 0 Span 2")
    assert span.lineconfig == "HDB3/CCS/CRC4" and span.alarms == {"RED"}
    assert not span.is_master and not span.clock_source
    assert span.counters == SpanCounters(bpv=1423, crc4=87, fas=12, timing_slips=3)


def test_parse_proc_span_master_clock_source():
    span = parse_proc_span((FIXTURES / "proc_dahdi_1.txt").read_text())
    assert span.is_master and span.clock_source and span.alarms == frozenset()
    assert span.counters == SpanCounters()


def test_parse_dahdi_maint_counters():
    text = ("Span 1:\n>Framing Errors : 2:\n>CRC Errors : 40:\n>Code Violations : 7:\n"
            ">E-bit Count : 1:\n>General Errored Seconds : 3:\n")
    assert parse_dahdi_maint(text) == {1: SpanCounters(fas=2, crc4=40, bpv=7, ebit=1, errored_seconds=3)}


def test_counter_growth_ignores_resets():
    before = SpanCounters(crc4=10, bpv=5)
    assert before.growth(SpanCounters(crc4=25, bpv=5)) == {"crc4": 15}
    assert before.growth(SpanCounters()) == {}
