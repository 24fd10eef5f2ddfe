"""Fault drills against the lab's real Asterisk, with the real collector and SQLite: Asterisk killed
(SIGKILL) under calls and queue callers, then started again as its unit would; configurations applied
(and one rolled back) while calls are up."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from contextlib import closing
from datetime import timedelta

import pytest

from appliance.callcenter import collector, reports
from appliance.model.models import CallEvent, CallRecord, QueueCall, QueueEvent
from appliance.services import collector as collector_service
from lab import instance as lab
from tests.lab.helpers import add, live_with_carrier, update

pytestmark = pytest.mark.lab

AGENTS = ("201", "202", "203", "204")


def _rows(db_path, query: str) -> list[tuple]:
    if not db_path.exists():
        return []
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        try:
            return db.execute(query).fetchall()
        except sqlite3.OperationalError:
            return []  # no table yet


def _written(log_dir) -> dict[str, Counter]:
    """What Asterisk wrote in its files: queue_log lines, CDR keys (each with its count), and the CEL keys the
    collector must still hold: those of calls that have not ended since Asterisk's last start (the events of a
    call that ended, or that a restart cut and is recorded, are dropped)."""
    queue_log = log_dir / "queue_log"
    events = collector.parse_events(queue_log.read_text()) if queue_log.exists() else []
    last_start = max((e[0] for e in events if e[4] == "QUEUESTART"), default=0)
    cel = _rows(log_dir / "linebox-cel.db", "SELECT uniqueid, eventtype, eventtime, linkedid FROM cel")
    ended = {linkedid for _u, kind, _t, linkedid in cel if kind == "LINKEDID_END"}
    return {
        "queue_log": Counter(events),
        "cdr": Counter((u, int(n)) for u, n in _rows(log_dir / "linebox-cdr.db", "SELECT uniqueid, sequence FROM cdr")),
        "cel": Counter((u, kind, float(t)) for u, kind, t, linkedid in cel
                       if linkedid not in ended and float(t) >= last_start),
    }


def _stored() -> dict[str, Counter]:
    """What the collector stored: the same keys from Linebox's database (real CDRs only: sequence >= 0)."""
    return {
        "queue_log": Counter(QueueEvent.select(QueueEvent.time, QueueEvent.callid, QueueEvent.queue, QueueEvent.agent,
                                               QueueEvent.event, QueueEvent.data).tuples()),
        "cdr": Counter(CallRecord.select(CallRecord.uniqueid, CallRecord.sequence)
                       .where(CallRecord.sequence >= 0).tuples()),
        "cel": Counter(CallEvent.select(CallEvent.uniqueid, CallEvent.eventtype, CallEvent.eventtime).tuples()),
    }


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what() if callable(what) else what}: not within {timeout:.0f} s")
        time.sleep(0.2)


def _open_answered_calls(log_dir) -> int:
    """Calls whose start and answer Asterisk has written to its CEL file and whose end it has not.  Asterisk
    writes CEL rows a moment after the call does it (another thread): on a busy machine a kill as soon as
    the channels are up would cut calls that never reached the file, which no collector can know of."""
    cel = _rows(log_dir / "linebox-cel.db", "SELECT uniqueid, eventtype, linkedid FROM cel")
    started = {linkedid for uniqueid, kind, linkedid in cel if kind == "CHAN_START" and uniqueid == linkedid}
    answered = {uniqueid for uniqueid, kind, _linkedid in cel if kind == "ANSWER"}
    ended = {linkedid for _u, kind, linkedid in cel if kind == "LINKEDID_END"}
    return len((started & answered) - ended)


def _queue_events(pbx, event: str) -> int:
    path = pbx.instance.log_dir / "queue_log"
    return sum(1 for line in path.read_text().splitlines() if f"|{event}|" in line) if path.exists() else 0


