"""The Settings page: the site-wide settings (``schemas.Settings``), one field each, admins only.

The form is built from the schema's fields, so a setting added there (the tone
zone for DAHDI ports, say) appears here without a change to this page.  The
values are read as typed and handed to ``service.save_settings``, which
validates and audits; a refused save shows each problem next to its field,
keeps what was typed, and stores nothing.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from markupsafe import Markup

from appliance.catalog import N_
from appliance.errors import SiteError
from appliance.site import schemas, service
from appliance.web import objectforms
from appliance.web.forms import EmptyForm
from appliance.web.i18n import problem_text
from appliance.web.pages import blueprint
from appliance.web.roles import ADMIN, require_role

LABELS = {
    "sip_bind": N_("SIP address to listen on"),
    "sip_port": N_("SIP port"),
    "sip_tls_port": N_("SIP over TLS port"),
    "sip_encryption": N_("Call encryption (SRTP)"),
    "rtp_start": N_("RTP ports from"),
    "rtp_end": N_("RTP ports up to"),
    "ami_port": N_("AMI port"),
    "language": N_("Site language"),
    "prompt_language": N_("Prompt language"),
    "timezone": N_("Time zone (reports, wallboard, call records)"),
    "recording_retention_days": N_("Keep call recordings (days)"),
    "tone_zone": N_("Tone zone (analog ports and spans)"),
    "caller_name_lookup": N_("Name callers from the phonebook"),
    "agi_port": N_("FastAGI port (caller-name lookup)"),
    "robot_port": N_("Voice robot port (AudioSocket)"),
    "cluster_edge": N_("SIP edge address (multi-node mode)"),
    "crm_lookup_url": N_("CRM lookup address (off when empty)"),
    "crm_open_url": N_("Open in CRM link (off when empty)"),
    "webhook_url": N_("Webhook receiver (off when empty)"),
    "country_code": N_("Country code (phonebook numbers)"),
    "area_code": N_("Area code (local calls)"),
    "ban_failures": N_("Ban an address after this many failed logins"),
    "ban_window_seconds": N_("... within (seconds)"),
    "ban_seconds": N_("First ban lasts (seconds)"),
    "ban_max_seconds": N_("Longest ban (seconds)"),
    "ban_allow": N_("Never ban these addresses and networks"),
    "local_networks": N_("Local networks (phones may register from)"),
    "dial_permission_default": N_("Extensions may dial (unless set on the extension)"),
    "max_outbound_calls": N_("Outbound calls at once, whole site"),
    "outbound_daily_minutes": N_("Outbound minutes a day, whole site"),
    "outbound_monthly_minutes": N_("Outbound minutes a month, whole site"),
    "department_budgets": N_("Departments' monthly budgets"),
    "budget_warn_percent": N_("Warn at this share of a budget (%)"),
    "budget_action": N_("When a budget is spent"),
    "outbound_hours": N_("Open hours for outbound calls (time condition)"),
    "out_of_hours_permission": N_("Outside those hours, extensions may dial"),
    "supervisor_monitoring": N_("Supervisors may listen, whisper and barge"),
}
HINTS = {
    "sip_bind": N_("0.0.0.0 listens on every address of the box."),
    "sip_port": N_("Phones and providers send SIP here (usually 5060)."),
    "sip_tls_port": N_("Phones set to TLS connect here (usually 5061); the certificate: %(command)s."),
    "dial_permission_default": N_("Emergency numbers (110, 119, 120, 122, 112) always go out, whatever is chosen "
                                  "here or reached below."),
    "max_outbound_calls": N_("0 = no limit. Each extension may have its own limit too."),
    "outbound_daily_minutes": N_("0 = no cap; a call is cut when the cap is reached, the next one refused."),
    "department_budgets": N_("Department=amount, separated by commas (Sales=500, Support=120.50), in the "
                             "rates' currency."),
    "outbound_hours": N_("The name of a time condition; empty = the same permission at every hour."),
    "sip_encryption": N_("For extensions and trunks that do not choose their own. Preferred: SRTP when the other "
                         "side can, else plain; required: a call without SRTP is refused. SRTP keys travel safely "
                         "only over TLS."),
    "supervisor_monitoring": N_("From the wallboard, on agents' live calls; every use is in the audit log. "
                                "Forbidden refuses it at once; apply to remove it from the dialplan too."),
    "rtp_end": N_("Audio uses the UDP ports in this range; allow it through any firewall."),
    "ami_port": N_("Local port Linebox uses to control Asterisk."),
    "timezone": N_("An IANA name such as Asia/Shanghai or Europe/London. Reports, the wallboard's today, "
                   "recording retention and call-record search count days from its midnight; times are shown "
                   "in it."),
    "language": N_("Chinese (zh) also sets the cn tone zone, Asia/Shanghai and Mandarin prompts while those are "
                   "still at their defaults, and starts CSV downloads with a byte-order mark for Excel."),
    "recording_retention_days": N_("%(command)s deletes recordings older than this; 0 keeps them for ever."),
    "tone_zone": N_("The country whose dial, ringing and busy tones analog phones and lines use "
                    "(us, uk, de, tr, ...)."),
    "caller_name_lookup": N_("Calls through inbound routes that come without a name get the contact's name."),
    "agi_port": N_("Local port of %(command)s; restart it after a change, then apply."),
    "robot_port": N_("Local port of %(command)s; restart it after a change, then apply."),
    "cluster_edge": N_("The Kamailio edge's address, the one address phones and trunks use in front of "
                       "several Asterisk nodes (cluster nodes). Empty: one box."),
    "crm_lookup_url": N_("http(s) address with {number} where the caller's number goes; its JSON answer (name, "
                         "company, link) shows in the agent's pop. Nothing is sent while empty: see CRM."),
    "crm_open_url": N_("http(s) address with {number}: a link in the agent's pop that opens the caller in your "
                       "CRM."),
    "webhook_url": N_("http(s) address that receives call events as signed JSON. Nothing is sent while empty: "
                      "see CRM."),
    "country_code": N_("Digits only (44, 1, 33): +44 20 ..., 020 ... and 20 ... are then the same number."),
    "area_code": N_("Without the leading 0 (21 for Shanghai): fixed lines in this area are local calls."),
    "ban_failures": N_("Wrong SIP passwords, calls to accounts that do not exist, ... from one address; 0 never bans."),
    "ban_seconds": N_("Each new ban of the same address within a day lasts twice as long, up to the longest ban."),
    "ban_allow": N_("Comma separated, e.g. 192.168.1.0/24, 203.0.113.5: your LAN and your SIP providers."),
    "local_networks": N_("Networks separated by commas (192.168.10.0/24, 10.20.0.0/16): an extension without "
                      "permitted networks of its own may register and call from these only."),
}

# the command or unit a hint names (%(command)s), shown as typed
HINT_COMMANDS = {"recording_retention_days": "linebox recordings purge", "agi_port": "linebox-agi.service",
                 "robot_port": "linebox-robot.service",
                 "sip_tls_port": "linebox tls show"}


@dataclass(frozen=True)
class SettingField:
    name: str
    label: str
    widget: str  # text | number | checkbox | select
    choices: tuple[str, ...] = ()
    hint: str = ""

    def shown_hint(self) -> Markup:
        """The hint in the page's language, with the command it names as code."""
        text = Markup.escape(gettext(self.hint)) if self.hint else Markup("")
        command = HINT_COMMANDS.get(self.name)
        return text % {"command": Markup("<code>%s</code>") % command} if command else text


