"""What one change can break, asked of the database: the checks a single save or delete needs.

``checks.check_site`` looks at the whole site, which is right for apply and
import.  Saving one object used to run it twice (before and after, keeping
only the new problems): on a site with 10,000 extensions that is two full
loads and checks per save, about a third of a second, so an API client
created fewer than 3 extensions a second and a CSV import of 10,000 rows
took most of an hour.

One change can only break:

* the object itself: every destination, member, trunk, music-on-hold class
  or mailbox it names must exist;
* uniqueness: its number against every kind sharing the numbering plan
  (extensions, ring groups, voicemail boxes, queues), and an inbound
  route's DID and caller-ID pair;
* the objects that point at it, at its old key or at its new one (rename,
  delete, an extension's voicemail switched off);
* a loop, when it is a time condition, announcement or IVR menu (the only
  objects that pass a call on without ringing anyone).

Each of these is a handful of indexed queries.  Telephony hardware (DAHDI
trunks, analog ports, spans) is checked as a whole by ``checks.dahdi_problems``
(channels may overlap in many ways); when any is stored, that function runs
before and after on the DAHDI objects plus the keys of everything they can
name (one narrow query per kind, no schema objects for 10,000 extensions).

A kind this module does not know (not in ``KNOWN``) may point at others in
ways it cannot see: a change to one, or any change while one has stored
objects, falls back to checking the whole site before and after (correct,
just slower).  A new kind that points at others belongs in
``REFERENCE_COLUMNS`` and ``reference_problems``.
  The messages are the full
check's, word for word, and as before only problems the change introduces
are reported (a fault already stored elsewhere does not block an unrelated
save); ``tests/unit/test_impact.py`` compares both on random changes.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any, cast

from appliance.catalog import N_
from appliance.errors import Message, Problem, missing
from appliance.model.database import database
from appliance.model.models import Gateway, GatewayPort
from appliance.site import queries, schemas
from appliance.site.checks import (
    Site,
    _label,
    _loops,
    check_site,
    dahdi_problems,
    describe_destination,
    destination_fields,
    number_taken,
    route_taken,
)
from appliance.site.kinds import KINDS

HANDLED = frozenset({"extension", "trunk", "voicemail_box", "ring_group", "moh_class", "announcement", "queue",
                     "ivr", "time_condition", "inbound_route", "outbound_route"})
DAHDI_KINDS = ("dahdi_trunk", "analog_port", "span")
KNOWN = HANDLED | frozenset(DAHDI_KINDS)
# kinds other objects point at: only a change to one of these can break a referrer
REFERABLE = frozenset({"extension", "voicemail_box", "ring_group", "queue", "time_condition", "announcement", "ivr",
                       "trunk", "moh_class", "dahdi_trunk"})
NUMBERED = ("extension", "ring_group", "voicemail_box", "queue")  # one numbering plan, in check_site's order
LOOP_KINDS = ("time_condition", "announcement", "ivr")
TARGET_KINDS = {"extension": "extension", "ringgroup": "ring_group", "timecondition": "time_condition",
                "announcement": "announcement", "ivr": "ivr", "queue": "queue", "robot": "robot"}
# the columns through which objects point at others, and how a key appears there: "json" (a JSON list holding
# "100" or "extension:100"), "destination" (extension:100) or "exact" (the key alone)
REFERENCE_COLUMNS = {
    "ring_group": (("members", "json"), ("fallback", "destination")),
    "time_condition": (("open_destination", "destination"), ("closed_destination", "destination")),
    "inbound_route": (("destination", "destination"),),
    "announcement": (("destination", "destination"),),
    "ivr": (("options", "json"), ("timeout_destination", "destination"), ("invalid_destination", "destination")),
    "queue": (("members", "json"), ("overflow", "destination"), ("moh_class", "exact"), ("exit_voicemail", "exact")),
    "outbound_route": (("trunks", "json"),),
}


@dataclass(frozen=True)
class Change:
    """``old`` (stored under ``old_key``) becomes ``new``; ``new`` None is a delete, ``old`` None a create."""

    kind: str
    old: schemas.SiteObject | None
    new: schemas.SiteObject | None

    def key_of(self, obj: schemas.SiteObject | None) -> str | None:
        return None if obj is None else getattr(obj, KINDS[self.kind].key)

    @property
    def old_key(self) -> str | None:
        return self.key_of(self.old)

    @property
    def new_key(self) -> str | None:
        return self.key_of(self.new)


class StoredView:
    """The stored site as it would be after ``change`` (None: as it is), answered by queries."""

    def __init__(self, change: Change | None = None):
        self.change = change

    def _overlay(self, kind: str, key: str) -> tuple[bool, schemas.SiteObject | None]:
        """(decided, object): whether the change decides what ``kind`` ``key`` is, and what it is then."""
        change = self.change
        if change is None or change.kind != kind:
            return False, None
        if change.new is not None and change.new_key == key:
            return True, change.new
        if change.old_key == key:
            return True, None
        return False, None

    def has(self, kind: str, key: str) -> bool:
        decided, obj = self._overlay(kind, key)
        if decided:
            return obj is not None
        k = KINDS[kind]
        return k.model.select().where(getattr(k.model, k.key) == key).exists()

    def extension_voicemail(self, number: str) -> bool | None:
        """Whether extension ``number`` has voicemail; None if there is no such extension."""
        decided, obj = self._overlay("extension", number)
        if decided:
            return None if obj is None else cast("schemas.Extension", obj).voicemail
        model = KINDS["extension"].model
        row = model.select(model.voicemail).where(model.number == number).tuples().first()
        return None if row is None else bool(row[0])

    def has_mailbox(self, number: str) -> bool:
        return bool(self.extension_voicemail(number)) or self.has("voicemail_box", number)

    def target_exists(self, dkind: str, target: str) -> bool:
        if dkind == "voicemail":
            return self.has_mailbox(target)
        return self.has(TARGET_KINDS[dkind], target)

    def has_moh(self, name: str) -> bool:
        return name == "default" or self.has("moh_class", name)


def reference_problems(kind: str, obj, view: StoredView) -> list[Problem]:
    """What ``obj`` names that does not exist in ``view``: the full check's messages, for one object."""
    problems: list[Problem] = []
    for fname in destination_fields(kind):
        dest = getattr(obj, fname)
        dkind, _, target = dest.partition(":")
        if dkind != "hangup" and not view.target_exists(dkind, target):
            why = N_("%(target)s has no voicemail") if dkind == "voicemail" and view.has("extension", target) \
                else N_("%(target)s does not exist")
            problems.append(Problem(f"{_label(kind, obj)} {fname}", Message(why, target=describe_destination(dest))))
    if kind == "ivr":
        for option in obj.options:
            if not option.destination:  # a key that only switches the language
                continue
            dkind, _, target = option.destination.partition(":")
            if dkind != "hangup" and not view.target_exists(dkind, target):
                problems.append(Problem(f"IVR menu {obj.name} option {option.digit}",
                                        Message(N_("%(target)s does not exist"),
                                                target=describe_destination(option.destination))))
    elif kind == "queue":
        where = f"queue {obj.number}"
        for member in obj.members:
            if not view.has("extension", member.extension):
                problems.append(Problem(f"{where} members", missing(N_("extension"), member.extension)))
        if not view.has_moh(obj.moh_class):
            problems.append(Problem(f"{where} moh_class", missing(N_("music-on-hold class"), obj.moh_class)))
        if obj.exit_voicemail and not view.has_mailbox(obj.exit_voicemail):
            problems.append(Problem(f"{where} exit_voicemail", missing(N_("voicemail box"), obj.exit_voicemail)))
    elif kind == "ring_group":
        for member in obj.members:
            if not view.has("extension", member):
                problems.append(Problem(f"ring group {obj.number} members", missing(N_("extension"), member)))
    elif kind == "outbound_route":
        for trunk in obj.trunks:  # a SIP trunk or a DAHDI trunk
            if not view.has("trunk", trunk) and not ("dahdi_trunk" in KINDS and view.has("dahdi_trunk", trunk)):
                problems.append(Problem(f"outbound route {obj.name} trunks", missing(N_("trunk"), trunk)))
    return problems


