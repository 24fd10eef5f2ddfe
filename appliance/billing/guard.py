"""The dial guard: may this extension dial this number now, and for how long at most (toll-fraud guard).

Asterisk asks it before every outbound ``Dial`` (``[sub-dial-guard]`` in extensions.conf, through the
``dial-guard`` FastAGI script), with the number the route sends to its trunk (after strip and prepend).
The answer is allow or refuse with a reason, and the call's remaining allowance: the call is dialled
with it as an absolute limit (Dial's ``L()``), so a cap or budget is enforced during the live call, not
discovered afterwards by the collector.

``decide`` is the rule, pure (inputs to a ``Decision``); ``check`` gathers its inputs from the database:

* the number's class from the one classifier (``appliance.site.numbering``);
* the extension's permission (``Extension.dial_permission``, else the site's ``dial_permission_default``),
  lowered to ``out_of_hours_permission`` outside the open hours of the ``outbound_hours`` time condition;
* calls at once, counted by Asterisk itself (``GROUP_COUNT``, which a restart cannot leave stale) and
  handed in by the caller;
* minutes and money used today and this month: the collector's call records (outbound trunk legs: their
  billed seconds and priced cost) plus calls not yet recorded (``GuardCall`` rows the guard writes when it
  lets a call through; the call's hangup handler writes the seconds it was answered, which count until the
  collector has stored its record, and the row goes).  A row a crash left behind stops counting once its
  call's record is collected, once its allowance has run out, and after a day at the latest.

Emergency numbers (``NumberClass.EMERGENCY``: 110, 119, 120, 122 and 112 in China) are always allowed,
with no limit, whatever the class, cap, budget or schedule.  When the guard cannot answer (service down,
database unreadable) the dialplan lets emergency numbers out and refuses every other call: fail closed.

Concurrent calls each get the allowance left when they start; together they may run past a cap by at most
what they overlap (bounded by the calls-at-once limits).  Documented in docs/admin-guide.md.
"""

from __future__ import annotations

import datetime
import logging
import math
import time
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision
from peewee import fn

from appliance.billing import rates
from appliance.model.models import AnalogPort, CallRecord, Extension, GuardAlert, GuardCall
from appliance.site import localtime, queries, schemas, stored
from appliance.site.numbering import NumberClass, NumberPlan, classify

log = logging.getLogger("linebox.guard")

# Each permission level allows the classes of the levels before it and its own.  An unknown number (one the
# classifier cannot place) needs "national": never treated as a cheap local call.
LEVELS: tuple[str, ...] = ("internal", "local", "national", "mobile", "international", "premium")
_LEVEL_CLASSES: dict[str, frozenset[NumberClass]] = {
    "internal": frozenset({NumberClass.INTERNAL}),
    "local": frozenset({NumberClass.LOCAL, NumberClass.TOLL_FREE}),
    "national": frozenset({NumberClass.NATIONAL, NumberClass.UNKNOWN}),
    "mobile": frozenset({NumberClass.MOBILE}),
    "international": frozenset({NumberClass.INTERNATIONAL}),
    "premium": frozenset({NumberClass.PREMIUM}),
}
STALE_SECONDS = 86400
DEFAULT_CURRENCY = "CNY"


def allowed_classes(level: str) -> frozenset[NumberClass]:
    """The classes a permission level may dial (emergency always)."""
    allowed = {NumberClass.EMERGENCY}
    for name in LEVELS[:LEVELS.index(level) + 1]:
        allowed |= _LEVEL_CLASSES[name]
    return frozenset(allowed)


def lower(a: str, b: str) -> str:
    """The more restricted of two permission levels."""
    return a if LEVELS.index(a) <= LEVELS.index(b) else b


