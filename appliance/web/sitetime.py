"""Times on the console's pages in the site's time zone (the ``timezone`` setting), the zone named beside them.

Linebox stores moments in UTC (naive UTC datetimes in the database, ISO strings with ``+00:00`` in the
generations' metadata); a team in Beijing reads them in Beijing time.  ``site_time`` converts one for a
page, and ``site_zone`` (the zone's IANA name) is what the column headers say: "When (Asia/Shanghai)".
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, g

from appliance.site import localtime


def _zone():
    if "site_zone" not in g:
        g.site_zone = localtime.site_zone()  # one read of the setting per request
    return g.site_zone


def site_time(value: datetime | str | int | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A stored UTC moment (a naive UTC datetime, ISO text, or epoch seconds as queue_log writes them) as the
    site's local time; "" for none."""
    if not value:
        return ""
    if isinstance(value, int):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone()).strftime(fmt)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["site_time"] = site_time
    app.context_processor(lambda: {"site_zone": _zone().key})