def _table(kind: str) -> str:
    return KINDS[kind].model._meta.table_name


def _number_holders(number: str) -> set[str]:
    """The kinds sharing the numbering plan whose stored objects include ``number``: one query for all four."""
    sql = " UNION ALL ".join(f"SELECT '{kind}' FROM \"{_table(kind)}\" WHERE number = ?" for kind in NUMBERED)
    return {kind for (kind,) in database.execute_sql(sql, [number] * len(NUMBERED)).fetchall()}


def _number_problems(change: Change) -> list[Problem]:
    """The new object's number held by another kind: worded as the full check words it (first kind owns it).

    Only what the change adds is reported: the number's holders after the change (the stored ones plus the
    changed object's kind) against the stored ones.
    """
    number = change.new_key
    assert number is not None  # check_change asks only of a create or an update
    stored = _number_holders(number)

    def problems(holders: set[str]) -> list[Problem]:
        owners = [Message(N_("%(kind)s %(key)s"), kind=Message(KINDS[kind].label), key=number)
                  for kind in NUMBERED if kind in holders]
        return [Problem(f"{label} number", number_taken(number, owners[0])) for label in owners[1:]]

    known = {str(p) for p in problems(stored)}
    return [p for p in problems(stored | {change.kind}) if str(p) not in known]