def setting_fields() -> list[SettingField]:
    """One form field per setting, in the schema's order."""
    out = []
    for name, info in schemas.Settings.model_fields.items():
        annotation = info.annotation
        while typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        label = LABELS.get(name, name.replace("_", " ").capitalize())
        common: dict[str, typing.Any] = {"name": name, "label": label, "hint": HINTS.get(name, "")}
        if annotation is bool:
            out.append(SettingField(widget="checkbox", **common))
        elif typing.get_origin(annotation) is typing.Literal:
            out.append(SettingField(widget="select", choices=tuple(str(a) for a in typing.get_args(annotation)),
                                    **common))
        elif annotation is int:
            out.append(SettingField(widget="number", **common))
        else:
            out.append(SettingField(widget="text", **common))
    return out


def _page(values: dict, errors: dict[str, list[str]], general: list[str], status: int = 200):
    return render_template("settings.html", fields=setting_fields(), values=values, errors=errors, general=general,
                           form=EmptyForm(), nav_active="settings"), status


@blueprint.route("/settings")
@require_role(ADMIN)
def settings_page():
    values = {name: ("" if value is None else value) for name, value in service.load_settings().model_dump().items()}
    return _page(values, {}, [])


@blueprint.route("/settings", methods=["POST"])
@require_role(ADMIN)
def settings_save() -> ResponseReturnValue:
    fields = setting_fields()
    raw: dict = {}
    for f in fields:
        raw[f.name] = f.name in request.form if f.widget == "checkbox" else request.form.get(f.name, "").strip()
    # only what the admin changed goes to the save: a site switched to Chinese then also gets the settings
    # that language brings (cn tones, Beijing time) where the form left them as they were
    stored = {name: "" if value is None else value for name, value in service.load_settings().model_dump().items()}
    changed = {name: value for name, value in raw.items()
               if not (name in stored and (value == stored[name] or str(value) == str(stored[name])))}
    try:
        service.save_settings(changed, current_user.username)
    except SiteError as error:
        names = {f.name for f in fields}
        errors: dict[str, list[str]] = {}
        general = []
        for problem in error.problems:
            name = problem.where.removeprefix("settings.").split(".")[0]
            message = objectforms.friendly(problem.message)
            if name in names:
                errors.setdefault(name, []).append(message)
            else:
                general.append(problem_text(problem))
        return _page(raw, errors, general, 422)
    flash(gettext("Settings saved. Asterisk and DAHDI settings take effect when you apply the changes."), "info")
    return redirect(url_for("pages.settings_page"))