@dataclass(frozen=True)
class Usage:
    """One scope's limits and what it has used (``scope``: "site", "extension:200", "department:Sales").
    Seconds and minor currency units; a limit of 0 is no limit."""

    scope: str
    calls_now: int = 0
    max_calls: int = 0
    day_seconds: float = 0
    daily_cap: int = 0
    month_seconds: float = 0
    monthly_cap: int = 0
    spent_minor: float = 0
    budget_minor: int = 0


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str  # why (refused: "class:international", "daily_minutes:extension:200", ...; allowed: "" or "emergency")
    limit_seconds: int = 0  # the call's absolute limit; 0: none
    alerts: tuple[tuple[str, str], ...] = field(default=())  # (scope, limit) reached or at its warning level


def decide(number_class: NumberClass, permission: str, usages: Iterable[Usage], *,
           out_of_hours_permission: str | None = None, budget_blocks: bool = False, warn_percent: int = 80,
           fee_minor: float = 0, per_minute_minor: float = 0) -> Decision:
    """Allow or refuse a call of ``number_class`` for a caller with ``permission`` and ``usages``, and the
    call's limit.  ``out_of_hours_permission``: the level outside business hours (None: within them);
    ``fee_minor``/``per_minute_minor``: what this call costs (its rate line), to turn money left into time."""
    if number_class == NumberClass.EMERGENCY:
        return Decision(True, "emergency")
    if number_class not in allowed_classes(permission):
        return Decision(False, f"class:{number_class.value}")
    if out_of_hours_permission is not None and number_class not in allowed_classes(
            lower(permission, out_of_hours_permission)):
        return Decision(False, f"out_of_hours:{number_class.value}")
    limit = math.inf
    alerts: list[tuple[str, str]] = []
    for usage in usages:
        if usage.max_calls and usage.calls_now >= usage.max_calls:
            return Decision(False, f"calls:{usage.scope}", alerts=tuple(alerts))
        for name, cap, used in (("daily_minutes", usage.daily_cap, usage.day_seconds),
                                ("monthly_minutes", usage.monthly_cap, usage.month_seconds)):
            if not cap:
                continue
            left = math.floor(cap - used)
            if left <= 0:
                return Decision(False, f"{name}:{usage.scope}", alerts=(*alerts, (usage.scope, name)))
            limit = min(limit, left)
            alerts.append((usage.scope, name))  # the call may reach it: shown once it is reached
        if usage.budget_minor:
            left_minor = usage.budget_minor - usage.spent_minor
            if usage.spent_minor * 100 >= usage.budget_minor * warn_percent:
                alerts.append((usage.scope, "budget_warning"))
            if budget_blocks:
                affordable = _affordable_seconds(left_minor, fee_minor, per_minute_minor)
                if affordable <= 0:
                    return Decision(False, f"budget:{usage.scope}", alerts=(*alerts, (usage.scope, "budget")))
                limit = min(limit, affordable)
            alerts.append((usage.scope, "budget"))
    return Decision(True, "", 0 if limit == math.inf else int(limit), tuple(alerts))


def _affordable_seconds(left_minor: float, fee_minor: float, per_minute_minor: float) -> float:
    """Seconds of a call that ``left_minor`` still pays for (infinite for a free call, 0 when nothing is left)."""
    if left_minor <= 0:
        return 0
    if per_minute_minor <= 0:
        return math.inf if left_minor > fee_minor or fee_minor == 0 else 0
    return math.floor((left_minor - fee_minor) * 60 / per_minute_minor)


# ---- inputs from the database -----------------------------------------------------------------------------

def minor_units(amount: str, currency: str) -> int:
    """A budget's amount text in the currency's smallest unit (500 CNY: 50000); 0 for none."""
    if not amount:
        return 0
    try:
        return int(Decimal(amount).scaleb(get_currency_precision(currency)))
    except (InvalidOperation, ValueError):
        return 0


