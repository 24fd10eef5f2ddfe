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
from flask_login import current_user

from appliance.access.accounts import ROLES
from appliance.site.kinds import KINDS
from appliance.web.auth import login_manager

ADMIN = "admin"
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
    label: str
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
    return NavItem(slug, NAV_LABELS.get(kind_name, k.title), "pages.objects_list", (("slug", slug),))


NAV_LABELS = {"moh_class": "Music on hold"}  # shorter than the page's title; every other kind's link is its title
# where each kind of object goes in the navigation; a kind not named here is listed under "More"
NAV_LAYOUT = [
    ("Phones", ("extension", "ring_group", "voicemail_box")),
    ("Call center", ("queue", "ivr")),
    ("Routing", ("trunk", "inbound_route", "outbound_route", "time_condition", "announcement", "moh_class")),
    ("Telephony cards", ("dahdi_trunk", "analog_port", "span")),
]


def _build_navigation() -> list[tuple[str, list[NavItem]]]:
    groups: list[tuple[str, list[NavItem]]] = [("", [
        NavItem("status", "Status", "views.status", roles=ROLES),
        NavItem("wallboard", "Wallboard", "wallboard.page", roles=("admin", "supervisor", "technician")),
        NavItem("recordings", "Recordings", "recordings.page", roles=("admin", "supervisor")),
        NavItem("reports", "Reports", "callcenter.reports_page", roles=("admin", "supervisor")),
        NavItem("agent", "My queues", "callcenter.agent_page", roles=("agent", "admin")),
    ])]
    placed: set[str] = set()
    for title, names in NAV_LAYOUT:
        items = [_objects(name) for name in names if name in KINDS]
        if title == "Call center":
            items.append(NavItem("sounds", "Sounds", "callcenter.sounds_page"))  # IVR greetings
            items.append(NavItem("contacts", "Phonebook", "contacts.page", roles=PHONEBOOK_READERS))
        placed.update(names)
        if items:
            groups.append((title, items))
    rest = [_objects(name) for name in KINDS if name not in placed]
    if rest:
        groups.append(("More", rest))
    groups.append(("System", [
        NavItem("hardware", "Hardware", "hardware.page"),
        NavItem("gateways", "Gateways", "gateways.page"),
        NavItem("apply", "Apply", "pages.apply_page"),
        NavItem("audit", "Audit log", "pages.audit_page"),
        NavItem("bans", "Bans", "pages.bans_page"),
        NavItem("users", "Users", "pages.users_page"),
        NavItem("backups", "Backups", "backups.page", roles=(ADMIN,)),
        NavItem("settings", "Settings", "pages.settings_page", roles=("admin",)),
    ]))
    return groups


NAVIGATION = _build_navigation()


def navigation() -> list[tuple[str, list[NavItem]]]:
    """The navigation groups the current user may use (empty groups left out)."""
    if not current_user.is_authenticated:
        return []
    out = []
    for title, items in NAVIGATION:
        visible = [item for item in items if current_user.role in item.roles]
        if visible:
            out.append((title, visible))
    return out


def template_globals() -> dict:
    return {"can_edit": can_edit(), "navigation": navigation}
