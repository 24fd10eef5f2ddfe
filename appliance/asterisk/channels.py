"""Lists Asterisk answers with events: its channels now (the technician's ``linebox calls`` and the agent
page's transfers), its parked calls."""

from __future__ import annotations

import itertools
import os
import threading

from appliance.asterisk.ami import Ami, AmiTimeout

_ids = itertools.count(1)


def core_show_channels(ami: Ami, timeout: float = 10) -> list[dict]:
    """One dict of headers per channel."""
    return listed(ami, "CoreShowChannels", "CoreShowChannel", timeout)


def listed(ami: Ami, action: str, item: str, timeout: float = 10) -> list[dict]:
    """The ``item`` events that answer a list action (``CoreShowChannels``, ``ParkedCalls``).

    They come back as events after the action's response and end with ``<action>Complete`` (pyst2 only
    gathers "status will follow" lists itself), so they are caught by ActionID, registered before the
    action is sent.
    """
    action_id = f"linebox-list-{os.getpid()}-{next(_ids)}"
    channels: list[dict] = []
    done = threading.Event()

    def on_channel(event, _manager) -> None:
        if event.headers.get("ActionID") == action_id:
            channels.append(dict(event.headers))

    def on_complete(event, _manager) -> None:
        if event.headers.get("ActionID") == action_id:
            done.set()

    ami.on_event(item, on_channel)
    ami.on_event(f"{action}Complete", on_complete)
    ami.action(action, ActionID=action_id)
    if not done.wait(timeout):
        raise AmiTimeout(f"AMI action {action}: Asterisk did not list its answer within {timeout:.0f} s")
    return channels
