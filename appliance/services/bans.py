"""``linebox bans watch``: the ban service (``linebox-bans.service``, ``Type=notify``, ``CAP_NET_ADMIN``).

It listens to Asterisk's security events over AMI (the ``security`` read class) and hands every failure
to ``appliance.security.bans.record_failure``, which bans a source after too many: structured events
name the source address, the service and the account, so no log line is parsed and a change of
Asterisk's log format cannot blind it.  Events are queued and handled on a worker thread, so a flood
never stalls pyst2's reader.  Every second it also lets ``sync_firewall`` expire bans and make the
firewall's sets agree with the database (after a firewall reload, or an unban made from the console,
which cannot touch nftables itself).  When AMI goes away it reconnects; ``WATCHDOG=1`` follows each
round of the loop.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
import time
from collections.abc import Callable

from appliance.asterisk.ami import Ami, AmiError
from appliance.install import Install
from appliance.security import bans, firewall
from appliance.services import notify

# Asterisk's security events (security_events.h) that mean "someone tried and failed"; ChallengeSent,
# SuccessfulAuth and the like are not failures.  InvalidAccountID is what scanning unknown accounts
# (INVITE, REGISTER, OPTIONS to users that do not exist) produces.
FAILURES = ("InvalidAccountID", "ChallengeResponseFailed", "InvalidPassword", "FailedACL", "InvalidTransport",
            "UnexpectedAddress", "AuthMethodNotAllowed", "RequestNotAllowed", "RequestNotSupported")
SYNC_EVERY = 1.0  # how often the database is looked at for bans made or lifted elsewhere (console, CLI)
FULL_SYNC_EVERY = 10.0  # how often the firewall's sets are read back anyway (a firewall reload empties them)
AMI_TIMEOUT = 5

Say = Callable[[str], None]


def source_of(remote: str) -> str | None:
    """The address in a security event's ``RemoteAddress`` (``IPV4/UDP/192.0.2.7/5060``,
    ``IPV6/UDP/[2001:db8::7]/5060``)."""
    parts = remote.split("/")
    return parts[2].strip("[]") if len(parts) >= 4 and parts[0] in ("IPV4", "IPV6") else None


class Watcher:
    """The events → failures → bans pipeline, with its AMI link; ``say`` reports each ban."""

    def __init__(self, install: Install, say: Say, warn: Say) -> None:
        self.install, self.say, self.warn = install, say, warn
        self.events: queue.Queue[dict | None] = queue.Queue(maxsize=10000)
        self.ami: Ami | None = None
        self.worker = threading.Thread(target=self._work, name="bans-worker", daemon=True)

    def _on_event(self, event, _manager) -> None:
        if event.headers.get("Event") in FAILURES:
            # a flood beyond what the database keeps up with drops events: the next ones still count
            with contextlib.suppress(queue.Full):
                self.events.put_nowait(dict(event.headers))

    def _work(self) -> None:
        while True:
            event = self.events.get()
            if event is None:
                return
            source = source_of(event.get("RemoteAddress", ""))
            if source is None:
                continue
            try:
                banned = bans.record_failure(source, event.get("Event", "failure"),
                                             service=event.get("Service", "?"), account=event.get("AccountID", ""))
            except Exception as error:  # noqa: BLE001 - one bad event must not end the service
                self.warn(f"could not count a failure from {source}: {error}")
                continue
            if banned is not None:
                self.say(f"banned {banned.source} until {banned.until:%Y-%m-%d %H:%M:%S} UTC: {banned.reason}")

    def connect(self) -> bool:
        try:
            ami = self.install.connect_ami(timeout=AMI_TIMEOUT, user="linebox-bans")  # security events only
            ami.connect()
            ami.on_event("*", self._on_event)
            # only the security class on this session: a busy box's call events would delay the failures
            ami.action("Events", EventMask="security")
        except AmiError as error:
            self.warn(f"AMI: {error}; retrying")
            return False
        self.ami = ami
        return True

    def alive(self) -> bool:
        if self.ami is None:
            return False
        try:
            self.ami.action("Ping")
        except AmiError:
            self.ami.close()
            self.ami = None
            return False
        return True

    def close(self) -> None:
        if self.ami is not None:
            self.ami.close()
        self.events.put(None)


def run(install: Install, say: Say, warn: Say, stop: threading.Event | None = None) -> None:
    """Watch and ban until SIGTERM/SIGINT (or ``stop``, when given, is set)."""
    if stop is None:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    watcher = Watcher(install, say, warn)
    watcher.worker.start()
    watchdog_every = notify.watchdog_interval()
    last_ping = last_check = last_sync = 0.0
    last_seen: tuple = ()
    firewall_trouble = ""
    connected = watcher.connect()
    notify.notify("READY=1", "STATUS=watching Asterisk's security events")
    try:
        while not stop.is_set():
            now = time.monotonic()
            if now - last_check >= 10:
                last_check = now
                connected = watcher.alive() or watcher.connect()
                bans.prune()
            try:
                seen = bans.fingerprint()
                if seen != last_seen or seen[2] or firewall_trouble or now - last_sync >= FULL_SYNC_EVERY:
                    for line in bans.sync_firewall():
                        say(line)
                    last_seen, last_sync = bans.fingerprint(), now
                if firewall_trouble:
                    say("firewall sets reachable again")
                firewall_trouble = ""
            except firewall.FirewallError as error:
                if str(error) != firewall_trouble:
                    warn(f"bans are recorded but not enforced: {error}")
                firewall_trouble = str(error)
            if watchdog_every and now - last_ping >= watchdog_every:
                notify.notify("WATCHDOG=1")
                last_ping = now
            notify.notify(f"STATUS={'watching' if connected else 'waiting for AMI'}; "
                          f"{len(bans.active())} source(s) banned")
            stop.wait(SYNC_EVERY)
    finally:
        notify.notify("STOPPING=1")
        watcher.close()
