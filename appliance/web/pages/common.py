"""Small helpers shared by the pages: kinds by URL slug, paging, the install."""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import abort, current_app, request

from appliance.install import Install
from appliance.site.kinds import KINDS, Kind

PER_PAGE = 50
SLUGS: dict[str, Kind] = {k.plural.replace("_", "-"): k for k in KINDS.values()}
SLUG_OF: dict[str, str] = {k.name: slug for slug, k in SLUGS.items()}
SLUG_RULE = "any(" + ", ".join(f"'{slug}'" for slug in SLUGS) + ")"  # URL converter: only known kinds reach the views


def kind_for(slug: str) -> Kind:
    if slug not in SLUGS:
        abort(404)
    return SLUGS[slug]


def install() -> Install:
    return current_app.extensions["linebox.install"]


def page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@dataclass
class Paging:
    page: int
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def first_shown(self) -> int:
        return min(self.total, self.offset + 1)

    @property
    def last_shown(self) -> int:
        return min(self.total, self.offset + self.per_page)

    def args(self, page: int) -> dict:
        """The current query arguments with another page number (for the links)."""
        values: dict[str, str | int] = {k: v for k, v in request.args.items() if v}
        values["page"] = page
        return values
