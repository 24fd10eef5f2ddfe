"""``linebox collect``: the call-center event collector as a systemd service (``linebox-collector.service``,
``Type=notify``).

The copying itself (queue_log and CDR into Linebox's database, idempotent) is
``appliance.callcenter.collector``; this module is the service's life around it, kept here beside the
other services so the click command stays a thin call: ``READY=1`` with the log folder it follows, a
round every half second (at once while a backlog remains: a round reads one bounded chunk of it),
auto-pause of agents who let calls ring out once the rounds that read new queue_log lines have caught up
(``appliance.callcenter.autopause``), a qualify of every phone when Asterisk has started again
(``qualify_phones``), ``WATCHDOG=1`` after a round when half ``WatchdogSec`` has passed (a finished
round, or one the database refused, proves the loop alive, and a chunk of a backlog takes seconds, not
the whole backlog), and ``STOPPING=1`` once SIGTERM or SIGINT ends the loop.

It stays small: it runs as its own process, so it imports neither the site's schemas nor the web
console (tests/agi/test_footprint.py).  Messages go to the caller's ``say``/``warn`` (the command's
stdout and stderr, which systemd puts in the journal).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

from appliance.asterisk.ami import AmiError, AmiTimeout
from appliance.callcenter import autopause, collector
from appliance.install import Install
from appliance.model.engine import shown_url
from appliance.model.models import Extension
from appliance.services import notify

AMI_TIMEOUT = 5
QUALIFY_RETRY_SECONDS = 5

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


def qualify_phones(install: Install, say: Say, warn: Say) -> bool:
    """Ask a freshly (re)started Asterisk to qualify every extension's phone now; True when done.

    Asterisk restores the phones' registrations at start but qualifies each at a random moment within
    its ``qualify_frequency`` (a minute): until then a queue counts those agents unavailable and rings
    nobody, so after a crash callers would wait up to a minute with agents idle.  A phone with no
    registration is skipped (Asterisk answers an error for it)."""
    numbers = [number for (number,) in Extension.select(Extension.number).tuples()]
    asked = 0
    try:
        with install.connect_ami(timeout=AMI_TIMEOUT, user="linebox-collector") as ami:
            for number in numbers:
                try:
                    ami.action("PJSIPQualify", Endpoint=number)
                    asked += 1
                except AmiTimeout:
                    raise
                except AmiError:
                    continue  # no contact to qualify
    except AmiError as error:
        warn(f"qualify after Asterisk's start skipped, tried again next round: {error}")
        return False
    say(f"Asterisk started: asked it to qualify {asked} registered phone(s), so queues see their agents at once")
    return True


def run(install: Install, say: Say, warn: Say, stop: threading.Event | None = None) -> None:
    """Collect for the open ``install`` until SIGTERM/SIGINT (or ``stop``, when given, is set)."""
    if stop is None:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    watchdog_every = notify.watchdog_interval()
    last_ping = 0.0
    failing = ""
    qualified_start: int | None = None  # the Asterisk start whose phones were qualified
    warned_start: int | None = None
    next_qualify = 0.0
    unchecked = 0  # queue_log lines read since auto-pause last looked
    caught_up = (0, 0)  # a backlog being read: queue_log lines and call records so far
    backlog_since = 0.0  # when that began (0: no backlog)

    def refused(error: Exception) -> None:
        """Said once per kind of trouble, not every few seconds: the journal stays readable."""
        nonlocal failing
        if str(error) != failing:
            failing = str(error)
            warn(f"cannot store call records in {shown_url(install.database_target)}: {error}; nothing is lost: "
                 "Asterisk keeps them in its logs and they are collected once the database can be written again")
        notify.notify(f"STATUS=cannot store call records: {error}")
        alive()

    def alive() -> None:
        nonlocal last_ping
        now = time.monotonic()
        if watchdog_every and now - last_ping >= watchdog_every:
            notify.notify("WATCHDOG=1")  # a round finished, or was refused and will be retried: the loop is alive
            last_ping = now

    def qualify_after_a_start() -> None:
        """After Asterisk (re)started, ask it to qualify the phones so queues see their agents at once."""
        nonlocal qualified_start, warned_start, next_qualify
        started = collector.latest_start()
        if started is not None and started != qualified_start and time.monotonic() >= next_qualify:
            # one warning per start, a new try every few seconds while Asterisk does not answer
            if qualify_phones(install, say, warn if warned_start != started else (lambda _text: None)):
                qualified_start = started
            else:
                warned_start, next_qualify = started, time.monotonic() + QUALIFY_RETRY_SECONDS

    def report_backlog(counts: dict[str, int]) -> None:
        """What systemctl status and the journal show while a backlog is read, and when it is done."""
        nonlocal caught_up, backlog_since
        if counts["more"] or backlog_since:
            caught_up = (caught_up[0] + counts["queue_log"], caught_up[1] + counts["cdr"])
            backlog_since = backlog_since or time.monotonic()
            read = f"{caught_up[0]} queue_log line(s), {caught_up[1]} call record(s)"
            if counts["more"]:
                notify.status(f"catching up on a backlog: {read} read so far")
            else:
                say(f"caught up on a backlog: {read} in {time.monotonic() - backlog_since:.0f} s")
                notify.status(f"collecting from {install.asterisk_log_dir}")
                caught_up, backlog_since = (0, 0), 0.0

    def each_round(counts: dict[str, int]) -> None:
        nonlocal failing, unchecked
        if failing:
            failing = ""
            say(f"storing call records again: read {counts['queue_log']} queue_log line(s), "
                f"{counts['cdr']} call record(s) kept back meanwhile")
            notify.notify(f"STATUS=collecting from {install.asterisk_log_dir}")
        unchecked += counts["queue_log"]
        if unchecked and not counts["more"]:  # not half-way through a backlog, whose misses may be answered later
            pause_missing_agents(install, say, warn)
            unchecked = 0
        report_backlog(counts)
        if not counts["more"]:
            qualify_after_a_start()
        alive()

    notify.notify("READY=1", f"STATUS=collecting from {install.asterisk_log_dir}")
    collector.run(collector.Sources.in_log_dir(install.asterisk_log_dir), stop, on_round=each_round,
                  on_error=refused)
    notify.notify("STOPPING=1")
