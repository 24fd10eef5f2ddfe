"""Who may open which page: ``require_role`` on every view, and the role-aware navigation.

* admin: everything.
* technician: every page, read-only: a POST (or any other changing method) is refused with 403.
* supervisor: status, wallboard, recordings and reports; agent: status and their own queues page.
* the Settings page is for admins only.

``require_role(*roles)`` names the roles that may open a view; changing
requests additionally need a role in ``write`` (admins only by default).
Templates get ``can_edit`` to hide buttons a read-only user could not use
anyway; the server refuses the request whatever the page shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import abort, request, url_for
from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from appliance.access.accounts import ROLES
from appliance.catalog import N_
from appliance.site.checks import describe_destination
from appliance.site.kinds import KINDS, choice_label
from appliance.web.auth import login_manager

ADMIN = "admin"
AGENT = "agent"
VIEWERS = ("admin", "technician")  # roles that may look at the configuration pages
EDITORS = ("admin",)  # roles that may change anything
# the phonebook is looked up by supervisors too (screen pops, caller names); the API uses the same roles
PHONEBOOK_READERS = ("admin", "technician", "supervisor")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def require_role(*roles: str, write: tuple[str, ...] = EDITORS) -> Callable:
    """Let only ``roles`` open the view, and only ``write`` roles send it a changing request."""
    unknown = (set(roles) | set(write)) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}" if unknown else "name at least one role")

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            if request.method not in SAFE_METHODS and current_user.role not in write:
                abort(403)
            return view(*args, **kwargs)

        # read by the test that every view is guarded; a function attribute, unknown to mypy
        wrapper.linebox_roles = tuple(roles)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def can_edit() -> bool:
    return current_user.is_authenticated and current_user.role in EDITORS


@dataclass(frozen=True)
class NavItem:
    id: str
    label: str | LazyString  # lazy: shown in the language of the request that renders it
    endpoint: str
    args: tuple[tuple[str, str], ...] = ()
    roles: tuple[str, ...] = VIEWERS

    @property
    def url(self) -> str:
        values: dict[str, Any] = dict(self.args)  # Any: url_for's own keywords (_external...) are not str
        return url_for(self.endpoint, **values)

    def is_active(self, nav_active: str | None) -> bool:
        """``nav_active`` is what the page says it belongs to; pages that say nothing match by endpoint."""
        if nav_active:
            return nav_active == self.id
        return request.endpoint == self.endpoint


def _objects(kind_name: str) -> NavItem:
    k = KINDS[kind_name]
    slug = k.plural.replace("_", "-")
    return NavItem(slug, NAV_LABELS.get(kind_name, kind_title(k.name)), "pages.objects_list", (("slug", slug),))


# each kind's page title (appliance.site.kinds' ``title``) through the catalog
KIND_TITLES = {
    "extension": _l("Extensions"),
    "trunk": _l("Trunks"),
    "voicemail_box": _l("Voicemail boxes"),
    "ring_group": _l("Ring groups"),
    "moh_class": _l("Music-on-hold classes"),
    "announcement": _l("Announcements"),
    "queue": _l("Queues"),
    "ivr": _l("IVR menus"),
    "robot": _l("Voice robots"),
    "cluster_node": _l("Cluster nodes"),
    "time_condition": _l("Time conditions"),
    "dahdi_trunk": _l("DAHDI trunks"),
    "analog_port": _l("Analog ports"),
    "span": _l("Spans"),
    "inbound_route": _l("Inbound routes"),
    "outbound_route": _l("Outbound routes"),
}


# each kind's ``label`` and ``plural_text``, as written inside a sentence ("New extension", "No trunks yet.")
KIND_LABELS = {
    "extension": (_l("extension"), _l("extensions")),
    "trunk": (_l("trunk"), _l("trunks")),
    "voicemail_box": (_l("voicemail box"), _l("voicemail boxes")),
    "ring_group": (_l("ring group"), _l("ring groups")),
    "moh_class": (_l("music-on-hold class"), _l("music-on-hold classes")),
    "announcement": (_l("announcement"), _l("announcements")),
    "queue": (_l("queue"), _l("queues")),
    "ivr": (_l("IVR menu"), _l("IVR menus")),
    "robot": (_l("voice robot"), _l("voice robots")),
    "cluster_node": (_l("cluster node"), _l("cluster nodes")),
    "time_condition": (_l("time condition"), _l("time conditions")),
    "dahdi_trunk": (_l("DAHDI trunk"), _l("DAHDI trunks")),
    "analog_port": (_l("analog port"), _l("analog ports")),
    "span": (_l("span"), _l("spans")),
    "inbound_route": (_l("inbound route"), _l("inbound routes")),
    "outbound_route": (_l("outbound route"), _l("outbound routes")),
}


# the key fields' names, as the list's search box says them ("Search by number or name"): shown with _(kind.key)
KEY_NAMES = (N_("number"), N_("name"), N_("channel"), N_("span"))


# what a destination's kind is called in a table cell ("queue 500"; appliance.site.checks.describe_destination)
DESTINATION_WORDS = {
    "hangup": _l("hangup"), "extension": _l("extension"), "voicemail": _l("voicemail"), "queue": _l("queue"),
    "ringgroup": _l("ring group"), "timecondition": _l("time condition"), "announcement": _l("announcement"),
    "ivr": _l("IVR menu"), "robot": _l("voice robot"), "inbound_routes": _l("inbound routes"),
}


def destination_label(value: str, label: str) -> str | LazyString:
    """A destination as the form's select offers it: an extension with its name as stored, the others in words."""
    if value == "hangup":
        return _l("Hang up")
    return label if value.startswith("extension:") else destination_text(value)