def caller_extension(channel: str) -> str:
    """The extension that placed a call, from its channel (PJSIP/200-0000001a, or an FXS port's DAHDI/4-1)."""
    if channel.startswith("PJSIP/"):
        return channel[len("PJSIP/"):].rsplit("-", 1)[0]
    if channel.startswith("DAHDI/"):
        number = channel[len("DAHDI/"):].split("-", 1)[0]
        if number.isdigit():
            port = AnalogPort.get_or_none((AnalogPort.channel == int(number)) & (AnalogPort.kind == "fxs"))
            return port.extension if port is not None else ""
    return ""


def within_hours(tc: schemas.TimeCondition, moment: datetime.datetime) -> bool:
    """Whether ``moment`` is in the open hours of time condition ``tc`` (its ranges, less its holidays), as the
    dialplan's ``GotoIfTime`` reads it: from start to the minute before end, in the condition's zone."""
    local = moment.astimezone(zoneinfo.ZoneInfo(tc.timezone))
    if any(h.date == local.date().isoformat() for h in tc.holidays):
        return False
    day = schemas.DAYS[local.weekday()]
    minute = local.strftime("%H:%M")
    for r in tc.ranges:
        first, _, last = r.days.partition("-")
        start, end = schemas.DAYS.index(first), schemas.DAYS.index(last or first)
        today = schemas.DAYS.index(day)
        on_day = start <= today <= end if start <= end else (today >= start or today <= end)
        if on_day and r.start <= minute < r.end:
            return True
    return False


def _bounds(now: float, zone: zoneinfo.ZoneInfo) -> tuple[str, str, str, str]:
    """(day start, month start) as record times, and the period names ("2026-12-07", "2026-12")."""
    today = datetime.datetime.fromtimestamp(now, zone).date()
    return (localtime.asterisk_day_start(today, zone), localtime.asterisk_day_start(today.replace(day=1), zone),
            today.isoformat(), today.isoformat()[:7])


def _in_progress(extensions: list[str] | None, now: float, exclude: str = "") -> list[GuardCall]:
    """Calls let through and not yet over (for these extensions; None: all), less those already recorded."""
    GuardCall.delete().where(GuardCall.started < now - STALE_SECONDS).execute()
    query = GuardCall.select().where(GuardCall.uniqueid != exclude)
    if extensions is not None:
        query = query.where(GuardCall.extension.in_(extensions))
    rows = list(query)
    if not rows:
        return []
    recorded = {r.uniqueid for r in CallRecord.select(CallRecord.uniqueid).where(
        (CallRecord.uniqueid.in_([row.uniqueid for row in rows])) & (CallRecord.trunk != ""))}
    if recorded:
        GuardCall.delete().where(GuardCall.uniqueid.in_(sorted(recorded))).execute()
    return [row for row in rows if row.uniqueid not in recorded]


def _elapsed(row: GuardCall, now: float) -> float:
    if row.answered_seconds is not None:
        return row.answered_seconds
    seconds = max(0.0, now - row.started)
    return min(seconds, row.limit_seconds) if row.limit_seconds else seconds


def usage_of(scope: str, extensions: list[str] | None, now: float, zone: zoneinfo.ZoneInfo, *,
             calls_now: int = 0, max_calls: int = 0, daily_minutes: float = 0, monthly_minutes: float = 0,
             budget_minor: int = 0, exclude: str = "") -> Usage:
    """What ``extensions`` (None: the whole site) used today and this month: recorded outbound legs plus the
    calls in progress."""
    day_start, month_start, _, _ = _bounds(now, zone)
    r = CallRecord
    legs = r.select().where((r.trunk != "") & (r.start >= month_start))
    if extensions is not None:
        legs = legs.where(r.extension.in_(extensions))
    month = legs.select(fn.COALESCE(fn.SUM(r.billsec), 0), fn.COALESCE(fn.SUM(r.cost_minor), 0)).tuples().first()
    day = legs.where(r.start >= day_start).select(fn.COALESCE(fn.SUM(r.billsec), 0)).scalar()
    month_seconds, spent = float(month[0] if month else 0), float(month[1] if month else 0)
    day_seconds = float(day or 0)
    for row in _in_progress(extensions, now, exclude):
        elapsed = _elapsed(row, now)
        month_seconds += elapsed
        day_seconds += elapsed
        if row.answered_seconds != 0:  # a call never answered costs nothing
            spent += row.fee_minor + row.per_minute_minor * elapsed / 60
    return Usage(scope, calls_now, max_calls, day_seconds, round(daily_minutes * 60), month_seconds,
                 round(monthly_minutes * 60), spent, budget_minor)


