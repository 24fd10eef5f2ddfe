"""A short SIPp run through the IVR into the queue (issue 24 item 1; the heavy run is ``make bench``).

Three SIPp callers at once come in through a trunk, press 1 in the IVR, wait in queue 700 (recording
on) and are answered by three agents (the carrier's phones); every call is answered, carries audio to
the agent (the agent phone's RTP counters), and appears exactly once in the call records and in the
queue report.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from lab import sipp

pytestmark = pytest.mark.lab

CALLS = 3


@pytest.fixture(scope="module")
def load(tmp_path_factory, rootfs):
    from appliance.model.database import close_database
    from lab import load as load_mod
    if not sipp.available():
        pytest.fail("SIPp is missing: install Debian's sip-tester (debian-packages.txt, [test])")
    site = load_mod.start(tmp_path_factory.mktemp("sipp-smoke"), rootfs, agents=CALLS, hold=4, talk_seconds=8)
    try:
        yield site
    finally:
        site.stop()
        close_database()


def test_sipp_callers_through_the_ivr_are_answered_and_each_is_counted_once(load):
    from appliance.callcenter import reports
    run, result = load.place(calls=CALLS, concurrent=CALLS, rate=CALLS, time_limit_s=30)
    assert (result.created, result.successful, result.failed) == (CALLS, CALLS, 0), result.output
    seen = load.account(run, result.created)
    assert all(seen["answered"].values()), seen
    assert seen["queue_rows"] == dict.fromkeys(seen["callers"], 1), seen
    assert seen["record_contacts"] == dict.fromkeys(seen["callers"], 1), seen
    for caller, qos in seen["qos"].items():  # the caller's audio reached the agent, none of it lost
        assert qos["rxcount"] >= 50 and qos["lp"] == 0, (caller, qos)
    assert load.recordings() == CALLS, sorted(load.install.recordings_dir.rglob("*"))
    start, end = reports.today()
    [queue] = reports.queue_report(start, end + timedelta(seconds=1), queue="700")
    assert (queue.offered, queue.answered) == (CALLS, CALLS), queue