def destination_text(destination: str) -> str:
    """A destination as a table cell says it, in the request's language ("queue 500", "队列 500")."""
    kind, _, target = destination.partition(":")
    word = DESTINATION_WORDS.get(kind)
    return f"{word} {target}".strip() if word is not None else describe_destination(destination)


def kind_title(kind_name: str) -> str | LazyString:
    """The kind's page title in the request's language (the English title for a kind not in the table)."""
    return KIND_TITLES.get(kind_name) or KINDS[kind_name].title


def kind_label(kind_name: str, plural: bool = False) -> str | LazyString:
    """The kind's name inside a sentence, in the request's language: "extension", or "extensions"."""
    if kind_name in KIND_LABELS:
        return KIND_LABELS[kind_name][1 if plural else 0]
    return KINDS[kind_name].plural_text if plural else KINDS[kind_name].label


NAV_LABELS = {"moh_class": _l("Music on hold")}  # shorter than the page's title; other kinds' link is their title
# where each kind of object goes in the navigation; a kind not named here is listed under "More"
NAV_LAYOUT = [
    (_l("Phones"), ("extension", "ring_group", "voicemail_box")),
    (_l("Call center"), ("queue", "ivr", "robot")),
    (_l("Routing"), ("trunk", "inbound_route", "outbound_route", "time_condition", "announcement", "moh_class")),
    (_l("Telephony cards"), ("dahdi_trunk", "analog_port", "span")),
]


Group = tuple[str | LazyString, list[NavItem]]


def _build_navigation() -> list[Group]:
    groups: list[Group] = [("", [
        NavItem("status", _l("Status"), "views.status", roles=ROLES),
        NavItem("wallboard", _l("Wallboard"), "wallboard.page", roles=("admin", "supervisor", "technician")),
        NavItem("calls", _l("Call records"), "callrecords.page", roles=("admin", "supervisor")),
        NavItem("recordings", _l("Recordings"), "recordings.page", roles=("admin", "supervisor")),
        NavItem("reports", _l("Reports"), "callcenter.reports_page", roles=("admin", "supervisor")),
        NavItem("costs", _l("Costs"), "costs.page", roles=("admin", "supervisor")),
        NavItem("agent", _l("My queues"), "callcenter.agent_page", roles=("agent", "admin")),
        NavItem("missed", _l("Missed calls"), "missed.page", roles=("agent", "supervisor", "admin")),
    ])]
    placed: set[str] = set()
    for title, names in NAV_LAYOUT:
        items = [_objects(name) for name in names if name in KINDS]
        if names == NAV_LAYOUT[1][1]:  # the call center's group
            items.append(NavItem("sounds", _l("Sounds"), "callcenter.sounds_page"))  # IVR greetings
            items.append(NavItem("prompts", _l("Prompts"), "callcenter.prompts_page"))  # what callers hear
            items.append(NavItem("contacts", _l("Phonebook"), "contacts.page", roles=PHONEBOOK_READERS))
        if names == NAV_LAYOUT[2][1]:  # routing: where a call goes, worked out (appliance.web.trace)
            items.append(NavItem("trace", _l("Call trace"), "trace.page", roles=("admin", "technician", "supervisor")))
        placed.update(names)
        if items:
            groups.append((title, items))
    rest = [_objects(name) for name in KINDS if name not in placed]
    if rest:
        groups.append((_l("More"), rest))
    groups.append((_l("System"), [
        NavItem("hardware", _l("Hardware"), "hardware.page"),
        NavItem("gateways", _l("Gateways"), "gateways.page"),
        NavItem("apply", _l("Apply"), "pages.apply_page"),
        NavItem("audit", _l("Audit log"), "pages.audit_page"),
        NavItem("bans", _l("Bans"), "pages.bans_page"),
        NavItem("crm", _l("CRM"), "pages.crm_page"),
        NavItem("users", _l("Users"), "pages.users_page"),
        NavItem("backups", _l("Backups"), "backups.page", roles=(ADMIN,)),
        NavItem("settings", _l("Settings"), "pages.settings_page", roles=("admin",)),
    ]))
    return groups


NAVIGATION = _build_navigation()


def navigation() -> list[Group]:
    """The navigation groups the current user may use (empty groups left out)."""
    if not current_user.is_authenticated:
        return []
    out = []
    for title, items in NAVIGATION:
        visible = [item for item in items if current_user.role in item.roles]
        if visible:
            out.append((title, visible))
    return out


# the roles as the header shows them (appliance.access.accounts.ROLES are identifiers)
ROLE_LABELS = {"admin": _l("admin"), "supervisor": _l("supervisor"), "technician": _l("technician"),
               "agent": _l("agent")}


def choice_text(value: str, field: str = "") -> str:
    """A stored choice (``ascending``, ``cpe``) of ``field`` as a select names it, in the request's language."""
    return gettext(choice_label(value, field))


def role_label(role: str) -> str | LazyString:
    return ROLE_LABELS.get(role, role)


def template_globals() -> dict:
    return {"can_edit": can_edit(), "navigation": navigation, "kind_title": kind_title, "kind_label": kind_label,
            "destination_label": destination_label, "destination_text": destination_text,
            "choice_text": choice_text, "role_label": role_label}
