"""The missed-call follow-up list with real calls through Asterisk (issue 22 item 2).

A customer gives up waiting in a queue: the list shows them (from what the collector read of Asterisk's
queue_log); an agent claims the line and calls the customer back from their phone through the outbound
route (click-to-dial: the agent's phone rings first), the carrier answers as the customer, and the line closes
by itself as reached.  The customer gives
up again, then calls in and an agent answers: the line closes by itself as "called in again".  The report
counts both.  The console is served over real HTTP from the pbx's install.
"""

from __future__ import annotations

import time

import pytest

from appliance.callcenter import collector, missed
from appliance.callcenter.reports import today
from appliance.site import service
from tests.lab.helpers import add, collect_until, live_with_carrier
from tests.lab.test_agent_desk import _served, session_for_agent
from tests.web.test_callcenter_pages import token_of

pytestmark = pytest.mark.lab

CUSTOMER = "+8613912345678"  # a mobile in China, as the carrier presents it
DIALLED = "13912345678"  # what the agent dials to call them back


def _site() -> None:
    service.save_settings({"country_code": "86"}, user="test")
    add("extension", number="201", name="Agent 201")
    add("queue", number="700", name="Support", strategy="ringall", agent_ring_seconds=10, wrapup_seconds=0,
        members=[{"extension": "201"}], announce_position=False)
    add("inbound_route", name="support-line", did="5553700", destination="queue:700")



def _open_line():
    missed.sync()
    return next((line for line in missed.open_lines() if line.number == CUSTOMER), None)


def _closed_as(reason: str):
    def check():
        missed.sync()
        return [line for line in missed.closed_lines(int(time.time()) - 600) if line.reason == reason]
    return check


def test_a_customer_who_gave_up_is_listed_called_back_and_closed_then_closes_by_calling_in_again(pbx, carrier):
    _site()
    phones = live_with_carrier(pbx, carrier)  # the carrier's trunk "telco" exists from here
    add("outbound_route", name="mobiles", patterns=[{"match": "_1NXXXXXXXXX"}], trunks=["telco"])
    pbx.apply()
    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)
    server = _served(pbx)
    agent = session_for_agent(server.url)
    page_url = f"{server.url}/missed"
    try:
        # The agent's phone rings unanswered; the customer gives up after a few seconds.
        phones.set_behaviour("201", "noanswer")
        mark = phones.mark()
        phones.call("telco", "5553700", tag="gave-up", hold=4, caller=CUSTOMER)
        phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "gave-up", since=mark, timeout=30)
        line = collect_until(sources, _open_line, "the abandoned call in the list")
        assert (line.queue, line.count, line.status, line.position) == ("700", 1, "open", 1)
        assert line.longest_wait >= 3
        page = agent.get(page_url).text
        assert f'data-number="{CUSTOMER}"' in page

        claimed = agent.post(f"{page_url}/claim", data={"csrf_token": token_of(agent, page_url), "queue": "700",
                                                        "number": CUSTOMER})
        assert f"You call {CUSTOMER} back" in claimed.text
        assert _open_line().claimed_by == "alice"

        # The agent presses "Call back": their phone rings first (click-to-dial), they pick it up, and the
        # customer's number is dialled through the outbound route in its national form; the carrier answers.
        phones.set_behaviour("201", "answer", hold=6, ring=1)
        phones.set_behaviour(DIALLED, "answer", hold=3, ring=0)
        mark = phones.mark()
        called = agent.post(f"{page_url}/call", data={"csrf_token": token_of(agent, page_url), "queue": "700",
                                                      "number": CUSTOMER})
        assert f"pick it up to call {DIALLED}" in called.text, called.text
        rang = phones.wait_for("CarrierIncoming", lambda e: e.get("Exten") == "201", since=mark, timeout=30)
        reached_at = phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == DIALLED, since=mark, timeout=30)
        assert rang["_time"] < reached_at["_time"]  # the agent's phone first
        [reached] = collect_until(sources, _closed_as("reached"), "the line closed by the call back")
        assert (reached.number, reached.count) == (CUSTOMER, 1)
        assert _open_line() is None
        assert "reached by a call" in agent.get(page_url).text

        # They miss us again, then call in and the agent answers: the line closes by itself.
        phones.set_behaviour("201", "noanswer")
        mark = phones.mark()
        phones.call("telco", "5553700", tag="gave-up-again", hold=4, caller=CUSTOMER)
        phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "gave-up-again", since=mark, timeout=30)
        assert collect_until(sources, _open_line, "the second miss in the list").count == 1
        phones.set_behaviour("201", "answer", ring=1)
        mark = phones.mark()
        phones.call("telco", "5553700", tag="called-again", hold=3, caller=CUSTOMER)
        phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "called-again", since=mark, timeout=30)
        collect_until(sources, _closed_as("called_again"), "the line closed by the customer's answered call")
        assert _open_line() is None

        [row] = missed.report(*today())
        assert (row.queue, row.missed, row.customers, row.reached, row.called_again, row.still_open) == \
            ("700", 2, 1, 1, 1, 0)
        assert row.median_follow_up_seconds is not None
    finally:
        server.close()
