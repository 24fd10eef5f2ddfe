"""The console's call trace page (``/trace``): where a call goes, drawn, and which calls reach a destination.

A thin layer over :mod:`appliance.provisioning.trace`: the form's number, caller, time, keys and "nobody
answers" go to ``trace_stored``; the path comes back as steps and is drawn here as an SVG graph, the
objects the call passes in a column joined by the branches it takes (highlighted), each with the branches
it does not take beside it in grey.  The SVG is made on the server with no script and no style attribute
(presentation attributes only), inline in the page, every text escaped and in the reader's language.
The reverse question ("which calls reach queue 701?") is the second form.  Admins, technicians and
supervisors: it reads the site and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext
from markupsafe import Markup, escape

from appliance.errors import SiteError
from appliance.provisioning import trace as tracing
from appliance.provisioning import trace_outbound
from appliance.site import localtime, queries
from appliance.web.i18n import message_text, problems_text
from appliance.web.roles import require_role

blueprint = Blueprint("trace", __name__)
TRACE_ROLES = ("admin", "technician", "supervisor")
MAX_FIELD = 60

# the drawing's measures, in px
BOX_W, BOX_H, GAP, SIDE_X, SIDE_W, SIDE_H, PAD = 380, 58, 46, 470, 330, 30, 12
LINE_CHARS, SIDE_CHARS = 46, 46
TAKEN, PATH_FILL, GREY, TEXT = "#0b62c4", "#e6f0fb", "#9aa3ad", "#1d2733"


def _arg(name: str) -> str:
    return request.args.get(name, "")[:MAX_FIELD]


def _destinations() -> list[tuple[str, str]]:
    """Every destination a call can be sent to, for the reverse question's list: (value, words)."""
    out = []
    for kind, prefix in (("queue", "queue"), ("ring_group", "ringgroup"), ("ivr", "ivr"),
                         ("time_condition", "timecondition"), ("announcement", "announcement"),
                         ("extension", "extension")):
        for key in queries.keys(kind):
            value = f"{prefix}:{key}"
            out.append((value, message_text(tracing.describe(value))))
    out += [(f"voicemail:{n}", message_text(tracing.describe(f"voicemail:{n}"))) for n in queries.mailbox_numbers()]
    return out


@blueprint.get("/trace")
@require_role(*TRACE_ROLES)
def page():
    zone = localtime.site_zone()
    args: dict[str, Any] = {"did": _arg("did"), "caller": _arg("caller"), "digits": _arg("digits"),
                            "at": _arg("at") or datetime.now(UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                            "no_answer": request.args.get("no_answer") == "1", "reaches": _arg("reaches"),
                            "trunk": _arg("trunk"), "outbound": _arg("outbound")}
    result = graph = None
    ways: list[tracing.Way] | None = None
    outbound: trace_outbound.OutboundTrace | None = None
    error = ""
    try:
        if args["outbound"]:
            outbound = trace_outbound.trace_outbound_stored(args["outbound"], args["at"][:10])
        if "did" in request.args:
            result = tracing.trace_stored(args["did"], args["caller"], args["at"], args["digits"],
                                          answered=not args["no_answer"], trunk=args["trunk"])
            graph = draw(result)
        if args["reaches"]:
            ways = tracing.reaches_stored(args["reaches"])
    except SiteError as failure:
        error = problems_text(failure.problems)
    return render_template("trace.html", nav_active="trace", args=args, result=result, graph=graph, ways=ways,
                           outbound=outbound,
                           error=error, destinations=_destinations(), describe=tracing.describe,
                           dahdi_trunks=queries.keys("dahdi_trunk"))


def _wrap(text: str, width: int, lines: int = 2) -> list[str]:
    """``text`` in at most ``lines`` lines of about ``width`` characters, the last cut with an ellipsis."""
    words, out, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    out.append(line)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][:width - 1] + "…"
    return [o if len(o) <= width else o[:width - 1] + "…" for o in out]


def _text(x: float, y: float, lines: list[str], size: int = 13, weight: str = "normal", fill: str = TEXT) -> str:
    spans = "".join(f'<tspan x="{x}" dy="{0 if i == 0 else size + 3}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" fill="{fill}">{spans}</text>'


def draw(result: tracing.Trace) -> Markup:
    """The path as an SVG graph: a box per step down the left, the taken branch's label on the arrow
    below it, the branches not taken in grey to the right, and the outcome at the bottom."""
    parts: list[str] = []
    y = PAD
    for n, step in enumerate(result.steps, 1):
        skipped = [b for b in step.branches if not b.taken]
        row = max(BOX_H, len(skipped) * (SIDE_H + 6))
        head = f"{n}. {message_text(step.what)}"
        why = message_text(step.why) if step.why else ""
        parts.append(f'<g class="step" id="step-{n}"><title>{escape(head)}{escape(": " + why if why else "")}</title>'
                     f'<rect x="{PAD}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{PATH_FILL}" '
                     f'stroke="{TAKEN}" stroke-width="2"/>'
                     + _text(PAD + 10, y + 18, _wrap(head, LINE_CHARS, 1), weight="bold")
                     + _text(PAD + 10, y + 36, _wrap(why, LINE_CHARS + 10, 2), size=11) + "</g>")
        for i, branch in enumerate(skipped):
            by = y + i * (SIDE_H + 6)
            label = f"{message_text(branch.label)} → {message_text(tracing.describe(branch.to))}"
            parts.append(f'<g class="branch"><title>{escape(label)}</title>'
                         f'<path d="M{PAD + BOX_W} {y + BOX_H / 2} L{SIDE_X} {by + SIDE_H / 2}" fill="none" '
                         f'stroke="{GREY}" stroke-dasharray="4 3"/>'
                         f'<rect x="{SIDE_X}" y="{by}" width="{SIDE_W}" height="{SIDE_H}" rx="4" fill="#ffffff" '
                         f'stroke="{GREY}"/>' + _text(SIDE_X + 8, by + 19, _wrap(label, SIDE_CHARS, 1), size=11,
                                                      fill="#56606b") + "</g>")
        taken = step.taken
        bottom = y + BOX_H
        y += row + GAP
        x = PAD + BOX_W / 2
        parts.append(f'<path d="M{x} {bottom} L{x} {y - 6}" stroke="{TAKEN}" stroke-width="3" fill="none"/>'
                     f'<path d="M{x - 6} {y - 12} L{x} {y - 2} L{x + 6} {y - 12} Z" fill="{TAKEN}"/>')
        if taken is not None:
            parts.append(_text(x + 10, bottom + (y - bottom) / 2 + 4, [message_text(taken.label)], size=11,
                               weight="bold", fill=TAKEN))
    outcome = message_text(result.outcome)
    parts.append(f'<g class="outcome"><rect x="{PAD}" y="{y}" width="{BOX_W}" height="{BOX_H - 14}" rx="22" '
                 f'fill="{TAKEN if not result.loop else "#b3261e"}"/>'
                 + _text(PAD + 16, y + 26, _wrap(outcome, LINE_CHARS, 1), weight="bold", fill="#ffffff") + "</g>")
    height = y + BOX_H
    width = SIDE_X + SIDE_W + PAD
    title = escape(gettext("Path of the call"))
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{title}" '
                  f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="sans-serif">'
                  + "".join(parts) + "</svg>")
