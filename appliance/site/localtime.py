"""The site's clock: its time zone (the ``timezone`` setting) and the local days counted in it.

A team in Beijing means by "today" the day that began at midnight in Beijing, not at 08:00 (midnight
UTC).  Reports, the wallboard's "today", recording retention and call-record search therefore cut days
at the site's local midnights, while everything stored stays in UTC (epochs, UTC timestamps): only the
cutting and the showing are local, so changing the zone never rewrites a call.

Days are not all 86400 s long where the zone has daylight saving time (23 or 25 h): every day boundary
here comes from zoneinfo, never from adding 86400.  A leaf of the site floor: it reads the one setting
row itself (``appliance.site.stored`` would load the schemas), so the collector stays small.
"""

from __future__ import annotations

import contextlib
import re
import time as _time
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from appliance.model.models import Setting

SETTING_KEY = "site.timezone"  # appliance.site.stored.SETTINGS_PREFIX + the setting's name
ZONE_NAME_RE = r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*"


def check_zone(value: str) -> str:
    """``value`` if it is an IANA time zone name zoneinfo knows (Asia/Shanghai, UTC); else ValueError.

    The name pattern comes first: the name reaches the dialplan (``STRFTIME``), so it can never hold a
    comma, a newline or a ``..``."""
    if not re.fullmatch(ZONE_NAME_RE, value) or ".." in value:
        raise ValueError(f"'{value[:60]}' is not a time zone name (like Asia/Shanghai or Europe/London)")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{value[:60]}'") from None
    return value


def box_timezone(etc: Path = Path("/etc")) -> str:
    """The box's own time zone, the default of the setting: ``/etc/timezone`` (Debian's), else the zone
    ``/etc/localtime`` links to, else UTC (a box set up without one)."""
    candidates = []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append((etc / "timezone").read_text(encoding="utf-8").strip())
    try:
        target = str((etc / "localtime").readlink())
        candidates.append(target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "")
    except (OSError, ValueError):
        pass
    for name in candidates:
        try:
            return check_zone(name)
        except ValueError:
            continue
    return "UTC"


def site_zone() -> zoneinfo.ZoneInfo:
    """The site's time zone (the box's when the setting was never stored; UTC if the stored name is no
    longer known to this system's tzdata, which the settings' validation otherwise prevents)."""
    row = Setting.get_or_none(Setting.key == SETTING_KEY)
    name = row.value if row is not None else box_timezone()
    try:
        return zoneinfo.ZoneInfo(check_zone(name))
    except ValueError:
        return zoneinfo.ZoneInfo("UTC")


def day_start(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    """When local day ``day`` begins, as an aware UTC datetime."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def midnight(epoch: float, zone: zoneinfo.ZoneInfo) -> int:
    """The epoch of the local midnight that begins the day holding ``epoch``."""
    return int(day_start(datetime.fromtimestamp(epoch, zone).date(), zone).timestamp())


def next_midnight(epoch: float, zone: zoneinfo.ZoneInfo) -> int:
    """The epoch of the local midnight after the one that begins the day holding ``epoch``."""
    return int(day_start(datetime.fromtimestamp(epoch, zone).date() + timedelta(days=1), zone).timestamp())


def day_name(epoch: float, zone: zoneinfo.ZoneInfo) -> str:
    """The local date holding ``epoch``, as YYYY-MM-DD."""
    return datetime.fromtimestamp(epoch, zone).strftime("%Y-%m-%d")


def today(now: datetime | None = None, zone: zoneinfo.ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the site's local day holding ``now`` (default: the present), as aware datetimes."""
    zone = zone or site_zone()
    moment = (now or datetime.now(UTC)).astimezone(zone)
    return day_start(moment.date(), zone), day_start(moment.date() + timedelta(days=1), zone)


def days(first: date, last: date, zone: zoneinfo.ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of local days ``first`` through ``last`` (both included), as aware datetimes."""
    return day_start(first, zone), day_start(max(first, last) + timedelta(days=1), zone)


def offsets(start: int, end: int, zone: zoneinfo.ZoneInfo) -> list[tuple[int, int]]:
    """The zone's UTC offsets over [start, end): (from epoch, offset in seconds) for each stretch of one
    offset, in order; the first stretch begins at ``start``.  Lets a SQL query name local days and hours
    of UTC epochs (``epoch + offset``) across daylight-saving changes.  Changes are found day by day,
    then to the second."""

    def offset(epoch: int) -> int:
        return int(datetime.fromtimestamp(epoch, zone).utcoffset().total_seconds())  # type: ignore[union-attr]

    out = [(start, offset(start))]
    moment = start
    while moment < end:
        step = min(moment + 86400, end)
        if offset(step - 1) != out[-1][1]:
            low, high = moment, step - 1  # offset(low) is the current one, offset(high) is not
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == out[-1][1] else (low, middle)
            out.append((high, offset(high)))
            moment = high
        else:
            moment = step
    return out


def local_text(epoch: float, zone: zoneinfo.ZoneInfo | None = None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An epoch as the site's local time, for showing."""
    return datetime.fromtimestamp(epoch, zone or site_zone()).strftime(fmt)


# Asterisk writes its call records' (CDR, CEL) times as text in its own local time: the box's, which may
# differ from the site's zone.
ASTERISK_FORMAT = "%Y-%m-%d %H:%M:%S"


def asterisk_text(epoch: float) -> str:
    """An epoch as Asterisk writes its CDR and CEL times (the box's local time)."""
    return _time.strftime(ASTERISK_FORMAT, _time.localtime(epoch))


def from_asterisk(text: str, zone: zoneinfo.ZoneInfo | None) -> str:
    """A CDR time (Asterisk's local time) in ``zone``; as it is without a zone or when unreadable."""
    if zone is None:
        return text[:19]
    try:
        epoch = _time.mktime(_time.strptime(text[:19], ASTERISK_FORMAT))
    except ValueError:
        return text[:19]
    return datetime.fromtimestamp(epoch, zone).strftime(ASTERISK_FORMAT)


def asterisk_day_start(day: date, zone: zoneinfo.ZoneInfo) -> str:
    """When the site's local day ``day`` begins, as Asterisk's record time text: the bound to compare a CDR
    time with."""
    return asterisk_text(day_start(day, zone).timestamp())


__all__ = ["ASTERISK_FORMAT", "asterisk_day_start", "asterisk_text", "box_timezone", "check_zone", "day_name",
           "day_start", "days", "from_asterisk", "local_text", "midnight", "next_midnight", "offsets", "site_zone",
           "today"]
