"""The collector on queue_log text written the way Asterisk writes it (the lab test uses real Asterisk)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from appliance.callcenter import collector, reports
from appliance.model.models import CollectorState, QueueCall, QueueEvent

T = int(datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp())
LINES = [
    f"{T}|NONE|700|NONE|QUEUESTART|",
    f"{T + 1}|c1|700|NONE|ENTERQUEUE||+441111|1",
    f"{T + 9}|c1|700|201|RINGNOANSWER|15000",
    f"{T + 12}|c1|700|202|CONNECT|11|c1.2|3",
    f"{T + 2}|c2|700|NONE|ENTERQUEUE||+442222|2",
    f"{T + 40}|c2|700|NONE|ABANDON|1|2|38",
    f"{T + 100}|c1|700|202|COMPLETECALLER|11|88|1",
    f"{T + 3600}|c3|700|NONE|ENTERQUEUE||+441111|1",
    f"{T + 3603}|c3|700|NONE|ABANDON|1|1|3",
]


def write(path, lines, mode="w"):
    with open(path, mode) as handle:
        handle.write("".join(line + "\n" for line in lines))


def test_calls_are_derived_and_reported(install, tmp_path):
    log = tmp_path / "queue_log"
    write(log, LINES)
    assert collector.collect_queue_log(log) == len(LINES)
    calls = {c.callid: c for c in QueueCall.select()}
    assert (calls["c1"].outcome, calls["c1"].wait_seconds, calls["c1"].talk_seconds, calls["c1"].agent) == \
        ("answered", 11, 88, "202")
    assert calls["c1"].next_call_seconds == 3599  # the same caller called again an hour later
    assert (calls["c2"].outcome, calls["c2"].wait_seconds) == ("abandoned", 38)
    (kpi,) = reports.queue_report(datetime.fromtimestamp(T - 60, UTC), datetime.fromtimestamp(T + 86400, UTC))
    assert (kpi.offered, kpi.answered, kpi.abandoned, kpi.short_abandons) == (3, 1, 1, 1)
    assert kpi.service_level_pct == 50.0 and kpi.asa_seconds == 11.0 and kpi.fcr_pct == 0.0
    (kpi,) = reports.queue_report(datetime.fromtimestamp(T - 60, UTC), datetime.fromtimestamp(T + 86400, UTC),
                                  fcr_hours=0)
    assert kpi.fcr_pct == 100.0


def test_half_written_lines_wait_and_nothing_is_duplicated(install, tmp_path):
    log = tmp_path / "queue_log"
    write(log, LINES[:3])
    with open(log, "a") as handle:
        handle.write(LINES[3][:10])  # Asterisk is in the middle of writing this line
    assert collector.collect_queue_log(log) == 3
    with open(log, "a") as handle:
        handle.write(LINES[3][10:] + "\n")
    write(log, LINES[4:], mode="a")
    collector.collect_queue_log(log)
    collector.collect_queue_log(log)
    CollectorState.delete().execute()  # state lost: everything is read again
    collector.collect_queue_log(log)
    assert QueueEvent.select().count() == len(LINES)
    assert QueueCall.select().count() == 3


def test_rotated_log_is_read_from_its_start(install, tmp_path):
    log = tmp_path / "queue_log"
    write(log, LINES[:4])
    collector.collect_queue_log(log)
    os.rename(log, tmp_path / "queue_log.1")
    write(log, LINES[4:])
    collector.collect_queue_log(log)
    assert QueueEvent.select().count() == len(LINES)
    day = datetime.fromtimestamp(T, UTC).replace(hour=0)
    assert [r.agent for r in reports.agent_report(day, day + timedelta(days=1))] == ["202"]
