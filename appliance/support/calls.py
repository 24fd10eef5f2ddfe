"""``linebox calls``: the calls in progress (from Asterisk, over AMI) and the recent call records.

Active calls come from AMI's ``CoreShowChannels``: one row per call, the call's channels grouped by
their ``Linkedid`` (every channel of one call shares the first channel's id).  Call records are the
CDR rows the collector copied into the database (``linebox collect``), newest first.  Both tables
fit an 80-column serial console.

Asterisk writes a CDR's times in its own local time (the box's); the search and the table speak the
site's time zone (the ``timezone`` setting, ``appliance.site.localtime``): ``--since 2026-11-10`` means
from midnight in that zone, and the start times shown are in it, as the title says.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from appliance.asterisk.ami import Ami
from appliance.asterisk.channels import core_show_channels
from appliance.callcenter import dispositions
from appliance.model.models import CallRecord
from appliance.site import localtime
from appliance.support import logs


@dataclass
class ActiveCall:
    linkedid: str
    caller: str
    called: str
    state: str
    duration: str
    channels: list[str] = field(default_factory=list)


def _seconds(duration: str) -> int:
    try:
        h, m, s = (int(x) for x in duration.split(":"))
    except ValueError:
        return 0
    return h * 3600 + m * 60 + s


def group_channels(channels: list[dict]) -> list[ActiveCall]:
    """``CoreShowChannel`` events -> calls; the channel that started a call gives its caller and number."""
    by_call: dict[str, list[dict]] = {}
    for channel in channels:
        by_call.setdefault(channel.get("Linkedid") or channel.get("Uniqueid", ""), []).append(channel)
    calls = []
    for linkedid, members in by_call.items():
        first = next((c for c in members if c.get("Uniqueid") == linkedid), members[0])
        others = [c for c in members if c is not first]
        called = first.get("Exten", "")
        if called in ("", "s"):  # "s": the call entered a context with no number dialled (e.g. an IVR)
            called = (others[0].get("CallerIDNum", "") if others else "") or first.get("ConnectedLineNum", "")
        states = {c.get("ChannelStateDesc", "") for c in members}
        calls.append(ActiveCall(
            linkedid=linkedid,
            caller=_known(first.get("CallerIDNum", "")),
            called=_known(called),
            state="Up" if "Up" in states else first.get("ChannelStateDesc", "?"),
            duration=max((c.get("Duration", "00:00:00") for c in members), key=_seconds),
            channels=[c.get("Channel", "?") for c in [first, *others]],
        ))
    return sorted(calls, key=lambda c: -_seconds(c.duration))


def _known(number: str) -> str:
    return "" if number in ("<unknown>", "(null)") else number


def active_calls(ami: Ami, timeout: float = 10) -> list[ActiveCall]:
    """Ask Asterisk for its channels now, grouped into calls."""
    return group_channels(core_show_channels(ami, timeout))


def record_window(since: str, until: str | None, zone: zoneinfo.ZoneInfo,
                  now: datetime | None = None) -> tuple[datetime, datetime | None]:
    """``--since`` and ``--until`` as moments (aware): today, yesterday, a day or a day and time are read in
    the site's time zone ``zone``, a relative 2h back from now; an ``--until`` day is included whole (up to
    the next midnight there).  Raises ``logs.LogsError`` naming what it could not read."""
    wall = (now or datetime.now(zoneinfo.ZoneInfo("UTC"))).astimezone(zone).replace(tzinfo=None)
    start = logs.parse_since(since, now=wall).replace(tzinfo=zone)
    if until is None:
        return start, None
    end = logs.parse_since(until, now=wall)
    if len(until.strip()) == 10 and until.strip()[4] == "-":  # a day: all of it
        end = end + timedelta(days=1)
    return start, end.replace(tzinfo=zone)


def recent_records(since: datetime, number: str | None = None, limit: int = 20,
                   until: datetime | None = None) -> list[CallRecord]:
    """Call records that started at or after ``since`` (and before ``until``), newest first.  Naive
    moments are Asterisk's local time, as its records are; aware ones are converted to it."""
    query = CallRecord.select().where(CallRecord.start >= _as_asterisk(since))
    if until is not None:
        query = query.where(CallRecord.start < _as_asterisk(until))
    if number:
        query = query.where((CallRecord.src == number) | (CallRecord.dst == number))
    return list(query.order_by(CallRecord.start.desc(), CallRecord.id.desc()).limit(limit))


def _as_asterisk(moment: datetime) -> str:
    return localtime.asterisk_text(moment.timestamp()) if moment.tzinfo else moment.strftime("%Y-%m-%d %H:%M:%S")


def clock(seconds: int) -> str:
    """Seconds as a clock shows a call's length: "1:05", "2:03:09" (the same in every language)."""
    minutes, secs = divmod(max(0, seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def active_lines(calls: list[ActiveCall], width: int = 80) -> list[str]:
    lines = [f"Active calls: {len(calls)}"]
    if calls:
        lines.append(f"  {'Duration':<9}{'From':<15}{'To':<15}{'State':<8}Channels")
    for call in calls:
        channels = " > ".join(call.channels)
        lines.append(f"  {call.duration:<9}{_cell(call.caller, 14):<15}{_cell(call.called, 14):<15}"
                     f"{_cell(call.state, 7):<8}{channels}")
    return [_cell(line, width) if len(line) > width else line for line in lines]


REFUSED_MARK = "refused:"  # the userfield of a call the dial guard refused ([sub-dial-guard] in extensions.conf)


def record_lines(records: list[CallRecord], title: str, width: int = 80,
                 zone: zoneinfo.ZoneInfo | None = None) -> list[str]:
    """The records as a table; start times in ``zone`` (the site's) when given; under a queue call's record,
    the disposition and note its agent saved."""
    lines = [title]
    notes = dispositions.notes_of([r.uniqueid for r in records])
    if not records:
        return [*lines, "  no call records (the collector copies them from Asterisk: linebox collect --once)"]
    lines.append(f"  {'Start':<20}{'From':<15}{'To':<15}{'Result':<12}{'Talk':>7}{'Total':>8}")
    for r in records:
        start = localtime.from_asterisk(r.start, zone)
        refused = r.userfield.startswith(REFUSED_MARK)
        lines.append(f"  {_cell(start, 19):<20}{_cell(r.src, 14):<15}{_cell(r.dst, 14):<15}"
                     f"{_cell('REFUSED' if refused else r.disposition, 11):<12}{clock(r.billsec):>7}"
                     f"{clock(r.duration):>8}")
        if refused:  # the dial guard's reason (docs/admin-guide.md, "Dial permissions and caps")
            lines.append(f"    refused by the dial guard: {r.userfield[len(REFUSED_MARK):]}")
        note = notes.get(r.uniqueid)
        if note is not None and (note.disposition or note.note):  # what the agent saved for the queue call
            text = " ".join(note.note.split())
            lines.append(f"    agent {note.agent}: {note.disposition or '(no disposition)'}"
                         + (f" - {text}" if text else ""))
    return [line[:width] for line in lines]