def _call_rate(number: str, number_class: NumberClass, trunks: list[str], day: datetime.date
               ) -> tuple[float, float, str]:
    """(fee, per minute) in minor units and the currency of the dearest rate line among the route's trunks
    that prices ``number`` (a failover may reach any of them); zeros when none does."""
    best: tuple[float, float, str] = (0.0, 0.0, "")
    for trunk in trunks:
        start, lines = rates.table_in_force(trunk, day)
        line = rates.Table(lines).line_for(number, number_class.value) if start else None
        if line is None:
            continue
        scale = get_currency_precision(line.currency)
        fee = float(Decimal(line.connection_fee).scaleb(scale))
        per_minute = float(Decimal(line.per_minute).scaleb(scale))
        if (per_minute, fee) > (best[1], best[0]):
            best = (fee, per_minute, line.currency)
    return best


def department_budgets() -> dict[str, str]:
    return schemas.parse_department_budgets(stored.setting("department_budgets"))


@dataclass(frozen=True)
class Check:
    """A decision with what it was made about (what the AGI script tells the dialplan and logs)."""

    decision: Decision
    extension: str
    number_class: NumberClass
    department: str = ""


def check(channel: str, number: str, trunks: list[str], uniqueid: str, count_calls: Callable[[str], int],
          now: float | None = None) -> Check:
    """The guard's decision for a call on ``channel`` to ``number`` through the route's ``trunks``.

    ``count_calls(extension)``: the outbound calls in progress of an extension ("" for the whole site), as
    Asterisk counts them.  An allowed call is recorded as in progress under ``uniqueid``; alerts for the caps
    it may reach are raised."""
    now = time.time() if now is None else now
    plan = NumberPlan.stored()
    number_class = classify(number, plan).number_class
    extension = caller_extension(channel)
    ext = Extension.get_or_none(Extension.number == extension) if extension else None
    settings = stored.load_settings()
    if number_class == NumberClass.EMERGENCY:
        return Check(Decision(True, "emergency"), extension, number_class)
    zone = localtime.site_zone()
    permission = (ext.dial_permission if ext is not None and ext.dial_permission else
                  settings.dial_permission_default)
    out_of_hours = None
    if settings.outbound_hours:
        tc = queries.get_object("time_condition", settings.outbound_hours)
        if isinstance(tc, schemas.TimeCondition) and not within_hours(
                tc, datetime.datetime.fromtimestamp(now, datetime.UTC)):
            out_of_hours = settings.out_of_hours_permission
    day = datetime.datetime.fromtimestamp(now, zone).date()
    fee, per_minute, currency = _call_rate(number, number_class, trunks, day)
    currency = currency or DEFAULT_CURRENCY
    usages: list[Usage] = []
    department = ext.department if ext is not None else ""
    if ext is not None:
        usages.append(usage_of(f"extension:{extension}", [extension], now, zone, calls_now=count_calls(extension),
                               max_calls=ext.max_outbound_calls, daily_minutes=ext.daily_minutes,
                               monthly_minutes=ext.monthly_minutes,
                               budget_minor=minor_units(ext.monthly_budget, currency), exclude=uniqueid))
        budget = department_budgets().get(department, "") if department else ""
        if budget:
            members = [e.number for e in Extension.select(Extension.number).where(Extension.department == department)]
            usages.append(usage_of(f"department:{department}", members, now, zone,
                                   budget_minor=minor_units(budget, currency), exclude=uniqueid))
    usages.append(usage_of("site", None, now, zone, calls_now=count_calls(""), max_calls=settings.max_outbound_calls,
                           daily_minutes=settings.outbound_daily_minutes,
                           monthly_minutes=settings.outbound_monthly_minutes, exclude=uniqueid))
    decision = decide(number_class, permission, usages, out_of_hours_permission=out_of_hours,
                      budget_blocks=settings.budget_action == "block", warn_percent=settings.budget_warn_percent,
                      fee_minor=fee, per_minute_minor=per_minute)
    _, _, day_name, month_name = _bounds(now, zone)
    for scope, limit in decision.alerts:
        period = day_name if limit == "daily_minutes" else month_name
        GuardAlert.insert(scope=scope, limit=limit, period=period, raised=now).on_conflict_ignore().execute()
    if decision.allow and uniqueid:
        GuardCall.replace(uniqueid=uniqueid, extension=extension, department=department, started=now,
                          limit_seconds=decision.limit_seconds, fee_minor=fee, per_minute_minor=per_minute).execute()
    return Check(decision, extension, number_class, department)


