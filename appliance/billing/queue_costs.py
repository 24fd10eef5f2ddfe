"""Forgetting the per-queue and per-agent cost roll-up of some days: what the collector calls as it stores
records and queue calls, so the next cost report rolls those days up again (``appliance.billing.reports``).

A leaf (the database only): the collector runs it every round without loading the pricing.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable

from appliance.model.database import database

QUEUE_DONE = "queue-day"  # a CostDay row per day whose per-queue and per-agent sums are rolled up
DIMENSIONS = ("queue", "agent", QUEUE_DONE)


def forget_queue_days(days: Iterable[str], neighbours: bool = True) -> None:
    """Drop the per-queue and per-agent roll-up of these days (``YYYY-MM-DD``) and, unless ``neighbours`` is
    False, of the day either side (a record's day as Asterisk wrote it may be the site's next or previous
    day; a queue call's legs may start the day before or after it): the collector calls it for the days of
    the records and queue calls it stores, so the next report rolls them up again from what is now known."""
    names: set[str] = set()
    for name in days:
        try:
            day = datetime.date.fromisoformat(name[:10])
        except ValueError:
            continue
        deltas = (-1, 0, 1) if neighbours else (0,)
        names.update((day + datetime.timedelta(days=delta)).isoformat() for delta in deltas)
    if names:
        database.execute_sql("DELETE FROM costday WHERE dimension IN (?, ?, ?) AND day IN (SELECT value FROM"
                             " json_each(?))", (*DIMENSIONS, json.dumps(sorted(names))))
