"""Turn DAHDI span states into advice a technician can act on.

The readers in :mod:`hardware.dahdi_state` say *what* the spans report; this module says *what
to do*, in the words of :data:`hardware.advice.ADVICE`.  Counters only mean something when they
move, so error advice needs two readings (``before`` / ``after``), as a technician would watch
``dahdi_tool`` for a while rather than trust a total accumulated since boot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hardware.advice import advise
from hardware.dahdi_state import DahdiState, ScanPort, ScanSpan, SpanAssignment, SpanCounters

# Most fundamental first: with no signal (LOS) nothing else can be judged.
_ALARM_ORDER = ("LOS", "RED", "LOF", "LMFA", "BLUE", "YELLOW", "LOOP", "NOTOPEN", "RECOVER", "UNKNOWN",
                "UNCONFIGURED")
_ALARM_ADVICE = {
    "LOS": "alarm_los", "RED": "alarm_red", "LOF": "alarm_lof", "LMFA": "alarm_lmfa", "BLUE": "alarm_blue",
    "YELLOW": "alarm_yellow", "LOOP": "alarm_loop", "NOTOPEN": "alarm_notopen", "RECOVER": "alarm_recover",
    "UNKNOWN": "alarm_unknown", "UNCONFIGURED": "span_unconfigured",
}
_COUNTER_ADVICE = {
    "bpv": "counter_bpv", "crc4": "counter_crc4", "ebit": "counter_ebit", "fas": "counter_fas",
    "timing_slips": "counter_slips", "errored_seconds": "counter_errsec",
}


@dataclass(frozen=True)
class SpanReport:
    """One span's verdict: ``ok`` is False whenever there is advice to follow."""

    span: int
    name: str
    description: str
    spantype: str
    alarms: frozenset[str]
    advice: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.advice


def alarm_advice(span: int, alarms: Iterable[str], spantype: str = "") -> list[str]:
    """Advice for each alarm present, most fundamental first."""
    present = set(alarms)
    return [advise(_ALARM_ADVICE[name], span=span, spantype=spantype) for name in _ALARM_ORDER if name in present]


def counter_advice(span: int, before: SpanCounters, after: SpanCounters, spantype: str = "") -> list[str]:
    """Advice for every error counter that grew between two readings."""
    return [advise(_COUNTER_ADVICE[name], span=span, delta=delta, spantype=spantype)
            for name, delta in before.growth(after).items() if name in _COUNTER_ADVICE]


def port_advice(span: int, ports: Iterable[ScanPort]) -> list[str]:
    """Advice for analog ports whose module failed to start (``dahdi_scan`` says ``FAILED``)."""
    return [advise("port_failed", span=span, channel=p.channel) for p in ports if p.failed]


def assignment_advice(assignments: Iterable[SpanAssignment]) -> list[str]:
    """Advice for local spans that no span number was given to (they carry no calls)."""
    return [advise("span_unassigned", local=a.local_spanno, device=a.hardware_id or a.location or a.devpath)
            for a in assignments if not a.assigned]


def _counter_pair(span: int, before: Mapping[int, SpanCounters] | None,
                  after: Mapping[int, SpanCounters] | None) -> tuple[SpanCounters, SpanCounters] | None:
    if before and after and span in before and span in after:
        return before[span], after[span]
    return None


def diagnose(state: DahdiState, before: Mapping[int, SpanCounters] | None = None,
             after: Mapping[int, SpanCounters] | None = None) -> list[SpanReport]:
    """One report per span read from sysfs, with counter advice when two readings are given."""
    reports = []
    for span in state.spans:
        advice = alarm_advice(span.number, span.alarms, span.spantype)
        if span.channels == 0:
            advice.append(advise("span_unconfigured", span=span.number))
        pair = _counter_pair(span.number, before, after)
        if pair:
            advice += counter_advice(span.number, *pair, span.spantype)
        reports.append(SpanReport(span.number, span.name, span.desc, span.spantype, span.alarms, tuple(advice)))
    return reports


def diagnose_scan(spans: Iterable[ScanSpan], before: Mapping[int, SpanCounters] | None = None,
                  after: Mapping[int, SpanCounters] | None = None) -> list[SpanReport]:
    """The same verdicts from ``dahdi_scan`` output (plus failed analog ports, which only it shows)."""
    reports = []
    for span in spans:
        advice = alarm_advice(span.number, span.alarms, span.spantype) + port_advice(span.number, span.ports)
        pair = _counter_pair(span.number, before, after)
        if pair:
            advice += counter_advice(span.number, *pair, span.spantype)
        reports.append(SpanReport(span.number, span.values.get("name", ""), span.values.get("description", ""),
                                  span.spantype, span.alarms, tuple(advice)))
    return reports