def _kinds_in_use(names: list[str]) -> set[str]:
    """Which of the kinds ``names`` have at least one stored object (one query)."""
    if not names:
        return set()
    sql = " UNION ALL ".join(f"SELECT '{name}' FROM (SELECT 1 FROM \"{_table(name)}\" LIMIT 1) AS one"
                             for name in names)
    return {name for (name,) in database.execute_sql(sql).fetchall()}


def _inbound_problems(change: Change) -> list[Problem]:
    route = cast("schemas.InboundRoute", change.new)  # check_change asks only of a saved inbound route
    model = KINDS["inbound_route"].model
    query = model.select(model.name).where((model.did == route.did) & (model.cid == route.cid))
    if change.old_key is not None:
        query = query.where(model.name != change.old_key)
    others = sorted(name for (name,) in query.tuples())
    if not others:
        return []
    return [Problem(f"inbound route {route.name} did", route_taken(route, others[0]))]


def _referrer_ids(keys: set[str]) -> dict[str, list[int]]:
    """Row ids of the objects whose reference columns mention any of ``keys``: one query over every kind.

    LIKE is a wide net ('_' in a name matches any character, a JSON list holding "100" may hold it as
    a queue member or as a digit's destination): the checks on the rows found decide.  The query text
    is built from column names only; the keys travel as parameters.
    """
    parts, params = [], []
    for kind, columns in REFERENCE_COLUMNS.items():
        if kind not in KINDS:
            continue
        terms = []
        for name, style in columns:
            column = f'"{getattr(KINDS[kind].model, name).column_name}"'
            for key in sorted(keys):
                if style == "json":
                    terms += [f"{column} LIKE ?", f"{column} LIKE ?"]
                    params += [f'%"{key}"%', f'%:{key}"%']
                elif style == "destination":
                    terms.append(f"{column} LIKE ?")
                    params.append(f"%:{key}")
                else:
                    terms.append(f"{column} = ?")
                    params.append(key)
        parts.append(f"SELECT '{kind}', id FROM \"{_table(kind)}\" WHERE {' OR '.join(terms)}")
    found: dict[str, list[int]] = {}
    if parts and keys:
        for kind, row_id in database.execute_sql(" UNION ALL ".join(parts), params).fetchall():
            found.setdefault(kind, []).append(row_id)
    return found


def referrers(keys: set[str], skip: tuple[str, str | None]) -> list[tuple[str, schemas.SiteObject]]:
    """Objects that may point at any of ``keys`` (a superset: the checks decide), except ``skip`` (kind, key)."""
    found = []
    for kind, ids in _referrer_ids(keys).items():
        k = KINDS[kind]
        fields = [getattr(k.model, name) for name in k.schema.model_fields]
        for row in k.model.select(*fields).where(k.model.id.in_(ids)).dicts():
            obj = k.schema.model_validate(row)
            if (kind, getattr(obj, k.key)) != skip:
                found.append((kind, obj))
    return found


def _loop_problems(change: Change) -> list[Problem]:
    before = Site()
    for kind in LOOP_KINDS:
        if kind in KINDS:
            before.objects[kind] = queries.list_objects(kind)
    key = KINDS[change.kind].key
    after = Site(objects=dict(before.objects))
    kept = [o for o in before.objects[change.kind] if getattr(o, key) != change.old_key]
    after.objects[change.kind] = [*kept, *([change.new] if change.new is not None else [])]
    known = {str(p) for p in _loops(before)}
    return [p for p in _loops(after) if str(p) not in known]


def _whole_site_check(change: Change) -> list[Problem]:
    """The slow, always-right way: check the whole site before and after the change, keep the new problems."""
    before = queries.snapshot()
    key = KINDS[change.kind].key
    kept = [o for o in before.objects[change.kind] if getattr(o, key) != change.old_key]
    after = Site(objects={**before.objects, change.kind: [*kept, *([change.new] if change.new is not None else [])]},
                 settings=before.settings)
    known = {str(p) for p in check_site(before)}
    return [p for p in check_site(after) if str(p) not in known]


_Extension = namedtuple("_Extension", ["number", "voicemail"])  # noqa: PYI024  (voicemail: 0 or 1, as stored)