def test_asterisk_killed_under_calls_loses_no_record_and_shows_the_cut_calls(pbx, carrier):
    """SIGKILL with 5 calls up (4 answered queue calls, 1 extension call) and 3 callers waiting in the queue,
    the collector running as its service does; Asterisk started again on the same folders, as systemd
    restarts it.  Every queue_log line, CDR and CEL row Asterisk wrote is in the database exactly once;
    the 8 calls the crash cut are INTERRUPTED records (Asterisk never wrote their CDR), the queue's report
    counts the 7 queue callers cut, and ``linebox diag`` says when Asterisk restarted and how many calls
    it cut.  Calls after the restart are recorded as usual."""
    from tests.lab.test_apply_faults import linebox

    for number in ("100", "101", *AGENTS):
        add("extension", number=number, name=f"Desk {number}")
    add("queue", number="700", name="Support", strategy="ringall", agent_ring_seconds=15, wrapup_seconds=0,
        members=[{"extension": n, "penalty": 0} for n in AGENTS], announce_position=False)
    add("inbound_route", name="support-line", did="5553700", destination="queue:700")
    phones = live_with_carrier(pbx, carrier)
    log_dir = pbx.install.asterisk_log_dir
    stop = threading.Event()
    said: list[str] = []
    collecting = threading.Thread(target=collector_service.run, args=(pbx.install, said.append, said.append, stop),
                                  daemon=True)  # linebox-collector.service's loop, through the whole drill
    collecting.start()
    try:
        # Before the crash: one finished extension call and one finished queue call.
        for number in ("101", *AGENTS):
            phones.set_behaviour(number, "answer", hold=1, ring=0)
        mark = phones.mark()
        phones.call("ph100", "101", tag="done-direct", hold=2)
        phones.call("telco", "5553700", tag="done-queue", hold=2)
        for tag in ("done-direct", "done-queue"):
            phones.wait_for("CallerHangup", lambda e, t=tag: e.get("Tag") == t, since=mark, timeout=20)

        # Five calls up, three callers waiting.
        for number in ("101", *AGENTS):
            phones.set_behaviour(number, "answer", hold=120, ring=0)
        for n in range(len(AGENTS)):  # one at a time: each free agent takes the next caller
            mark = phones.mark()
            phones.call("telco", "5553700", tag=f"talking-{n}", hold=120)
            phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") in AGENTS, since=mark, timeout=20)
        mark = phones.mark()
        phones.call("ph100", "101", tag="talking-direct", hold=120)
        phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "101", since=mark, timeout=20)
        for n in range(3):
            phones.call("telco", "5553700", tag=f"waiting-{n}", hold=120)
        _wait(lambda: _queue_events(pbx, "ENTERQUEUE") == 8, 20, "3 more callers entered the queue")
        # 5 calls of 2 channels, and 3 callers waiting (the agents' phones that lost the race to answer a
        # ring-all caller are gone)
        _wait(lambda: "13 active channels\n8 of 2000 max active calls" in pbx.cli("core show channels count"), 10,
              lambda: f"5 calls up and 3 callers waiting: {pbx.cli('core show channels count')}")

        _wait(lambda: _open_answered_calls(log_dir) == 8, 20,
              lambda: f"the 8 calls up in Asterisk's CEL file: {_open_answered_calls(log_dir)}")
        pbx.instance.process.kill()  # SIGKILL: no CDR, no queue_log line for the calls up
        pbx.instance.process.wait(timeout=30)
        restarted_at = time.time()
        lab.start(pbx.instance)  # as systemd does (Restart=): the same folders, the live configuration

        # After the restart: the queue has its agents at once (the collector service has Asterisk qualify
        # the phones it restored: on its own it takes up to a minute, with agents counted unavailable), and
        # calls are recorded as usual.
        for number in ("101", *AGENTS):
            phones.set_behaviour(number, "answer", hold=1, ring=0)
        _wait(lambda: pbx.cli("queue show 700").count("Not in use") == len(AGENTS), 15,
              "the queue sees its agents again")
        mark = phones.mark()
        phones.call("ph100", "101", tag="after-direct", hold=2)
        phones.call("telco", "5553700", tag="after-queue", hold=4)
        for tag in ("after-direct", "after-queue"):
            phones.wait_for("CallerHangup", lambda e, t=tag: e.get("Tag") == t, since=mark, timeout=25)
        _wait(lambda: _queue_events(pbx, "COMPLETECALLER") + _queue_events(pbx, "COMPLETEAGENT") == 2, 15,
              "the call after the restart completed in the queue_log")
        _wait(lambda: len(_rows(log_dir / "linebox-cdr.db", "SELECT 1 FROM cdr WHERE disposition = 'ANSWERED'")) == 4,
              15, "the CDRs of the 4 calls that ended (2 before the crash, 2 after)")

        def caught_up() -> bool:
            written = _written(log_dir)
            return _stored() == {k: Counter(set(v)) for k, v in written.items()} and \
                CallRecord.select().where(CallRecord.disposition == "INTERRUPTED").count() == 8
        def behind() -> str:
            written, stored = _written(log_dir), _stored()
            return "the collector is behind: " + "; ".join(
                f"{k}: not stored {sorted(set(written[k]) - set(stored[k]))[:3]}, extra "
                f"{sorted(set(stored[k]) - set(written[k]))[:3]}" for k in written) + \
                f"; {CallRecord.select().where(CallRecord.disposition == 'INTERRUPTED').count()} interrupted"
        _wait(caught_up, 20, behind)
    finally:
        stop.set()
        collecting.join(10)

    # Exactly once: every line and row Asterisk wrote is stored once (no duplicate lines in its files either).
    written, stored = _written(log_dir), _stored()
    for source in ("queue_log", "cdr", "cel"):
        assert stored[source] == written[source], source
        assert max(stored[source].values(), default=1) == 1, source
    assert len(written["cdr"]) >= 4  # the finished calls' CDRs, before and after the crash
    assert sum(1 for e in written["queue_log"] if e[4] == "QUEUESTART") == 2  # the first start and the restart

    # The 8 calls the crash cut: one INTERRUPTED record each, ending at the restart.
    cut = list(CallRecord.select().where(CallRecord.disposition == "INTERRUPTED").order_by(CallRecord.start))
    assert len(cut) == 8
    assert sorted((r.src, r.dst) for r in cut) == sorted([("+15550001111", "5553700")] * 7 + [("100", "101")])
    assert len({r.linkedid for r in cut}) == 8 and all(r.sequence == -1 for r in cut)
    assert all(r.answer for r in cut), "every cut call was answered (by an agent, the phone, or the queue)"
    assert all(r.end == cut[0].end for r in cut)
    restart = time.mktime(time.strptime(cut[0].end, "%Y-%m-%d %H:%M:%S"))
    assert restarted_at - 2 <= restart <= restarted_at + 30

    # The queue: 4 answered calls cut while talking, 3 callers cut while waiting, 2 calls completed.
    queue_calls = list(QueueCall.select())
    assert Counter(c.outcome for c in queue_calls if c.ended_by == "restart") == {"answered": 4, "interrupted": 3}
    completed = [(c.outcome, c.ended_by) for c in queue_calls if c.ended_by != "restart"]
    assert len(completed) == 2 and all(o == "answered" and e in ("caller", "agent") for o, e in completed), completed
    today = reports.today_start()
    (kpi,) = reports.queue_report(today, today + timedelta(days=1))
    assert (kpi.offered, kpi.answered, kpi.interrupted, kpi.abandoned) == (9, 6, 7, 0)
    table = linebox(pbx.install.home, "report")
    assert table.returncode == 0 and table.stdout.splitlines()[1].split()[-1] == "7", table.stdout

    listed = linebox(pbx.install.home, "calls", "--today", "-n", "100")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("INTERRUPTED") == 8, listed.stdout
    diag = linebox(pbx.install.home, "diag")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(restart))
    assert f"WARN Restart   Asterisk restarted at {when}, 8 call(s) interrupted" in diag.stdout, diag.stdout


