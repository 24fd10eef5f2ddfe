"""The object road: one saved extension live in milliseconds, without reloading anything.

After the site service has saved (and audited) an extension, :func:`push_extension` computes that one
extension's rows from the database (:mod:`.projection`), writes them in one SQLite transaction with the
database revision they come from, tells sorcery's memory cache to forget its old endpoint, auth and aor,
and asks Asterisk for the endpoint (``pjsip show endpoint``, one object, never the whole table).  When
Asterisk does not hold what was written (it refused a value: an ERROR in its log says why), the old rows
are written back and forgotten again: what is live is the old object or the new one, never a mix.  It
holds the install's one apply lock, as full applies and rollbacks do.

When the object road is not enough (:func:`file_parts`), the change is saved and still pushed where it
can be, and the caller is told that a full apply is needed for the rest: a number in a range the dialplan
has no pattern for yet, an extension with free endpoint options or on an analog port (those are in the
files), or a change to its voicemail box (voicemail.conf).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

from appliance.asterisk.ami import Ami, AmiError
from appliance.catalog import N_
from appliance.errors import Message, joined
from appliance.provisioning import generations, projection, render, verify
from appliance.provisioning.steps import ApplyFailed
from appliance.provisioning.target import Target
from appliance.site import queries, schemas, stored

log = logging.getLogger(__name__)

# Past this many objects of one type, the whole cache of that type is emptied (one command) rather than
# each object forgotten in turn: a site import or a full apply touching thousands of extensions.
EXPIRE_ONE_BY_ONE = 50
VERIFY_WAIT = 2.0  # seconds: how long Asterisk may take to show a pushed endpoint
ENDPOINT_FOUND = re.compile(r"^\s*Endpoint:\s+(\S+?)(?:/\S*)?\s", re.MULTILINE)


@dataclass
class PushResult:
    """What one push did: ``ok`` when the new object is live (or, for a delete, gone)."""

    ok: bool
    revision: int | None = None
    error: str = ""
    # why a full apply is still needed for part of the change ("" when the object road covered it all)
    apply_needed: str = ""
    steps: list[str] = field(default_factory=list)
    seconds: float = 0.0


def expire(ami: Ami, objects: Iterable[tuple[str, str]]) -> None:
    """Make sorcery's memory cache forget these (type, id) objects: the next lookup reads their rows.
    A cache miss is never cached, so a new object is found at once; a deleted one is not found."""
    by_type: dict[str, list[str]] = {}
    for kind, name in objects:
        by_type.setdefault(kind, []).append(name)
    for kind, names in by_type.items():
        cache = f"res_pjsip/{kind}"
        if len(names) > EXPIRE_ONE_BY_ONE:
            _expire_command(ami, f"sorcery memory cache expire {cache}")
            continue
        for name in names:
            _expire_command(ami, f"sorcery memory cache expire {cache} {name}")


def _expire_command(ami: Ami, command: str) -> None:
    out = ami.command(command)
    if "does not exist" in out:  # the cache itself: sorcery.conf is not the one Linebox writes
        raise ApplyFailed("expire", Message(N_("Asterisk has no memory cache for extensions (%(answer)s): restart "
                                               "Asterisk so that it reads sorcery.conf"), answer=out.strip()))


def live_ranges(target: Target) -> set[str]:
    """The number ranges the live dialplan has a pattern for (extensions.conf's ext-local)."""
    live = target.live_generation()
    if live is None:
        return set()
    try:
        text = (live / "extensions.conf").read_text()
    except OSError:
        return set()
    return set(re.findall(r"^exten => (_\dX*),1,Gosub\(sub-local,", text, re.MULTILINE))


def file_parts(old: schemas.Extension | None, new: schemas.Extension | None, ranges: set[str],
               fxs: set[str]) -> str:
    """Why this change also touches the files (a full apply is needed for that part); "" when it does not."""
    reasons: list[str] = []
    for ext in (old, new):
        if ext is not None and not projection.in_projection(ext, fxs):
            reasons.append(Message(N_("extension %(number)s has endpoint options or an analog port: it is in "
                                      "pjsip.conf"), number=ext.number))
            break
    if new is not None and render.number_ranges([new.number])[0] not in ranges:
        reasons.append(Message(N_("%(number)s opens a new number range in the dialplan"), number=new.number))

    def box(ext: schemas.Extension | None) -> tuple | None:
        return (ext.number, ext.name, ext.voicemail_pin, ext.email) if ext is not None and ext.voicemail else None
    if box(old) != box(new):
        reasons.append(Message(N_("its voicemail box changed (voicemail.conf)")))
    return joined(reasons, N_("%(before)s; %(after)s"))


def push_extension(target: Target, number: str, user: str, old: schemas.Extension | None = None,
                   old_number: str | None = None) -> PushResult:
    """Make extension ``number`` live as the database has it now (or gone, when it was deleted).

    ``old``: the extension as it was before the save (None for a create), to tell whether the files must
    change too; ``old_number``: its number before a renumbering (its old objects are removed)."""
    started = time.monotonic()
    result = PushResult(ok=False)
    try:
        with generations.locked(target, user):
            _push(target, number, old_number, old, result)
    except ApplyFailed as error:
        result.ok = False
        result.error = error.summary()
    except (sqlite3.Error, OSError) as error:  # the rows' file: nothing was written (one transaction)
        result.ok = False
        result.error = Message(N_("rows: cannot write %(file)s (%(error)s); the previous version stays live"),
                               file=str(target.projection_file), error=str(error))
    result.seconds = time.monotonic() - started
    (log.info if result.ok else log.warning)("live push of extension %s by %s: %s in %.1f ms%s", number, user,
                                            "ok" if result.ok else result.error, result.seconds * 1000,
                                            f" (apply needed: {result.apply_needed})" if result.apply_needed else "")
    return result


def _push(target: Target, number: str, old_number: str | None, old: schemas.Extension | None,
          result: PushResult) -> None:
    new = cast("schemas.Extension | None", queries.get_object("extension", number))
    numbers = [number] + ([old_number] if old_number and old_number != number else [])
    ports = cast("list[schemas.AnalogPort]", queries.list_objects("analog_port"))
    fxs = {p.extension for p in ports if p.kind == "fxs"}
    result.apply_needed = file_parts(old, new, live_ranges(target), fxs)
    settings = stored.load_settings()
    networks, language = projection.local_networks(settings), projection.phone_language(settings)
    rows: projection.Rows = {table: {} for table in projection.TABLES}
    if new is not None and new.number not in fxs:
        for table, by_id in projection.extension_rows(new, networks, language, settings.sip_encryption,
                                                      pjsip=projection.in_projection(new, fxs)).items():
            rows[table].update(by_id)
    scope = {
        "ps_endpoints": numbers, "ps_aors": numbers, "ps_auths": [f"{n}-auth" for n in numbers],
        "lb_extensions": numbers,
    }
    revision = projection.database_revision()
    with projection.connect(target.projection_file) as db:
        before = projection.file_state(target.projection_file)  # in the transaction: no other write meanwhile
        previous_revision = _stored_revision(db)
        done = projection.write(db, rows, projection.read_rows(db, scope), scope)
        projection.set_revision(db, revision)
    projection.carry_over(target.projection_file, before, rows, scope)
    result.revision = revision
    result.steps.append(f"rows: {done.count} changed")
    if target.connect is None:
        result.ok = True
        result.steps.append("Asterisk not managed here: it reads the rows when it starts")
        return
    try:
        with target.connect() as ami:
            offset = verify.log_offset(target)
            expire(ami, done.sorcery_objects())
            problem = _check(ami, target, offset, number if new is not None and projection.in_projection(new, fxs)
                             else None, [n for n in numbers if n != number or new is None])
            if not problem:
                for gone in [n for n in numbers if n != number or new is None]:  # deleted, or renumbered
                    _forget_contacts(ami, gone)
                result.ok = True
                result.steps.append("verified: pjsip show endpoint")
                return
            projection.restore(target.projection_file, done, previous_revision)
            expire(ami, done.sorcery_objects())
            result.revision = previous_revision
            result.error = Message(N_("Asterisk refused extension %(number)s: %(problem)s; the previous version "
                                       "stays live"), number=number, problem=problem)
    except AmiError as error:
        # Asterisk is down: it reads the rows when it starts, which is what is live then
        result.ok = True
        result.steps.append(f"Asterisk is not answering ({error}): it reads the new rows when it starts")


def verify_written(ami: Ami, target: Target, offset: int, done: projection.Written, size: int = 10) -> None:
    """After a full apply wrote many rows: a spread of the endpoints it added or changed are in Asterisk,
    and of those it removed are not (one ``pjsip show endpoint`` each)."""
    endpoints = done.changed.get("ps_endpoints", [])
    gone = [i for i in endpoints if ("ps_endpoints", i) in done.removed]
    present = [i for i in endpoints if ("ps_endpoints", i) not in done.removed]
    for number in _spread(present, size):
        problem = _check(ami, target, offset, number, [])
        if problem:
            raise ApplyFailed("verify", Message(N_("extension %(number)s: Asterisk %(problem)s"), number=number,
                                                problem=problem))
    lingering = [n for n in _spread(gone, size) if _has_endpoint(ami, n)]
    if lingering:
        raise ApplyFailed("verify", Message(N_("extensions still in Asterisk though removed: %(numbers)s"),
                                            numbers=", ".join(lingering)))


def _spread(names: list[str], size: int) -> list[str]:
    if len(names) <= size:
        return names
    step = (len(names) - 1) / (size - 1)
    return [names[round(i * step)] for i in range(size)]


def _stored_revision(db) -> int | None:
    row = db.execute(f"SELECT value FROM {projection.STATE_TABLE} WHERE key = 'revision'").fetchone()
    return int(row[0]) if row else None


def _check(ami: Ami, target: Target, offset: int, present: str | None, absent: list[str]) -> str:
    """Asterisk holds endpoint ``present`` and none of ``absent``; "" when so, else what is wrong (with the
    ERROR lines it logged since ``offset``, which say why it refused an object)."""
    deadline = time.monotonic() + VERIFY_WAIT
    while True:
        missing = [] if present is None or _has_endpoint(ami, present) else [present]
        lingering = [n for n in absent if _has_endpoint(ami, n)]
        if not missing and not lingering:
            return ""
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    errors = verify.new_errors(target, offset)
    why = "; ".join(errors[-3:]) if errors else Message(N_("no error in its log"))
    if missing:
        return Message(N_("it does not hold endpoint %(number)s (%(why)s)"), number=present, why=why)
    return Message(N_("it still holds endpoint %(numbers)s"), numbers=", ".join(lingering))


def _has_endpoint(ami: Ami, number: str) -> bool:
    out = ami.command(f"pjsip show endpoint {number}")
    return any(m.group(1) == number for m in ENDPOINT_FOUND.finditer(out))


def _forget_contacts(ami: Ami, number: str) -> None:
    """A deleted extension's registrations (Asterisk keeps them in its astdb after its aor is gone)."""
    out = ami.command(f"database query \"SELECT key FROM astdb WHERE key LIKE '/registrar/contact/{number};@%'\"")
    for key in re.findall(rf"/registrar/contact/({re.escape(number)};@\S+)", out):
        ami.command(f"database del registrar/contact {key}")


# The kinds whose saves go the object road (the others wait for a full apply).
LIVE_KINDS = ("extension",)


def after_change(target: Target | None, kind: str, key: str | None, user: str, old: schemas.SiteObject | None = None,
                 ) -> PushResult | None:
    """After the site service saved (``key``: its key now) or deleted (``key`` None) one object: push it live
    when its kind goes the object road; None for the other kinds (and where no install is given)."""
    if kind not in LIVE_KINDS or target is None:
        return None
    before = cast("schemas.Extension | None", old)
    number = key if key is not None else (before.number if before is not None else None)
    if number is None:
        return None
    old_number = before.number if before is not None and before.number != number else None
    return push_extension(target, number, user, before, old_number)