def _words(value) -> set[str]:
    """Every text in a DAHDI object's fields, and the target of each destination in it (``extension:100``)."""
    if isinstance(value, dict):
        return set().union(*map(_words, value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*map(_words, value)) if value else set()
    if isinstance(value, str) and value:
        return {value, value.partition(":")[2]} - {""}
    return set()


def _dahdi_site(change: Change) -> Site:
    """What ``dahdi_problems`` reads: the DAHDI objects whole, and of every other kind the objects they could name.

    ``dahdi_problems`` only asks whether a key a DAHDI object holds exists (an FXS port's extension, a DAHDI
    trunk's destination, a SIP trunk with a DAHDI trunk's name), so any other object is left out: a site with
    10,000 extensions and four analog ports loads four extensions.
    """
    site = Site()
    named: set[str] = set()
    for name in DAHDI_KINDS:
        if name in KINDS:
            site.objects[name] = queries.list_objects(name)
            named |= _words([o.model_dump() for o in site.objects[name]])
    if change.new is not None and change.kind in DAHDI_KINDS:
        named |= _words(change.new.model_dump())
    for name, k in KINDS.items():
        if name in DAHDI_KINDS or not named:
            continue
        column = getattr(k.model, k.key)
        stand_ins: list[Any]  # named tuples, not schema objects: only the fields dahdi_problems reads
        if name == "extension":
            query = k.model.select(column, k.model.voicemail).where(column.in_(sorted(named)))
            stand_ins = [_Extension._make(row) for row in query.tuples()]
        else:
            # a type per kind, named for it; mypy only knows named tuples with literal names (it reads this one as Any)
            row_type = namedtuple(f"_{name}", [k.key])  # type: ignore[misc]  # noqa: PYI024  (one field: the key)
            query = k.model.select(column).where(column.in_(sorted(named)))
            stand_ins = [row_type._make(row) for row in query.tuples()]
        site.objects[name] = stand_ins
    return site


def _dahdi_problems(change: Change) -> list[Problem]:
    """New problems among DAHDI trunks, analog ports and spans (they name extensions, destinations, trunks)."""
    before = _dahdi_site(change)
    key, old_key = KINDS[change.kind].key, change.old_key
    after = Site(objects=dict(before.objects), settings=before.settings)
    kept = [o for o in before.objects[change.kind] if getattr(o, key) != old_key]
    after.objects[change.kind] = [*kept, *([change.new] if change.new is not None else [])]
    known = {str(p) for p in dahdi_problems(before)}
    return [p for p in dahdi_problems(after) if str(p) not in known]


def _gateway_port_problems(change: Change) -> list[Problem]:
    """Gateway ports bound to the extension or trunk the change takes away (delete or rename).

    An FXS port registers as its extension and an FXO port is reached through its trunk; gateways are
    not site objects (``check_site`` does not see them), so a port left naming nothing would only show
    as a dead phone or line.
    """
    column = {"extension": GatewayPort.extension, "trunk": GatewayPort.trunk}.get(change.kind)
    if column is None or change.old_key is None or change.old_key == change.new_key:
        return []
    ports = (GatewayPort.select(GatewayPort.number, Gateway.name, Gateway.mac).join(Gateway)
             .where(column == change.old_key).order_by(Gateway.mac, GatewayPort.number).tuples())
    return [Problem(f"gateway {name or mac} port {number} {change.kind}",
                    missing(KINDS[change.kind].label, change.old_key)) for number, name, mac in ports]


def check_change(change: Change) -> list[Problem]:
    """The problems ``change`` would introduce into the stored site (empty: it may be written)."""
    in_use = _kinds_in_use([name for name in KINDS if name not in HANDLED])
    if change.kind not in KNOWN or in_use - KNOWN:
        return _whole_site_check(change) + _gateway_port_problems(change)
    before, after = StoredView(), StoredView(change)
    problems: list[Problem] = []
    if change.new is not None:
        known = {str(p) for p in reference_problems(change.kind, change.old, before)} if change.old else set()
        problems += [p for p in reference_problems(change.kind, change.new, after) if str(p) not in known]
        if change.kind in NUMBERED:
            problems += _number_problems(change)
        if change.kind == "inbound_route":
            problems += _inbound_problems(change)
    keys = set()
    if change.kind in REFERABLE:  # nothing points at routes, ports or spans: no referrer to look for
        keys = {str(key) for key in (change.old_key, change.new_key) if key is not None}
    for kind, obj in referrers(keys, (change.kind, change.old_key)):
        known = {str(p) for p in reference_problems(kind, obj, before)}
        problems += [p for p in reference_problems(kind, obj, after) if str(p) not in known]
    if change.kind in LOOP_KINDS and change.new is not None:
        problems += _loop_problems(change)
    if change.kind in DAHDI_KINDS or in_use & set(DAHDI_KINDS):
        problems += _dahdi_problems(change)
    return problems + _gateway_port_problems(change)