def _longest_silence(path, after: float = 1.0) -> tuple[float, float]:
    """(seconds of sound, longest silence between the first and the last sound) in a 16-bit mono WAV,
    in 100 ms windows from ``after`` on: a call whose audio stopped, even for a moment, shows a gap."""
    import wave

    with wave.open(str(path)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    samples = memoryview(frames).cast("h")
    step = rate // 10
    loud = [i for i in range(int(after * 10), len(samples) // step)
            if max(abs(s) for s in samples[i * step:(i + 1) * step]) > 500]
    gaps = [b - a - 1 for a, b in zip(loud, loud[1:], strict=False)]
    return len(loud) / 10, max(gaps, default=0) / 10


def test_calls_up_survive_an_apply_and_a_rejected_one(pbx, carrier):
    """An extension call and an answered queue call are up while a new configuration is applied (every
    reloaded module: phones, dialplan, queues) and then one Asterisk rejects (rolled back, reloaded
    again): both calls stay bridged with their audio flowing without a gap, end when their callers hang
    up, and their records (CDR, queue_log, the derived queue call) are those of a normal call."""
    from tests.lab.test_apply_faults import linebox

    for number in ("100", "101", "201"):
        add("extension", number=number, name=f"Desk {number}")
    add("queue", number="700", name="Support", members=[{"extension": "201", "penalty": 0}],
        announce_position=False, wrapup_seconds=0)
    add("inbound_route", name="support-line", did="5553700", destination="queue:700")
    phones = live_with_carrier(pbx, carrier)
    for number in ("101", "201"):
        phones.set_behaviour(number, "answer", hold=120, ring=0)  # the callers hang up first
    mark = phones.mark()
    phones.call("ph100", "101", tag="direct", hold=120, record=True)
    phones.call("telco", "5553700", tag="queued", hold=120, record=True)
    for exten in ("101", "201"):
        phones.wait_for("CarrierAnswered", lambda e, x=exten: e.get("Exten") == x, since=mark, timeout=20)
    answered = time.monotonic()

    def bridged() -> str:
        return pbx.cli("bridge show all")

    assert bridged().count("simple_bridge") == 2, bridged()
    target = pbx.install.target()

    # A good configuration: a new phone, a queue setting, a route (pjsip, extensions and queues reloaded).  The
    # phone has a free option, so it is written in pjsip.conf (not as rows): res_pjsip is reloaded under the calls.
    add("extension", number="102", name="Desk 102", options={"dtmf_mode": "inband"})
    update("queue", "700", wrapup_seconds=5)
    add("inbound_route", name="sales-line", did="5553800", destination="extension:102")
    applied = pbx.apply()
    assert {"pjsip.conf", "extensions.conf", "queues.conf"} <= set(applied.changed), applied.changed
    assert "Endpoint:  102" in pbx.cli("pjsip show endpoints")
    assert bridged().count("simple_bridge") == 2, bridged()

    # One Asterisk rejects: verify fails, the previous generation is reloaded.
    update("extension", "101", options={"dtmf_mode": "bogus"})
    rejected = pbx.apply(expect_ok=False)
    assert not rejected.ok and rejected.rolled_back and "dtmf_mode=bogus" in rejected.error, rejected.error
    assert target.live_generation() == target.loaded_generation()
    assert bridged().count("simple_bridge") == 2, bridged()
    assert "2 of 2000 max active calls" in pbx.cli("core show channels count")

    # The callers hang up (a BYE from their side); the audio flowed through both applies without a gap.
    talked = time.monotonic() - answered
    for line in phones.instance.cli("core show channels concise").splitlines():
        channel, context, *_ = [*line.split("!"), ""]
        if context == "caller":  # the carrier's side of the calls it placed
            phones.instance.cli(f"channel request hangup {channel}")
    for tag in ("direct", "queued"):
        phones.wait_for("CallerHangup", lambda e, t=tag: e.get("Tag") == t, since=mark, timeout=15)
        heard, gap = _longest_silence(phones.heard(tag))
        assert heard >= talked - 2 and gap <= 0.5, f"{tag}: {heard:.1f} s of tone in {talked:.1f} s, gap {gap:.1f} s"

    # Their records are those of normal calls.
    sources = collector.Sources.in_log_dir(pbx.install.asterisk_log_dir)

    def recorded() -> list[CallRecord]:
        """The two calls' CDRs, once the queue call's end is collected too (Asterisk writes its CDR and
        its queue_log line in either order)."""
        collector.collect_once(sources)
        answered = [r for r in CallRecord.select() if r.disposition == "ANSWERED"]
        ended = QueueCall.select().where(QueueCall.ended_by != "").exists()
        return answered if len(answered) == 2 and ended else []
    records = _wait(recorded, 15, "the two calls' CDRs and the queue call's end")
    assert sorted((r.src, r.dst) for r in records) == [("+15550001111", "700"), ("100", "101")]
    assert all(r.billsec >= talked - 2 for r in records), [(r.src, r.billsec, talked) for r in records]
    assert not CallRecord.select().where(CallRecord.disposition == collector.INTERRUPTED).exists()
    (queued,) = QueueCall.select()
    assert (queued.outcome, queued.agent, queued.ended_by) == ("answered", "201", "caller")
    assert queued.talk_seconds >= talked - 2
    assert linebox(pbx.install.home, "diag").stdout.count("Restart") == 0


def test_a_box_upgraded_from_before_cel_loads_its_module_at_the_first_apply(pbx):
    """A box whose live generation predates the CEL file (its modules.conf kept cel_sqlite3_custom
    unloaded): the first apply after the upgrade loads the module, so CEL is written from then on, and
    does not fail on Asterisk's "no such module" for a reload."""
    pbx.cli("module unload cel_sqlite3_custom.so")
    assert "0 modules loaded" in pbx.cli("module show like cel_sqlite3_custom")
    target = pbx.install.target()
    (target.live_generation() / "cel_sqlite3_custom.conf").unlink()  # written before Linebox kept CEL
    add("extension", number="100", name="Desk 100")
    result = pbx.apply()
    assert "cel_sqlite3_custom.conf" in result.changed
    assert "1 modules loaded" in pbx.cli("module show like cel_sqlite3_custom")
