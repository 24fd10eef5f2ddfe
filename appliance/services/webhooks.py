"""``linebox webhooks``: the webhook service (``linebox-webhooks.service``, ``Type=notify``).

While the site has a ``webhook_url``, it follows the queue calls' agent events over AMI (its own user,
``linebox-webhooks``: the ``agent`` read class and no action class), logs each as a call event
(``appliance.callcenter.webhooks.record_pop``), and sends the delivery log's due rows (``deliver_due``) in
order, with retries.  Without a URL it holds no AMI session and sends nothing.  It is the only process that
talks to the receiver: a slow or dead receiver delays no call, no collector run and no console request.

Events are queued by pyst2's reader thread and written by a worker thread of their own, so a busy database
never stalls the AMI reader; ``WATCHDOG=1`` follows each round of the main loop.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time

from appliance.asterisk import ami_users
from appliance.asterisk.ami import Ami, AmiError
from appliance.callcenter import webhooks
from appliance.callcenter.live import POP_EVENTS, PopTracker, screen_pop
from appliance.install import Install
from appliance.model.database import database
from appliance.services import notify

log = logging.getLogger("linebox.webhooks")

ROUND_SECONDS = 0.5  # how often the delivery log is looked at for due rows
CHECK_SECONDS = 10.0  # how often the AMI session is checked (and the setting read again)
AMI_TIMEOUT = 5


class Follower:
    """The AMI session that turns agents' call events into delivery-log rows."""

    def __init__(self, install: Install) -> None:
        self.install = install
        self.events: queue.Queue[dict | None] = queue.Queue(maxsize=10000)
        self.ami: Ami | None = None
        self.worker = threading.Thread(target=self._work, name="webhooks-events", daemon=True)
        self.recorded = 0
        self.pops = PopTracker()

    def _on_event(self, event, _manager) -> None:
        if event.headers.get("Event") in POP_EVENTS:
            with contextlib.suppress(queue.Full):  # a flood beyond the database's pace drops events
                self.events.put_nowait(dict(event.headers))

    def _work(self) -> None:
        while True:
            headers = self.events.get()
            if headers is None:
                return
            pop = screen_pop(headers)
            if pop is None:
                continue
            pop = self.pops.complete(pop)
            try:
                with database.connection_context():
                    if webhooks.record_pop(pop) is not None:
                        self.recorded += 1
            except Exception:  # noqa: BLE001 - one event that cannot be written must not end the service
                log.exception("webhooks: could not log a %s event", pop.get("type"))

    def connect(self) -> bool:
        if self.ami is not None:
            return True
        try:
            ami = self.install.connect_ami(timeout=AMI_TIMEOUT, user=ami_users.WEBHOOKS)
            ami.connect()
            ami.on_event("*", self._on_event)
        except AmiError as error:
            log.warning("webhooks: AMI: %s; retrying", error)
            return False
        self.ami = ami
        return True

    def alive(self) -> bool:
        if self.ami is None:
            return False
        try:
            self.ami.action("Ping")
        except AmiError:
            self.disconnect()
            return False
        return True

    def disconnect(self) -> None:
        if self.ami is not None:
            self.ami.close()
            self.ami = None

    def close(self) -> None:
        self.disconnect()
        self.events.put(None)


def run(install: Install, stop: threading.Event, retry_seconds: tuple[float, ...] = webhooks.RETRY_SECONDS,
        ready: threading.Event | None = None) -> None:
    """Follow, log and deliver until ``stop`` is set; the database must be open (its connection per thread)."""
    follower = Follower(install)
    follower.worker.start()
    watchdog_every = notify.watchdog_interval()
    last_ping = last_check = 0.0
    configured = False
    notify.notify("READY=1", "STATUS=starting")
    try:
        while not stop.is_set():
            now = time.monotonic()
            with database.connection_context():
                if now - last_check >= CHECK_SECONDS or (configured and follower.ami is None):
                    last_check = now
                    configured = bool(webhooks.url())
                    if configured:
                        follower.alive() or follower.connect()
                    else:
                        follower.disconnect()  # nothing configured: no AMI session, nothing sent
                    webhooks.prune()
                    if ready is not None and (follower.ami is not None or not configured):
                        ready.set()
                try:
                    webhooks.deliver_due(retry_seconds=retry_seconds)
                except Exception:  # noqa: BLE001 - the next round tries again
                    log.exception("webhooks: delivery round failed")
            if watchdog_every and now - last_ping >= watchdog_every:
                notify.notify("WATCHDOG=1")
                last_ping = now
            notify.notify("STATUS=" + ("following calls" if follower.ami is not None else
                                       "waiting for AMI" if configured else "off: no webhook_url configured"))
            stop.wait(ROUND_SECONDS)
    finally:
        notify.notify("STOPPING=1")
        follower.close()


def main(home) -> int:
    """``linebox webhooks``: the service's entry point; the exit status."""
    from appliance.services import journal, serving
    journal.setup("linebox-webhooks")
    stop = serving.stop_event()
    try:
        install = Install.load(home)
        install.open()
    except (OSError, ValueError, RuntimeError) as error:
        return serving.start_failed(log, "webhook service", error)
    run(install, stop)
    return 0
