"""Queue callbacks that keep the caller's place, with real calls through Asterisk (issue 22 item 1).

Caller A waits in a queue whose only agent does not pick up, presses 1 and hangs up; caller B calls after
A and waits.  When the agent frees up, A's callback (holding A's place, ahead of B) reaches the agent
first; then the carrier receives the call to A's number through the outbound route and answers as A, and
the agent talks to A.  Only then is B's call offered.  The collector's records and the callbacks report
say the same; the queue's service level counts A's request as not answered in time.  The FastAGI service
(which finds the dialable form of A's number, and the dial guard) runs in the test on a port of its own.
"""

from __future__ import annotations

import time

import pytest

from appliance.callcenter import callbacks, collector, missed
from appliance.callcenter.reports import queue_report, today
from appliance.model.models import QueueCall
from appliance.services import agi
from appliance.site import service
from lab.instance import free_port
from tests.lab.helpers import add, collect_until, live_with_carrier

pytestmark = pytest.mark.lab

CALLER_A = "+8613900000001"
DIAL_A = "13900000001"  # the form of A's number the outbound route takes
CALLER_B = "+8613900000002"
CALLER_C = "+8613900000003"
DIAL_C = "13900000003"


def _site() -> None:
    service.save_settings({"country_code": "86"}, user="test")
    add("extension", number="201", name="Agent 201")
    add("queue", number="700", name="Support", strategy="ringall", agent_ring_seconds=5, wrapup_seconds=0,
        members=[{"extension": "201"}], announce_position=False, callback=True, callback_offer_seconds=5,
        callback_retries=0)
    add("inbound_route", name="support-line", did="5553700", destination="queue:700")



def test_a_callback_keeps_the_callers_place_and_connects_the_agent_first(pbx, carrier):
    agi_port = free_port()
    service.save_settings({"agi_port": agi_port}, "test")
    _site()
    agi_server = agi.make_server(port=agi_port)
    agi_server.start()
    try:
        phones = live_with_carrier(pbx, carrier)
        add("outbound_route", name="mobiles", patterns=[{"match": "_1NXXXXXXXXX"}], trunks=["telco"])
        pbx.apply()
        sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
        phones.set_behaviour("201", "noanswer")
        phones.set_behaviour(DIAL_A, "answer", hold=4, ring=1)

        mark = phones.mark()
        # A presses 1 a second after the queue answered, and hears the confirmation before hanging up
        phones.call("telco", "5553700", tag="a", dtmf="1", hold=8, caller=CALLER_A)
        requested = phones.wait_for("CallerConnected", lambda e: e.get("Tag") == "a", since=mark)["_time"]
        phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "a", since=mark, timeout=30)
        phones.call("telco", "5553700", tag="b", hold=60, caller=CALLER_B)
        phones.wait_for("CallerConnected", lambda e: e.get("Tag") == "b", since=mark)
        # both wait now: A's placeholder first (A's place), then B
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and pbx.cli("queue show 700").count("wait:") < 2:
            time.sleep(0.2)
        shown = pbx.cli("queue show 700")
        assert shown.count("wait:") == 2, shown
        first = shown.index("1. ")
        assert "Local/" in shown[first:first + 80], shown

        freed = phones.mark()
        phones.set_behaviour("201", "answer", ring=0)
        # the agent's phone is offered A's callback (with A's number), then the carrier gets the call to A
        agent_call = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=freed, timeout=30)
        assert agent_call["CallerID"] == CALLER_A, agent_call
        reached = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == DIAL_A, since=freed, timeout=30)
        assert reached["_time"] > agent_call["_time"]
        print(f"\ntime to callback: {reached['_time'] - requested:.1f} s from A's request")
        # only after A's callback is B's call offered to the agent
        b_call = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201" and
                                 e.get("CallerID") == CALLER_B, since=freed, timeout=60)
        assert b_call["_time"] > reached["_time"]

        [row] = collect_until(sources, lambda: [r for r in callbacks.report(*today()) if r.completed], "the callback")
        assert (row.queue, row.requested, row.completed, row.failed, row.tries) == ("700", 1, 1, 0, 1)
        assert 0 < row.median_seconds_to_callback < 60
        outcomes = {(c.caller, c.outcome) for c in QueueCall.select()}
        assert (CALLER_A, "callback") in outcomes and (CALLER_A, "callback_call") in outcomes, outcomes
        [kpis] = queue_report(*today())
        assert kpis.callbacks == 1 and kpis.answered <= 1  # the placeholder is not a second answered call
        missed.sync()
        assert CALLER_A not in {line.number for line in missed.open_lines()}  # reached: not missed

        # C asks for a callback, but C's line is busy: with no retries left it is given up, and C is in
        # the missed-call list for an agent to try later
        phones.set_behaviour(DIAL_C, "busy")
        mark = phones.mark()
        phones.call("telco", "5553700", tag="c", dtmf="1", hold=8, caller=CALLER_C)
        phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == DIAL_C, since=mark, timeout=40)
        line = collect_until(sources, lambda: next((m for m in (missed.sync(), missed.open_lines())[1]
                                             if m.number == CALLER_C), None), "C in the missed-call list")
        assert line.queue == "700"
        failed = next(r for r in callbacks.report(*today()) if r.queue == "700")
        assert (failed.requested, failed.completed, failed.failed) == (2, 1, 1)
    finally:
        agi_server.close()
