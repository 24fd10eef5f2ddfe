"""The console's Costs page (``/costs``): what calls cost per extension, department, trunk or number class,
per day or month, with a chart, the top destinations, the month's bundles and a CSV download.

Only reads: ``appliance.billing.reports`` sums the priced call records.  Admins and supervisors, like the
call-center reports.
"""

from __future__ import annotations

import datetime

import pygal
from flask import Blueprint, Response, render_template, request
from flask_babel import gettext

from appliance.billing import reports
from appliance.csvfile import write_csv
from appliance.site import queries
from appliance.site.numbering import CLASS_LABELS, NumberClass
from appliance.web.charts import SVG_CSP, chart_config, without_script
from appliance.web.roles import require_role

blueprint = Blueprint("costs", __name__)
COST_ROLES = ("admin", "supervisor")
CHART_SERIES = 8  # the most expensive keys drawn; the rest are summed as "other"
MAX_DAYS = 3660


def _choice() -> tuple[datetime.date, datetime.date, reports.Group, reports.Period]:
    """The range asked for (``from``/``to``, both included; default this month so far), grouping and period."""
    today = datetime.date.today()

    def day(name: str, default: datetime.date) -> datetime.date:
        try:
            return datetime.date.fromisoformat(request.args.get(name, ""))
        except ValueError:
            return default

    first = day("from", today.replace(day=1))
    last = min(max(day("to", today), first), first + datetime.timedelta(days=MAX_DAYS))
    by = request.args.get("by", "department")
    period = request.args.get("period", "month")
    return (first, last, by if by in reports.GROUPS else "department",  # type: ignore[return-value]
            period if period in reports.PERIODS else "month")


def _key_label(by: str, key: str) -> str:
    if by == "class" and key in NumberClass.__members__.values():
        return gettext(CLASS_LABELS[NumberClass(key)])
    return key or gettext("(none)")


@blueprint.get("/costs")
@require_role(*COST_ROLES)
def page():
    first, last, by, period = _choice()
    args = {"from": first.isoformat(), "to": last.isoformat(), "by": by, "period": period}
    return render_template("costs.html", nav_active="costs", args=args, groups=reports.GROUPS,
                           periods=reports.PERIODS, rows=reports.cost_report(first, last, by, period),
                           top=reports.top_destinations(first, last),
                           bundles=reports.bundles(queries.keys("trunk") + queries.keys("dahdi_trunk"), last),
                           unpriced=reports.unpriced_calls(first, last), key_label=lambda k: _key_label(by, k),
                           class_label=lambda c: _key_label("class", c))


@blueprint.get("/costs.csv")
@require_role(*COST_ROLES)
def export_csv():
    first, last, by, period = _choice()
    rows = reports.cost_report(first, last, by, period)
    text = write_csv(("period", by, "currency", "calls", "seconds", "cost"),
                     ((r.period, r.key, r.currency, r.calls, r.seconds, r.cost) for r in rows))
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=linebox-cost-{by}-{first}-{last}.csv"})


@blueprint.get("/costs/chart.svg")
@require_role(*COST_ROLES)
def chart():
    first, last, by, period = _choice()
    rows = reports.cost_report(first, last, by, period)
    currencies = sorted({r.currency for r in rows}) or ["CNY"]
    currency = currencies[0]  # one currency per chart: the first; the table shows every one
    totals: dict[str, float] = {}
    for r in rows:
        if r.currency == currency:
            totals[r.key] = totals.get(r.key, 0.0) + float(r.cost)  # a drawing only: the table has the amounts
    keys = sorted(totals, key=lambda k: -totals[k])[:CHART_SERIES]
    periods = sorted({r.period for r in rows})
    drawing = pygal.StackedBar(title=gettext("Cost per %(period)s (%(currency)s)", period=gettext(period),
                                             currency=currency), **chart_config())
    drawing.x_labels = periods
    for key in keys:
        by_period = {r.period: float(r.cost) for r in rows if r.key == key and r.currency == currency}
        drawing.add(_key_label(by, key), [by_period.get(p, 0) for p in periods])
    others = {p: sum(float(r.cost) for r in rows if r.period == p and r.currency == currency and r.key not in keys)
              for p in periods}
    if any(others.values()):
        drawing.add(gettext("other"), [others[p] for p in periods])
    drawing.no_data_text = gettext("No priced calls in this period")
    response = Response(without_script(drawing.render()), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = SVG_CSP
    return response
