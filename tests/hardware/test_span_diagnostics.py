"""From span states to advice: the advice table, and the verdicts for recorded states."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from hardware.advice import ADVICE, advise
from hardware.dahdi_state import SpanCounters, parse_dahdi_scan, parse_span_assignments, read_sysfs
from hardware.span_diagnostics import (
    alarm_advice,
    assignment_advice,
    counter_advice,
    diagnose,
    diagnose_scan,
)
from tests.hardware.fake_sysfs import make_fake_sysfs

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_VALUES = {"span": 2, "delta": 5, "driver": "wct4xxp", "bound": "netjet", "note": "n", "vendor": "Digium",
                 "ids": "d161:8fff", "source": "s", "local": 1, "device": "dev", "channel": 121, "spantype": "E1"}


@pytest.mark.parametrize("key", sorted(ADVICE))
def test_every_advice_text_formats_with_known_fields(key):
    fields = {name for _, name, _, _ in string.Formatter().parse(ADVICE[key]) if name}
    assert fields <= set(SAMPLE_VALUES) | {"framing_hint"}, f"{key} uses an undocumented placeholder"
    text = advise(key, **SAMPLE_VALUES)
    assert "{" not in text and text.strip() == text


def test_red_alarm_text_names_the_span_and_e1_framing():
    assert alarm_advice(2, {"RED"}, "E1") == [
        "RED alarm on span 2: no signal — check the cable and the line's framing "
        "(CCS/HDB3 for E1, with or without CRC4 as the carrier says)"]
    assert "ESF/B8ZS for T1" in alarm_advice(4, {"RED"}, "T1")[0]


def test_yellow_and_blue_texts():
    assert alarm_advice(1, {"YELLOW"}) == [
        "YELLOW (RAI) on span 1: the far end does not see our signal — check our transmit pair and the far end's "
        "framing"]
    assert alarm_advice(3, {"BLUE"}) == [
        "BLUE (AIS) on span 3: the line is up but carries no service — call the carrier"]


def test_alarm_order_puts_loss_of_signal_first():
    advice = alarm_advice(2, {"RED", "LOS", "RECOVER"})
    assert [a.split(" ")[0] for a in advice] == ["LOS", "RED", "span"]
    assert "recovering" in advice[2]


def test_every_alarm_has_advice():
    for alarm in ("LOS", "RED", "LOF", "LMFA", "BLUE", "YELLOW", "LOOP", "NOTOPEN", "RECOVER", "UNKNOWN",
                  "UNCONFIGURED"):
        assert len(alarm_advice(1, {alarm})) == 1
    assert alarm_advice(1, set()) == []


def test_growing_crc4_count_gives_crc4_advice():
    before, after = SpanCounters(crc4=87), SpanCounters(crc4=120, bpv=0)
    assert counter_advice(2, before, after) == [
        "CRC4 errors growing on span 2 (+33): check crc4 setting matches the carrier"]
    assert counter_advice(2, after, after) == []


def test_other_growing_counters():
    advice = counter_advice(1, SpanCounters(), SpanCounters(bpv=4, ebit=2, fas=1, timing_slips=1, errored_seconds=3,
                                                            irq_misses=9))
    assert [a.split(" ")[0] for a in advice] == ["code", "E-bit", "framing", "timing", "errored"]
    assert any("AMI vs B8ZS/HDB3" in a for a in advice)


def test_diagnose_sysfs_state(tmp_path):
    reports = diagnose(read_sysfs(make_fake_sysfs(tmp_path)),
                       before={2: SpanCounters(crc4=10)}, after={2: SpanCounters(crc4=30)})
    by_span = {r.span: r for r in reports}
    assert by_span[1].ok
    assert by_span[2].advice[0].startswith("LOS on span 2")
    assert by_span[2].advice[1].startswith("RED alarm on span 2: no signal")
    assert by_span[2].advice[-1] == "CRC4 errors growing on span 2 (+20): check crc4 setting matches the carrier"
    assert by_span[3].advice == tuple(alarm_advice(3, {"YELLOW"}))
    assert by_span[4].advice == tuple(alarm_advice(4, {"BLUE"}))
    assert "dahdi_cfg" in by_span[5].advice[0]


def test_diagnose_dahdi_scan_output_includes_failed_analog_port():
    reports = diagnose_scan(parse_dahdi_scan((FIXTURES / "dahdi_scan.txt").read_text()))
    assert [r.ok for r in reports] == [True, False, False, False, False]
    assert reports[4].advice == (
        "channel 121 on span 5 FAILED: the module did not start — check the card's power connector (FXS modules "
        "need it), reseat the module, then reload the driver",)
    assert reports[1].name == "TE4/0/2" and reports[1].spantype == "E1"


def test_unassigned_spans_get_advice():
    rows = parse_span_assignments((FIXTURES / "span_assignments_list.txt").read_text())
    advice = assignment_advice(rows)
    assert len(advice) == 2
    assert advice[0].startswith("local span 1 of PCI_Express_Bus_07_Slot_01 is not assigned")
    assert "dahdi_span_assignments auto" in advice[0]