def call_ended(uniqueid: str, answered_seconds: int) -> int:
    """The call's hangup: it counts the seconds it was answered (Dial's ``ANSWEREDTIME``) until the collector
    stores its record, which may be some seconds later: the next call must not find the minutes unused.  A
    call never answered is forgotten at once."""
    if answered_seconds <= 0:
        return GuardCall.delete().where(GuardCall.uniqueid == uniqueid).execute()
    return GuardCall.update(answered_seconds=answered_seconds).where(GuardCall.uniqueid == uniqueid).execute()


# ---- alerts on the status page ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Alert:
    scope: str
    limit: str
    period: str
    used: float  # seconds, or minor units for a budget
    cap: float
    blocking: bool  # calls are refused (or limited) by it; False: a warning only


def current_alerts(now: float | None = None) -> list[Alert]:
    """The caps and budgets reached in the current day or month (and budgets at their warning level), each
    recomputed now: an alert goes away when the admin raises the cap, and with its period."""
    now = time.time() if now is None else now
    zone = localtime.site_zone()
    _, _, day_name, month_name = _bounds(now, zone)
    GuardAlert.delete().where(GuardAlert.period.not_in([day_name, month_name])).execute()
    settings = stored.load_settings()
    budgets = department_budgets()
    out: list[Alert] = []
    for row in GuardAlert.select().order_by(GuardAlert.raised):
        kind, _, name = row.scope.partition(":")
        if kind == "extension":
            ext = Extension.get_or_none(Extension.number == name)
            if ext is None:
                continue
            members: list[str] | None = [name]
            caps = {"daily_minutes": ext.daily_minutes * 60, "monthly_minutes": ext.monthly_minutes * 60,
                    "budget": minor_units(ext.monthly_budget, DEFAULT_CURRENCY)}
        elif kind == "department":
            members = [e.number for e in Extension.select(Extension.number).where(Extension.department == name)]
            caps = {"budget": minor_units(budgets.get(name, ""), DEFAULT_CURRENCY)}
        else:
            members = None
            caps = {"daily_minutes": settings.outbound_daily_minutes * 60,
                    "monthly_minutes": settings.outbound_monthly_minutes * 60}
        caps["budget_warning"] = caps.get("budget", 0) * settings.budget_warn_percent / 100
        cap = caps.get(row.limit, 0)
        if not cap:
            continue
        usage = usage_of(row.scope, members, now, zone)
        used = {"daily_minutes": usage.day_seconds, "monthly_minutes": usage.month_seconds}.get(
            row.limit, usage.spent_minor)
        if used >= cap:
            blocking = row.limit != "budget_warning" and (row.limit != "budget" or settings.budget_action == "block")
            out.append(Alert(row.scope, row.limit, row.period, used, cap, blocking))
    return out
