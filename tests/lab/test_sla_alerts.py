"""SLA alerts with real calls: real callers wait in a queue of the lab pbx, and the wallboard's event stream,
read over real HTTP as a wall screen reads it (bearer token), opens and clears each breach as the waiting
calls and the agent cross the queue's thresholds.  The figures the board shows beside them (answered,
abandoned, service level) are the report's for the same calls, once the collector has read them.

One pbx, one carrier and one console serve the whole module.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
import requests

from appliance.access import accounts, apitokens
from appliance.asterisk import ami_users
from appliance.callcenter import agents, collector, reports
from appliance.model.database import close_database
from appliance.model.models import SlaBreach
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app
from tests.conftest import Pbx, wait_reachable
from tests.lab.helpers import add, add_carrier_trunk

pytestmark = pytest.mark.lab

LONGEST_WAIT = 4  # seconds: the queue's longest-wait threshold
SHORT_ABANDON = 5  # a caller who hangs up sooner is a short abandon, in neither figure (docs/reports.md)


class Wall:
    """The wallboard's event stream, read over HTTP as the page reads it: each message with its arrival."""

    def __init__(self, url: str, token: str):
        self.messages: list[tuple[float, dict]] = []  # (wall clock, message)
        self._response = requests.get(f"{url}/wallboard/stream", headers={"Authorization": f"Bearer {token}"},
                                      stream=True, timeout=(5, 60))
        assert self._response.status_code == 200, self._response.text
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for line in self._response.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    self.messages.append((time.time(), json.loads(line[6:])))
        except (requests.RequestException, AttributeError, ValueError):
            return  # closed by the test

    def mark(self) -> int:
        return len(self.messages)

    def wait(self, check, after: int = 0, timeout: float = 20, what: str = "") -> tuple[int, float, dict]:
        """(index, arrival, message) of the first message from ``after`` on that ``check`` accepts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, (arrived, message) in enumerate(self.messages[after:], start=after):
                if check(message):
                    return i, arrived, message
            time.sleep(0.05)
        raise TimeoutError(f"no {what} on the stream; saw {[m for _, m in self.messages[after:]][-5:]}")

    def alert(self, state: str, kind: str, after: int = 0, timeout: float = 20) -> tuple[int, float, dict]:
        return self.wait(lambda m: m.get("type") == "alert" and m["state"] == state and m["kind"] == kind
                         and m["queue"] == "700", after, timeout, f"{kind} {state}")

    def snapshot(self, check, after: int = 0, timeout: float = 20) -> dict:
        def board(m):
            q = next((q for q in m.get("queues", []) if q["queue"] == "700"), None) if "queues" in m else None
            return q is not None and check(q, m)
        return self.wait(board, after, timeout, "snapshot")[2]

    def close(self) -> None:
        self._response.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, rootfs):
    from lab.carrier import Phone, start_carrier
    from lab.pbx import start_pbx

    install, instance = start_pbx(tmp_path_factory.mktemp("sla") / "pbx-home", rootfs)
    pbx = Pbx(install, instance)
    carrier = server = collecting = None
    stop = threading.Event()
    try:
        add("extension", number="201", name="Agent 201")
        # no permanent member: agent 201 logs in and out as agents do
        add("queue", number="700", name="Support", strategy="ringall", agent_ring_seconds=10, wrapup_seconds=0,
            announce_position=False, service_level_seconds=20, service_level_target=80,
            alert_longest_wait_seconds=LONGEST_WAIT, alert_callers_waiting=1, alert_min_agents=1)
        add("inbound_route", name="support-line", did="5553700", destination="queue:700")
        pbx.apply()
        carrier = start_carrier(instance.sip_port, [Phone(e.number, e.password)
                                                    for e in service.list_objects("extension")], rootfs)
        carrier.wait_registered(["201"])
        add_carrier_trunk(carrier)
        pbx.apply()
        wait_reachable(pbx, ["201"])
        carrier.set_behaviour("201", "answer", hold=2, ring=0)
        with pbx.install.connect_ami(user=ami_users.CONSOLE) as ami:
            agents.login(ami, "test", "201", "700")
        sources = collector.Sources.in_log_dir(install.asterisk_log_dir)
        collecting = threading.Thread(target=collector.run, args=(sources, stop), daemon=True)  # as the service
        collecting.start()
        accounts.create_user("sup", "Long-enough-pass-1", "supervisor", actor="test")
        token = apitokens.create_token("sup", "wall screen", "test")
        server = make_server(create_app(install), "127.0.0.1", 0)
        server.start()
        yield pbx, carrier, server.url, token
    finally:
        stop.set()
        if collecting is not None:
            collecting.join(5)
        if server is not None:
            server.close()  # waits (about 10 s) for the streams' workers to notice their readers left
        if carrier is not None:
            carrier.stop()
        instance.stop()
        close_database()


def _agent(pbx, action: str, **extra) -> None:
    with pbx.install.connect_ami(user=ami_users.CONSOLE) as ami:
        if action == "pause":
            agents.set_paused(ami, "test", "201", extra["paused"], "break" if extra["paused"] else "")
        else:
            getattr(agents, action)(ami, "test", "201", "700")


def test_waiting_callers_open_and_clear_the_wait_alerts_and_the_board_agrees_with_the_report(lab):
    pbx, carrier, url, token = lab
    wall = Wall(url, token)
    try:
        wall.snapshot(lambda q, m: q["agents"] and not m["alerts"])  # agent 201 logged in, nothing in breach
        _agent(pbx, "pause", paused=True)  # the callers wait: the agent is on a break (still logged in)
        wall.snapshot(lambda q, m: q["agents"][0]["state"] == "paused")

        mark = carrier.mark()
        placed = time.time()
        carrier.call("telco", "5553700", tag="first", hold=40)  # waits until the agent takes it
        wall.snapshot(lambda q, m: q["waiting"] == 1)
        seen = wall.mark()
        second = time.time()
        carrier.call("telco", "5553700", tag="second", hold=SHORT_ABANDON + 1)  # hangs up while waiting
        _, second_seen, started = wall.alert("started", "callers_waiting", seen)
        assert (started["name"], started["value"], started["threshold"]) == ("Support", 2, 1), started

        # the first caller crosses the wait threshold: no Asterisk event marks that moment
        _, arrived, long_wait = wall.alert("started", "longest_wait", seen)
        assert placed + LONGEST_WAIT - 1 <= long_wait["started"] <= arrived, (placed, long_wait, arrived)
        assert arrived - long_wait["started"] < 3, "the board looks again as the caller crosses the threshold"
        assert long_wait["threshold"] == LONGEST_WAIT and long_wait["value"] > LONGEST_WAIT
        print(f"\ncallers-waiting alert on the stream {1000 * (second_seen - second):.0f} ms after the second call "
              f"was placed; longest-wait alert {1000 * (arrived - long_wait['started']):.0f} ms after the crossing")

        # the second caller gives up: one caller waits, the alert clears with its start
        carrier.wait_for("CallerHangup", lambda e: e.get("Tag") == "second", since=mark, timeout=20)
        _, _, fewer = wall.alert("cleared", "callers_waiting", seen)
        assert fewer["started"] == started["started"] and fewer["cleared"] > started["started"]
        snap = wall.snapshot(lambda q, m: q["waiting"] == 1, wall.mark() - 1)
        assert [a["kind"] for a in snap["alerts"] if a["queue"] == "700" and a["kind"] != "service_level"] == [
            "longest_wait"]

        # the agent is back: the first caller is answered, nobody waits, the wait alert clears
        _agent(pbx, "pause", paused=False)
        carrier.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "201", since=mark, timeout=20)
        _, _, answered = wall.alert("cleared", "longest_wait", seen)
        assert answered["started"] == long_wait["started"]
        carrier.wait_for("CallerHangup", lambda e: e.get("Tag") == "first", since=mark, timeout=30)

        # Once the collector has read both calls, the board's figures are the report's for them: one answered,
        # one abandoned, service level 50 % (below the 80 % target: that alert is open now).
        board = wall.snapshot(lambda q, m: (q["answered"], q["abandoned"]) == (1, 1), seen, timeout=30)
        board_queue = next(q for q in board["queues"] if q["queue"] == "700")
        start = reports.today_start()
        (kpi,) = reports.queue_report(start, start + timedelta(days=1))
        assert (board_queue["answered"], board_queue["abandoned"], board_queue["service_level"]) == (
            kpi.answered, kpi.abandoned, kpi.service_level_pct) == (1, 1, 50.0)
        level = next(a for a in board["alerts"] if a["kind"] == "service_level")
        assert (level["queue"], level["value"], level["threshold"]) == ("700", 50.0, 80)  # the level now
        # every breach is kept with its start and end
        rows = [(r.kind, r.started, r.cleared) for r in SlaBreach.select().where(SlaBreach.queue == "700")]
        assert ("callers_waiting", started["started"], fewer["cleared"]) in rows, rows
        assert ("longest_wait", long_wait["started"], answered["cleared"]) in rows, rows
        assert {k for k, _, c in rows if c is None} == {"service_level"}, rows
    finally:
        wall.close()


def test_an_agent_logging_out_opens_the_agents_alert_a_reload_shows_its_start_and_logging_in_clears_it(lab):
    pbx, carrier, url, token = lab
    wall = Wall(url, token)
    try:
        wall.snapshot(lambda q, m: len(q["agents"]) == 1)
        seen = wall.mark()
        logout = time.time()
        _agent(pbx, "logout")
        _, arrived, started = wall.alert("started", "min_agents", seen)
        assert (started["value"], started["threshold"]) == (0, 1)
        assert logout <= started["started"] <= arrived < logout + 3
        print(f"\nagents alert on the stream {1000 * (arrived - logout):.0f} ms after the logout")

        # a wallboard opened now (a reload) lists the breach with the time it started
        reloaded = Wall(url, token)
        try:
            first = reloaded.wait(lambda m: "alerts" in m, timeout=10)[2]
            (shown,) = [a for a in first["alerts"] if a["kind"] == "min_agents"]
            assert (shown["name"], shown["started"]) == ("Support", started["started"])
        finally:
            reloaded.close()

        _agent(pbx, "login")
        _, _, cleared = wall.alert("cleared", "min_agents", seen)
        assert cleared["started"] == started["started"]
        snap = wall.snapshot(lambda q, m: len(q["agents"]) == 1, seen)
        assert not [a for a in snap["alerts"] if a["kind"] == "min_agents"]
    finally:
        wall.close()
