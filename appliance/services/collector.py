"""``linebox collect``: the call-center event collector as a systemd service (``linebox-collector.service``,
``Type=notify``).

The copying itself (queue_log and CDR into Linebox's database, idempotent) is
``appliance.callcenter.collector``; this module is the service's life around it, kept here beside the
other services so the click command stays a thin call: ``READY=1`` with the log folder it follows, a
round every half second, auto-pause of agents who let calls ring out after each round that read new
queue_log lines (``appliance.callcenter.autopause``), ``WATCHDOG=1`` after a round when half
``WatchdogSec`` has passed (a finished round proves the loop alive), and ``STOPPING=1`` once SIGTERM or
SIGINT ends the loop.

It stays small: it runs as its own process, so it imports neither the site's schemas nor the web
console (tests/agi/test_footprint.py).  Messages go to the caller's ``say``/``warn`` (the command's
stdout and stderr, which systemd puts in the journal).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

from appliance.asterisk.ami import AmiError
from appliance.callcenter import autopause, collector
from appliance.install import Install
from appliance.services import notify

AMI_TIMEOUT = 5

Say = Callable[[str], None]


def collect_once(install: Install) -> str:
    """One round over the install's Asterisk logs (``linebox collect --once``); what it read, as a line."""
    counts = collector.collect_once(collector.Sources.in_log_dir(install.asterisk_log_dir))
    return f"read {counts['queue_log']} queue_log line(s), {counts['cdr']} call record(s)"


def pause_missing_agents(install: Install, say: Say, warn: Say) -> None:
    """Pause, over AMI, the agents whose misses reached their queue's limit; AMI trouble skips this round."""
    try:
        with install.connect_ami(timeout=AMI_TIMEOUT, user="linebox-collector") as ami:
            for queue, agent, limit in autopause.pause_missing_agents(ami):
                say(f"paused agent {agent} in queue {queue}: missed {limit} calls in a row")
    except AmiError as error:
        warn(f"auto-pause skipped: {error}")


def run(install: Install, say: Say, warn: Say, stop: threading.Event | None = None) -> None:
    """Collect for the open ``install`` until SIGTERM/SIGINT (or ``stop``, when given, is set)."""
    if stop is None:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    watchdog_every = notify.watchdog_interval()
    last_ping = 0.0

    def each_round(counts: dict[str, int]) -> None:
        nonlocal last_ping
        if counts["queue_log"]:
            pause_missing_agents(install, say, warn)
        now = time.monotonic()
        if watchdog_every and now - last_ping >= watchdog_every:
            notify.notify("WATCHDOG=1")  # a round finished: the loop is alive
            last_ping = now

    notify.notify("READY=1", f"STATUS=collecting from {install.asterisk_log_dir}")
    collector.run(collector.Sources.in_log_dir(install.asterisk_log_dir), stop, on_round=each_round)
    notify.notify("STOPPING=1")
