"""A call-center site under SIPp load: what the capacity benchmark and the SIPp smoke test share.

The site: agents (extensions ``2001``…) as the carrier's phones, which answer at once and hang up after
``hold`` seconds; queue 700 (recording always, no wrap-up) with all of them; IVR ``front`` whose key 1
leads to the queue (no key: the caller is hung up, so a DTMF lost under load is a failed call); DID
5553900 on a trunk ``load`` whose far end is SIPp.  ``place`` runs one SIPp load; ``account`` finds each
call SIPp placed in what the carrier's phones saw (answered, and their RTP statistics), the call records
and the queue report, after the collector has read them.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from appliance.site import service
from lab import instance as lab
from lab import sipp
from lab.carrier import Carrier, Phone, start_carrier
from lab.pbx import start_pbx

DID = "5553900"
QUEUE = "700"


def _add(kind: str, **data) -> None:
    service.save_object(kind, data, user="lab", create=True)


@dataclass
class LoadLab:
    install: object
    pbx: lab.AsteriskInstance
    carrier: Carrier
    agents: list[str]
    folder: Path
    sipp_port: int
    media_port: int
    scenario: Path
    runs: int = 0
    qos: dict[str, dict] = field(default_factory=dict)  # caller number -> the agent phone's RTP statistics

    def stop(self) -> None:
        try:
            self.carrier.stop()
        finally:
            self.pbx.stop()

    def place(self, calls: int, concurrent: int, rate: float, time_limit_s: float) -> tuple[int, sipp.Result]:
        """One SIPp run (its run number, for ``account``, and SIPp's own counts)."""
        self.runs += 1
        result = sipp.run(self.scenario, self.pbx.sip_port, self.sipp_port, self.media_port, DID, calls,
                          concurrent, rate, self.runs, time_limit_s)
        return self.runs, result

    def account(self, run: int, created: int, timeout: float = 60) -> dict:
        """Each of the ``created`` calls of ``run``: answered by an agent (with the agent phone's RTP
        statistics), its rows in the call records and the queue report (the collector run until every
        call is in both, or ``timeout``)."""
        from appliance.callcenter import collector
        from appliance.model.models import CallRecord, QueueCall
        callers = [f"8{run:02d}0{n}" for n in range(1, created + 1)]
        sources = collector.Sources.in_log_dir(self.install.asterisk_log_dir)
        deadline = time.monotonic() + timeout
        while True:
            collector.collect_once(sources)
            in_queue = {c: QueueCall.select().where(QueueCall.caller.endswith(c), QueueCall.queue == QUEUE).count()
                        for c in callers}
            contacts = {c: len({r.linkedid for r in CallRecord.select(CallRecord.linkedid)
                                .where(CallRecord.src.endswith(c))}) for c in callers}
            complete = all(QueueCall.select().where(QueueCall.caller.endswith(c), QueueCall.outcome == "waiting")
                           .count() == 0 for c in callers)
            # the agents' statistics too: their AMI events may reach this process after SIPp has ended
            measured = self.measured()
            found = all(c in measured for c in callers) and all(in_queue.values()) and all(contacts.values())
            if (complete and found) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        measured = self.measured()
        qos = {c: parse_qos(measured[c]) if c in measured else None for c in callers}
        reached = {e.get("CallerID", "") for e in self.carrier.events if e.get("UserEvent") == "CarrierAnswered"}
        stays = {c: [(q.outcome, q.agent, q.wait_seconds, q.talk_seconds, q.ended_by) for q in
                     QueueCall.select().where(QueueCall.caller.endswith(c), QueueCall.queue == QUEUE)]
                 for c in callers}
        return {"callers": callers, "queue_rows": in_queue, "record_contacts": contacts,
                "answered": {c: q is not None for c, q in qos.items()}, "qos": qos,
                # the calls no agent finished (no statistics at the end of the agent's talk): what happened
                "unfinished": {c: {"agent_answered": any(r.endswith(c) for r in reached), "queue": stays[c]}
                               for c, q in qos.items() if q is None}}

    def recordings(self) -> int:
        """The queue's call recordings on disk (one per answered call: the queue records always)."""
        return sum(1 for _ in self.install.recordings_dir.rglob(f"*-queue{QUEUE}.*"))

    def measured(self) -> dict[str, str]:
        """Caller ID -> the agent phone's RTP statistics (``CHANNEL(rtcp,all)``) of every finished call."""
        return {e.get("CallerID", ""): e.get("Qos", "") for e in list(self.carrier.events)
                if e.get("UserEvent") == "CarrierQos"}


def parse_qos(text: str) -> dict:
    """Asterisk's ``CHANNEL(rtcp,all)`` (``ssrc=…;lp=…;rxjitter=…;…``) as numbers."""
    values = {}
    for part in text.split(";"):
        key, _, value = part.partition("=")
        try:
            values[key.strip()] = float(value)
        except ValueError:
            continue
    return values


def _set_behaviour(carrier: Carrier, agents: list[str], hold: int) -> None:
    """Every agent phone answers at once and hangs up after ``hold`` s (AMI DBPut: quicker than the CLI
    for a hundred phones)."""
    ami = carrier._ami
    assert ami is not None
    for number in agents:
        for family, value in (("behaviour", "answer"), ("ring", "0"), ("hold", str(hold))):
            ami.action("DBPut", Family=family, Key=number, Val=value)


def wait_agents_ready(pbx: lab.AsteriskInstance, count: int, timeout: float = 60) -> None:
    """Until queue 700 offers calls to ``count`` agents (their phones registered and qualified)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = pbx.cli(f"queue show {QUEUE}")
        if shown.count("Not in use") >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"queue {QUEUE} has not {count} agents ready after {timeout} s:\n{shown}")
        time.sleep(0.5)


def _widen_carrier_rtp(carrier: Carrier, start: int, end: int) -> None:
    (carrier.instance.etc_dir / "rtp.conf").write_text(f"[general]\nrtpstart = {start}\nrtpend = {end}\n")
    carrier.instance.cli("module reload res_rtp_asterisk.so")


def start(folder: Path, rootfs: Path | None, agents: int, hold: int, talk_seconds: float,
          rtp_ports: tuple[int, int] | None = None) -> LoadLab:
    """The site, started; ``rtp_ports``: (first, last) of a wider RTP range than the lab's 99 ports,
    split between the pbx and the carrier (each call takes two RTP ports at the pbx, one at the carrier)."""
    install, pbx = start_pbx(folder / "pbx-home", rootfs)
    carrier = None
    try:
        if rtp_ports is not None:
            first, last = rtp_ports
            middle = first + (last - first) * 2 // 3
            service.save_settings({"rtp_start": first, "rtp_end": middle}, user="lab")
        numbers = [str(2001 + i) for i in range(agents)]
        for number in numbers:
            _add("extension", number=number, name=f"Agent {number}")
        _add("queue", number=QUEUE, name="Load", strategy="leastrecent", members=[{"extension": n} for n in numbers],
             wrapup_seconds=0, agent_ring_seconds=15, max_wait_seconds=120, announce_position=False,
             recording="always")
        _add("ivr", name="front", greeting="beep", timeout_seconds=5, timeout_retries=0, invalid_retries=0,
             options=[{"digit": "1", "destination": f"queue:{QUEUE}"}])
        _add("inbound_route", name="load", did=DID, destination="ivr:front")
        loadlab_apply(install)
        carrier = start_carrier(pbx.sip_port, [Phone(e.number, e.password)
                                               for e in service.list_objects("extension")], rootfs, [])
        if rtp_ports is not None:
            _widen_carrier_rtp(carrier, middle + 2, rtp_ports[1])
        sipp_port = lab.free_port(socket.SOCK_DGRAM)
        media_port = lab.free_port(socket.SOCK_DGRAM)
        _add("trunk", name="load", host="127.0.0.1", port=sipp_port, match=[f"127.0.0.1:{sipp_port}"],
             qualify_seconds=0, codecs=["alaw", "ulaw"])
        loadlab_apply(install)
        _set_behaviour(carrier, numbers, hold)
        carrier.wait_registered(numbers, timeout=60)
        wait_agents_ready(pbx, agents)
        scenario = sipp.scenario(folder / "sipp", talk_seconds)
        return LoadLab(install, pbx, carrier, numbers, folder, sipp_port, media_port, scenario)
    except BaseException:
        if carrier is not None:
            carrier.stop()
        pbx.stop()
        raise


def loadlab_apply(install) -> None:
    from appliance.provisioning import apply
    result = apply.apply(service.snapshot(), install.facts(), install.target(), user="lab")
    if not result.ok:
        raise RuntimeError(f"apply failed: {result.error}")


class Sampler:
    """Samples a process's resident memory every ``every`` seconds in a thread, keeping the highest."""

    def __init__(self, pid: int, every: float = 1.0) -> None:
        self.pid, self.every, self.peak_kib = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return int(next((ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:")), "0"))


def asterisk_pid(pbx: lab.AsteriskInstance) -> int:
    """The Asterisk process of a lab instance (started under unshare and chroot, in its session)."""
    from lab.cpu_quota import session_pids
    assert pbx.process is not None
    for pid in session_pids(pbx.process.pid):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "asterisk":
                return pid
        except OSError:
            continue
    raise RuntimeError("the lab's Asterisk process was not found")
