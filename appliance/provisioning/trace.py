"""Where a call goes: the path a call from a trunk takes through the site, worked out without calling.

"A call to DID N from caller C at time T": which inbound route takes it, what each time condition says
at T (its holidays and ranges in its own time zone), which IVR option the caller's keys choose (or
every option, when no key is given), and where a queue, a ring group or an extension sends the call
when nobody answers.  Each step says why that branch was taken, and the branches not taken are kept,
so the console can draw the whole neighbourhood of the path with the taken one highlighted.

The trace follows the rules of the dialplan that :mod:`.render` writes from the same site
(``templates/extensions.conf.j2``), not a second idea of them: inbound routes are matched as
Asterisk matches the ``from-trunk`` extensions (its pattern order, caller-ID entries before those
without, the first match wins), time conditions as ``GotoIfTime`` and the holiday check read the clock,
IVR keys with the separate counts of wrong keys and silences.  ``tests/lab/test_trace.py`` places real
calls on every branch of a test site and checks that Asterisk took the predicted path.

``reaches`` answers the reverse question: every way a call can get to a destination (a queue, say):
the inbound routes (DID and caller ID) it starts from and the conditions on the way (office open, key 2).
"""

from __future__ import annotations

import re
import zoneinfo
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError
from appliance.provisioning.render import number_ranges, route_extens
from appliance.site import queries, schemas
from appliance.site.checks import Site

# How many steps a trace takes before it calls the path a loop anyway (a loop is normally seen at once).
MAX_STEPS = 200
# How many ways ``reaches`` lists at most (a site with many menus can have very many).
MAX_WAYS = 200
MAX_EXPANDED = 100_000  # partial ways looked at, at most, before it answers with what it found
# A caller's input at a menu: "t" is no key at all (the menu's timeout).
NO_KEY = "t"


# ---- Asterisk's pattern matching and ordering (main/pbx.c), for the from-trunk context ----------------

def _strip_dashes(text: str) -> str:
    return text.replace("-", "")


def _char_set(body: str) -> set[str]:
    """The characters of a ``[...]`` set: single characters and ``a-b`` ranges."""
    chars: set[str] = set()
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            chars.update(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
            i += 3
        else:
            chars.add(body[i])
            i += 1
    return chars


def extension_matches(pattern: str, number: str) -> bool:
    """Whether Asterisk's extension ``pattern`` matches ``number`` exactly (``_extension_match_core``,
    E_MATCH): ``X`` 0-9, ``Z`` 1-9, ``N`` 2-9, ``[..]`` a set, ``.`` one or more of anything, ``!`` zero
    or more; ``-`` is ignored; a name without ``_`` matches only itself."""
    if not pattern.startswith("_"):
        return _strip_dashes(pattern) == _strip_dashes(number)
    pat, data = pattern[1:], number
    i = j = 0
    while True:
        while j < len(data) and data[j] == "-":
            j += 1
        while i < len(pat) and pat[i] == "-":
            i += 1
        if j >= len(data) or i >= len(pat):
            break
        char, here = pat[i], data[j]
        if char == "[":
            end = pat.find("]", i)
            if end < 0:
                return False
            if here not in _char_set(pat[i + 1:end]):
                return False
            i = end
        elif char in "nN":
            if not "2" <= here <= "9":
                return False
        elif char in "xX":
            if not "0" <= here <= "9":
                return False
        elif char in "zZ":
            if not "1" <= here <= "9":
                return False
        elif char in ".!":
            return True
        elif char != here:
            return False
        i += 1
        j += 1
    if j < len(data):
        return False
    rest = pat[i:]
    return rest == "" or rest.startswith("!")


def _pattern_position(pat: str, i: int) -> tuple[tuple[int, int], int]:
    """One position of a pattern as ``ext_cmp_pattern_pos`` scores it: (score, -bitmap), and where the next
    position begins.  Lower sorts first: fewer characters matched, then the lower first character."""
    while i < len(pat) and pat[i] == "-":
        i += 1
    if i >= len(pat):
        return (0x30000, 0), i
    char = pat[i]
    upper = char.upper()
    if upper in "NXZ":
        low = {"N": "2", "Z": "1", "X": "0"}[upper]
        chars = {chr(c) for c in range(ord(low), ord("9") + 1)}
        return (len(chars) << 8 | ord(low), -_bitmap(chars)), i + 1
    if char == ".":
        return (0x18000, 0), i + 1
    if char == "!":
        return (0x28000, 0), i + 1
    if char == "[":
        end = pat.find("]", i)
        if end < 0:
            return (0x40000, 0), len(pat)
        chars = _char_set(pat[i + 1:end])
        if not chars:  # an empty set is skipped
            return _pattern_position(pat, end + 1)
        return (len(chars) << 8 | min(ord(c) for c in chars), -_bitmap(chars)), end + 1
    return (0x100 | ord(char), -_bitmap({char})), i + 1


def _bitmap(chars: Iterable[str]) -> int:
    """The 256-bit set as Asterisk fills it, lower characters in the more significant bits."""
    return sum(1 << (255 - ord(c)) for c in chars if ord(c) < 256)


def _pattern_key(pattern: str) -> tuple:
    positions = []
    pat, i = pattern[1:], 0
    while True:
        score, i = _pattern_position(pat, i)
        positions.append(score)
        if score[0] == 0x30000 or score[0] == 0x40000:
            return tuple(positions)


def extension_order(name: str) -> tuple:
    """A sort key giving Asterisk's order of extensions in a context (``ext_cmp``): names before patterns,
    names by their characters, patterns position by position, the more specific first."""
    if not name.startswith("_"):
        return (0, tuple(ord(c) for c in _strip_dashes(name)) + (0,))
    return (1, _pattern_key(name))


@dataclass(frozen=True)
class RouteEntry:
    """One ``exten =>`` of the from-trunk context: the number part, the caller-ID part, its route."""

    exten: str
    cid: str
    route: schemas.InboundRoute

    @property
    def order(self) -> tuple:
        # for the same number, an entry with a caller ID comes before the one without (pbx.c's add_extension)
        return (extension_order(self.exten), (0, extension_order(self.cid)) if self.cid else (1,))


def route_entries(site: Site) -> list[RouteEntry]:
    """The from-trunk extensions in the order Asterisk tries them; of two with the same number and caller
    ID, the first in the file is kept (Asterisk refuses the second's priority 1)."""
    entries: list[RouteEntry] = []
    seen: set[tuple[str, str]] = set()
    for route in site.inbound_routes_by_specificity():
        for name in route_extens(route):
            exten, _, cid = name.partition("/")
            if (exten, cid) not in seen:
                seen.add((exten, cid))
                entries.append(RouteEntry(exten, cid, route))
    return sorted(entries, key=lambda e: e.order)  # stable: the file's order breaks ties, as in Asterisk


def caller_matches(cid: str, caller: str) -> bool:
    """``matchcid``: an entry without a caller ID takes every call; one with a caller ID needs a number."""
    if not cid:
        return True
    return bool(caller) and extension_matches(cid, caller)


# ---- time conditions, as the dialplan reads the clock --------------------------------------------------

def _day_set(days: str) -> list[int]:
    """Weekday numbers (0 = Monday) of ``mon-fri``; a range such as ``sat-mon`` wraps round the week."""
    first, _, last = days.partition("-")
    start = schemas.DAYS.index(first)
    end = schemas.DAYS.index(last or first)
    return [(start + i) % 7 for i in range((end - start) % 7 + 1)]


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:5])


def range_open(r: schemas.TimeRange, local: datetime) -> bool:
    """``GotoIfTime`` on one range: the weekday in the range and the minute from start to the last open
    minute (``asterisk_times``), both included."""
    first, _, last = r.asterisk_times().partition("-")
    minute = local.hour * 60 + local.minute
    return local.weekday() in _day_set(r.days) and _minutes(first) <= minute <= _minutes(last)


def range_text(r: schemas.TimeRange) -> str:
    return f"{r.days} {r.start}–{r.end}"


@dataclass(frozen=True)
class TimeVerdict:
    open: bool
    why: Message


def time_condition_verdict(tc: schemas.TimeCondition, at: datetime) -> TimeVerdict:
    """Open or closed at ``at``: a holiday (the day in the condition's zone) closes it all day, else open in
    any of its ranges."""
    zone = zoneinfo.ZoneInfo(tc.timezone)
    local = at.astimezone(zone)
    when = local.strftime("%a %Y-%m-%d %H:%M")
    for day in tc.holidays:
        if day.date == local.strftime("%Y-%m-%d"):
            return TimeVerdict(False, Message(
                N_("closed: holiday %(holiday)s (%(date)s; it is %(when)s in %(zone)s)"),
                holiday=day.name, date=day.date, when=when, zone=tc.timezone))
    for r in tc.ranges:
        if range_open(r, local):
            return TimeVerdict(True, Message(N_("open: %(range)s (it is %(when)s in %(zone)s)"),
                                             range=range_text(r), when=when, zone=tc.timezone))
    return TimeVerdict(False, Message(N_("closed: outside %(ranges)s (it is %(when)s in %(zone)s)"),
                                      ranges=", ".join(range_text(r) for r in tc.ranges), when=when,
                                      zone=tc.timezone))


# ---- the trace -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Branch:
    """A way on from a step: ``label`` (closed, key 2, no answer ...) to ``to`` (a destination, or "" for
    the end of the call); ``taken`` for the one the call takes."""

    label: Message
    to: str
    taken: bool = False


@dataclass
class Step:
    """One object the call passes: its ``node`` (a destination such as ``queue:701``, or ``route:NAME``),
    what happens there and why the call leaves it the way it does."""

    node: str
    kind: str
    key: str
    what: Message
    why: Message | None = None
    branches: list[Branch] = field(default_factory=list)
    # at a menu, the extension of the menu each key ran, as the dialplan names them: the option's digit,
    # ``i`` for a wrong key, ``t`` for no key, an extension's number (direct dial)
    keys: list[str] = field(default_factory=list)

    @property
    def taken(self) -> Branch | None:
        return next((b for b in self.branches if b.taken), None)


@dataclass
class Trace:
    did: str
    caller: str
    at: datetime
    digits: list[str]
    answered: bool
    steps: list[Step] = field(default_factory=list)
    outcome: Message = field(default_factory=lambda: Message(N_("the call is hung up")))
    loop: bool = False
    unused_digits: list[str] = field(default_factory=list)

    @property
    def nodes(self) -> list[str]:
        """The objects the call passes, in order (``route:NAME``, ``timecondition:office``, ...)."""
        return [s.node for s in self.steps]

    @property
    def path(self) -> list[str]:
        """``nodes`` with what each menu heard: ``ivr:main(i,i)`` for two wrong keys, ``ivr:main(1)``."""
        return [f"{s.node}({','.join(s.keys)})" if s.kind == "ivr" and s.keys else s.node for s in self.steps]

    def lines(self) -> list[str]:
        """The trace as text: one line per step, its branches not taken indented below it."""
        out = [f"Call to {self.did or '(no number)'} from {self.caller or '(no caller ID)'} at "
               f"{self.at.strftime('%Y-%m-%d %H:%M %Z')}" + (f", keys {','.join(self.digits)}" if self.digits else "")]
        for n, step in enumerate(self.steps, 1):
            out.append(f"{n:>2}. {step.what}" + (f": {step.why}" if step.why else ""))
            for b in step.branches:
                if not b.taken:
                    out.append(f"      not taken: {b.label} → {describe(b.to)}")
        out.append(f"    ⇒ {self.outcome}")
        if self.unused_digits:
            out.append(f"    (keys not used: {','.join(self.unused_digits)})")
        return out


def describe(destination: str) -> Message:
    """A destination in words: "queue 701", "IVR menu main", "the end of the call"."""
    if not destination:
        return Message(N_("the end of the call"))
    kind, _, key = destination.partition(":")
    words = {"hangup": N_("hang up"), "extension": N_("extension %(key)s"), "ringgroup": N_("ring group %(key)s"),
             "voicemail": N_("voicemail box %(key)s"), "timecondition": N_("time condition %(key)s"),
             "announcement": N_("announcement %(key)s"), "ivr": N_("IVR menu %(key)s"), "queue": N_("queue %(key)s"),
             "route": N_("inbound route %(key)s"), "inbound_routes": N_("the inbound routes"),
             "dahdi": N_("DAHDI trunk %(key)s")}
    return Message(words[kind], key=key) if kind in words else Message(N_("%(kind)s %(key)s"), kind=kind, key=key)


def parse_digits(text: str) -> list[str]:
    """The caller's keys, one entry per menu: ``1,2`` (key 1 at the first menu, 2 at the next), ``t`` for no
    key (the menu times out), several digits at one menu with direct dial (``1,201``)."""
    keys = [k.strip() for k in text.split(",")] if text.strip() else []
    for k in keys:
        if k != NO_KEY and (not k or any(c not in "0123456789*#" for c in k) or len(k) > 20):
            not_key = Message(N_("%(key)s is not a key: give keys 0-9, * or #, or t for no key, one entry per "
                                 "menu separated by commas (such as 1,2 or t,3)"), key=repr(k[:20]))
            raise SiteError([Problem("digits", not_key)])
    return keys


def parse_at(text: str, zone: zoneinfo.ZoneInfo) -> datetime:
    """``YYYY-MM-DD HH:MM`` in the site's time zone (``now`` or empty: the present)."""
    if not text.strip() or text.strip() == "now":
        return datetime.now(UTC).astimezone(zone)
    try:
        moment = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise SiteError([Problem("at", Message(N_("%(text)s is not a time: give YYYY-MM-DD HH:MM (such as 2026-12-07 "
                                                  "09:30), in the site's time zone"), text=repr(text[:40])))]) from None
    return moment.replace(tzinfo=zone)


def _check_number(field_name: str, value: str) -> str:
    value = value.strip()
    if len(value) > 40 or any(c not in "0123456789+*#-" for c in value):
        raise SiteError([Problem(field_name, Message(N_("%(value)s is not a phone number: digits, with a leading + if "
                                                        "given so"), value=repr(value[:40])))])
    return value


class _Walker:
    def __init__(self, site: Site, result: Trace):
        self.site = site
        self.t = result
        self.keys = list(result.digits)
        self.used = 0
        self.by_kind = {kind: {self._key(kind, o): o for o in site.of(kind)}
                        for kind in ("extension", "ring_group", "queue", "time_condition", "ivr", "announcement")}
        self.mailboxes = {b.number for b in site.mailboxes()}

    @staticmethod
    def _key(kind: str, obj) -> str:
        return getattr(obj, "number", None) or obj.name

    def add(self, step: Step) -> Step:
        self.t.steps.append(step)
        return step

    def run(self, destination: str) -> None:
        seen: set[tuple[str, int]] = set()
        while destination:
            state = (destination, self.used)
            if state in seen or len(self.t.steps) >= MAX_STEPS:
                self.t.loop = True
                self.t.outcome = Message(N_("loop: the call comes back to %(dest)s without any new key from the "
                                            "caller, and would go round until the caller hangs up"),
                                         dest=describe(destination))
                self.add(Step(destination, "loop", destination, Message(N_("back to %(dest)s"),
                                                                        dest=describe(destination))))
                return
            seen.add(state)
            destination = self.visit(destination)
        self.t.unused_digits = self.keys[self.used:]

    def visit(self, destination: str) -> str:
        """Add the step for ``destination``; return where the call goes next ("" when it ends there)."""
        kind, _, key = destination.partition(":")
        handler = getattr(self, f"_{kind}", None)
        if handler is None:  # pragma: no cover - the schemas allow no other kind
            raise ValueError(f"unknown destination {destination}")
        return handler(destination, key)

    def _missing(self, destination: str) -> str:
        self.add(Step(destination, "missing", destination, Message(N_("%(dest)s does not exist"),
                                                                   dest=describe(destination))))
        self.t.outcome = Message(N_("the call fails: %(dest)s does not exist (apply would refuse this site)"),
                                 dest=describe(destination))
        return ""

    def _hangup(self, destination: str, key: str) -> str:
        self.add(Step("hangup", "hangup", "", Message(N_("hang up"))))
        self.t.outcome = Message(N_("the call is hung up"))
        return ""

    def _extension(self, destination: str, key: str) -> str:
        ext = self.by_kind["extension"].get(key)
        if ext is None:
            self.add(Step(destination, "extension", key, Message(N_("extension %(key)s"), key=key),
                          Message(N_("no extension has this number: unallocated, the call is hung up"))))
            self.t.outcome = Message(N_("the call is hung up (number not allocated)"))
            return ""
        return self._ring_extension(destination, ext)

    def _ring_extension(self, node: str, ext: schemas.Extension) -> str:
        after = f"voicemail:{ext.number}" if ext.voicemail else ""
        answered = self.t.answered
        step = self.add(Step(node, "extension", ext.number,
                             Message(N_("extension %(key)s (%(name)s) rings for %(seconds)s s"),
                                     key=ext.number, name=ext.name, seconds=ext.ring_seconds)))
        step.branches = [Branch(Message(N_("answered")), "", answered),
                         Branch(Message(N_("no answer or busy")), after, not answered)]
        if answered:
            self.t.outcome = Message(N_("answered at extension %(key)s"), key=ext.number)
            return ""
        step.why = Message(N_("no answer: to its voicemail") if after else N_("no answer, no voicemail: hung up"))
        if not after:
            self.t.outcome = Message(N_("not answered: the call is hung up"))
        return after

    def _voicemail(self, destination: str, key: str) -> str:
        if key not in self.mailboxes:
            return self._missing(destination)
        self.add(Step(destination, "voicemail", key, Message(N_("voicemail box %(key)s"), key=key),
                      Message(N_("the caller hears the box's greeting and leaves a message"))))
        self.t.outcome = Message(N_("a message in voicemail box %(key)s"), key=key)
        return ""

    def _ringgroup(self, destination: str, key: str) -> str:
        group = self.by_kind["ring_group"].get(key)
        if group is None:
            return self._missing(destination)
        members = ", ".join(group.members)
        what = (Message(N_("ring group %(key)s (%(name)s) rings %(members)s together for %(seconds)s s"),
                        key=key, name=group.name, members=members, seconds=group.ring_seconds)
                if group.strategy == "ringall" else
                Message(N_("ring group %(key)s (%(name)s) rings %(members)s in turn, %(seconds)s s each"),
                        key=key, name=group.name, members=members, seconds=group.ring_seconds))
        return self._unanswered_or_end(Step(destination, "ringgroup", key, what), group.fallback,
                                       Message(N_("answered by a member of ring group %(key)s"), key=key),
                                       Message(N_("no member answers")))

    def _unanswered_or_end(self, step: Step, fallback: str, answered_outcome: Message, no_answer: Message) -> str:
        answered = self.t.answered
        step.branches = [Branch(Message(N_("answered")), "", answered), Branch(no_answer, fallback, not answered)]
        self.add(step)
        if answered:
            self.t.outcome = answered_outcome
            return ""
        step.why = Message(N_("%(reason)s: on to %(dest)s"), reason=no_answer, dest=describe(fallback))
        return fallback

    def _queue(self, destination: str, key: str) -> str:
        q = self.by_kind["queue"].get(key)
        if q is None:
            return self._missing(destination)
        agents = ", ".join(m.extension for m in q.members) or Message(N_("only agents logged in with *45"))
        step = Step(destination, "queue", key,
                    Message(N_("queue %(key)s (%(name)s): the caller waits for an agent (%(agents)s)"),
                            key=key, name=q.name, agents=agents))
        branches = [Branch(Message(N_("an agent answers")), "", self.t.answered)]
        waits = q.max_wait_seconds > 0
        if waits:
            branches.append(Branch(Message(N_("no agent answers within %(seconds)s s"), seconds=q.max_wait_seconds),
                                   q.overflow, not self.t.answered))
        if q.max_callers:
            branches.append(Branch(Message(N_("the queue is full (%(count)s waiting)"), count=q.max_callers),
                                   q.overflow))
        if q.exit_voicemail:
            branches.append(Branch(Message(N_("the caller presses 0")), f"voicemail:{q.exit_voicemail}"))
        step.branches = branches
        self.add(step)
        if self.t.answered:
            self.t.outcome = Message(N_("answered by an agent of queue %(key)s"), key=key)
            return ""
        if not waits:
            step.why = Message(N_("no maximum wait: the caller waits until an agent answers or hangs up"))
            self.t.outcome = Message(N_("waiting in queue %(key)s"), key=key)
            return ""
        step.why = Message(N_("nobody answers within %(seconds)s s: on to the overflow, %(dest)s"),
                           seconds=q.max_wait_seconds, dest=describe(q.overflow))
        return q.overflow

    def _timecondition(self, destination: str, key: str) -> str:
        tc = self.by_kind["time_condition"].get(key)
        if tc is None:
            return self._missing(destination)
        verdict = time_condition_verdict(tc, self.t.at)
        self.add(Step(destination, "timecondition", key, Message(N_("time condition %(key)s"), key=key),
                      verdict.why, [Branch(Message(N_("open")), tc.open_destination, verdict.open),
                                    Branch(Message(N_("closed")), tc.closed_destination, not verdict.open)]))
        return tc.open_destination if verdict.open else tc.closed_destination

    def _announcement(self, destination: str, key: str) -> str:
        ann = self.by_kind["announcement"].get(key)
        if ann is None:
            return self._missing(destination)
        self.add(Step(destination, "announcement", key,
                      Message(N_("announcement %(key)s plays %(sound)s"), key=key, sound=ann.sound),
                      None, [Branch(Message(N_("then")), ann.destination, True)]))
        return ann.destination

    def _ivr(self, destination: str, key: str) -> str:
        ivr = self.by_kind["ivr"].get(key)
        if ivr is None:
            return self._missing(destination)
        options = {o.digit: o for o in ivr.options}
        branches = [Branch(Message(N_("key %(digit)s"), digit=o.digit), o.destination or destination)
                    for o in ivr.options]
        if ivr.direct_dial:
            branches.append(Branch(Message(N_("an extension's number (direct dial)")), ""))
        branches += [Branch(Message(N_("a wrong key, %(count)s times"), count=ivr.invalid_retries + 1),
                            ivr.invalid_destination),
                     Branch(Message(N_("no key, %(count)s times"), count=ivr.timeout_retries + 1),
                            ivr.timeout_destination)]
        step = self.add(Step(destination, "ivr", key, Message(N_("IVR menu %(key)s: the greeting plays, then "
                                                                 "%(seconds)s s for a key"),
                                                              key=key, seconds=ivr.timeout_seconds)))
        invalid = timeouts = 0
        heard: list[str] = []
        while True:
            if self.used >= len(self.keys):
                step.branches = branches
                step.why = Message(N_("no more keys given: every branch of the menu is shown"))
                self.t.outcome = Message(N_("waiting for a key at IVR menu %(key)s"), key=key)
                return ""
            press = self.keys[self.used]
            self.used += 1
            heard.append(press)
            if press == NO_KEY:
                step.keys.append("t")
                timeouts += 1
                if timeouts > ivr.timeout_retries:
                    return self._leave(step, branches, -1, Message(
                        N_("keys %(keys)s: no key %(count)s times, more than the %(retries)s replays"),
                        keys=",".join(heard), count=timeouts, retries=ivr.timeout_retries), ivr.timeout_destination)
                continue
            digit = press
            if len(digit) > 1 and ivr.direct_dial and any(extension_matches(r, digit) for r in
                                                          number_ranges(self.by_kind["extension"])):
                ext = self.by_kind["extension"].get(digit)
                step.keys.append(digit)
                if ext is not None:
                    self._leave(step, branches, len(ivr.options), Message(N_("keys %(keys)s: dials extension "
                                                                             "%(number)s directly"),
                                                                          keys=",".join(heard), number=digit), "")
                    return self._ring_extension(f"extension:{digit}", ext)
            elif digit[0] in options:
                option = options[digit[0]]
                step.keys.append(option.digit)
                if option.language and not option.destination:
                    continue  # the language changes, the menu plays again; counts stay
                index = ivr.options.index(option)
                return self._leave(step, branches, index, Message(
                    N_("keys %(keys)s: key %(digit)s chooses %(dest)s"), keys=",".join(heard), digit=option.digit,
                    dest=describe(option.destination)), option.destination)
            step.keys.append("i")  # after a number in the extensions' range that is no extension too
            invalid += 1
            if invalid > ivr.invalid_retries:
                return self._leave(step, branches, -2, Message(
                    N_("keys %(keys)s: a wrong key %(count)s times, more than the %(retries)s replays"),
                    keys=",".join(heard), count=invalid, retries=ivr.invalid_retries), ivr.invalid_destination)

    def _leave(self, step: Step, branches: list[Branch], index: int, why: Message, to: str) -> str:
        index = index % len(branches)
        step.branches = [Branch(b.label, b.to, i == index) for i, b in enumerate(branches)]
        step.why = why
        return to

    def _inbound_routes(self, destination: str, key: str) -> str:  # pragma: no cover - DAHDI trunks only
        return ""


def _route_step(site: Site, did: str, caller: str) -> tuple[Step, str]:
    """The inbound route a call to ``did`` from ``caller`` takes (Asterisk's first matching entry), with the
    routes that also had the number but not this caller, or were less specific, as branches not taken."""
    exten = did or "s"
    entries = route_entries(site)
    number_matches = [e for e in entries if extension_matches(e.exten, exten)]
    chosen = next((e for e in number_matches if caller_matches(e.cid, caller)), None)
    branches: list[Branch] = []
    for e in number_matches:
        if e is chosen:
            branches.append(Branch(Message(N_("route %(name)s"), name=e.route.name), e.route.destination, True))
        elif not caller_matches(e.cid, caller):
            branches.append(Branch(Message(N_("route %(name)s: only callers matching %(cid)s"), name=e.route.name,
                                           cid=e.cid), e.route.destination))
        else:
            branches.append(Branch(Message(N_("route %(name)s: less specific than %(chosen)s"), name=e.route.name,
                                           chosen=chosen.route.name if chosen else ""), e.route.destination))
    if chosen is None:
        return Step("route:", "route", "", Message(N_("no inbound route")),
                    Message(N_("no inbound route takes number %(did)s from caller %(caller)s: the call is refused "
                               "(404 Not Found)"), did=did or "(none)", caller=caller or "(none)"),
                    branches), ""
    route = chosen.route
    why = Message(N_("number %(did)s matches %(exten)s"), did=did or "(none)",
                  exten=route.did or Message(N_("any number")))
    if route.cid:
        why = Message(N_("%(number)s and caller %(caller)s matches %(cid)s"), number=why, caller=caller,
                      cid=route.cid)
    return Step(f"route:{route.name}", "route", route.name, Message(N_("inbound route %(name)s"), name=route.name),
                why, branches), route.destination


def trace(site: Site, did: str, caller: str = "", at: datetime | None = None, digits: Sequence[str] = (),
          answered: bool = True, trunk: str = "") -> Trace:
    """Where a call from a trunk to ``did`` from ``caller`` at ``at`` goes, the caller pressing ``digits``
    (one entry per menu) and, unless ``answered``, nobody answering anywhere (so every no-answer fallback
    is followed).  ``trunk``: a DAHDI trunk the call comes in on (its own destination, or the inbound
    routes); empty or a SIP trunk: the inbound routes."""
    did = _check_number("did", did)
    caller = _check_number("caller", caller)
    moment = at or datetime.now(UTC).astimezone(zoneinfo.ZoneInfo(site.settings.timezone))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(site.settings.timezone))
    result = Trace(did, caller, moment, list(digits), answered)
    dahdi = next((t for t in site.of("dahdi_trunk") if t.name == trunk), None)
    if trunk and dahdi is None and trunk not in site.keys("trunk"):
        raise SiteError([Problem("trunk", Message(N_("no trunk named %(name)s"), name=repr(trunk[:40])))])
    if dahdi is not None:
        entry = Step(f"dahdi:{dahdi.name}", "dahdi_trunk", dahdi.name,
                     Message(N_("DAHDI trunk %(name)s"), name=dahdi.name), None,
                     [Branch(Message(N_("every call on it")), dahdi.destination, True)])
        result.steps.append(entry)
        if dahdi.destination != "inbound_routes":
            _Walker(site, result).run(dahdi.destination)
            return result
    step, destination = _route_step(site, did, caller)
    result.steps.append(step)
    if not destination:
        result.outcome = Message(N_("refused: no inbound route"))
        return result
    _Walker(site, result).run(destination)
    return result


# ---- the reverse question: which calls reach a destination ---------------------------------------------

@dataclass(frozen=True)
class Way:
    """One way a call reaches the target: where it starts (a route's number and caller ID, a DAHDI trunk, an
    office phone) and the conditions on the way, each as (node, condition)."""

    start: Message
    route: str  # the inbound route's name ("" for other starts)
    did: str
    cid: str
    conditions: tuple[tuple[str, Message], ...]

    def text(self) -> str:
        if not self.conditions:
            return str(self.start)
        return f"{self.start}; " + "; ".join(f"{describe(node)}: {cond}" for node, cond in self.conditions)


def _edges(site: Site) -> dict[str, list[tuple[Message, str]]]:
    """Every destination's ways on, each with the condition that takes it."""
    edges: dict[str, list[tuple[Message, str]]] = {}
    for tc in site.of("time_condition"):
        ranges = ", ".join(range_text(r) for r in tc.ranges)
        holidays = ", ".join(h.date for h in tc.holidays)
        edges[f"timecondition:{tc.name}"] = [
            (Message(N_("open (%(ranges)s, %(zone)s)"), ranges=ranges, zone=tc.timezone), tc.open_destination),
            (Message(N_("closed (outside %(ranges)s, %(zone)s)"), ranges=ranges, zone=tc.timezone)
             if not holidays else Message(N_("closed (outside %(ranges)s, %(zone)s, or on %(holidays)s)"),
                                          ranges=ranges, zone=tc.timezone, holidays=holidays),
             tc.closed_destination)]
    for ivr in site.of("ivr"):
        out = [(Message(N_("key %(digit)s"), digit=o.digit), o.destination) for o in ivr.options if o.destination]
        out.append((Message(N_("a wrong key, %(count)s times"), count=ivr.invalid_retries + 1),
                    ivr.invalid_destination))
        out.append((Message(N_("no key, %(count)s times"), count=ivr.timeout_retries + 1), ivr.timeout_destination))
        if ivr.direct_dial:
            out += [(Message(N_("dials %(number)s directly"), number=e.number), f"extension:{e.number}")
                    for e in site.of("extension")]
        edges[f"ivr:{ivr.name}"] = out
    for ann in site.of("announcement"):
        edges[f"announcement:{ann.name}"] = [(Message(N_("after the announcement")), ann.destination)]
    for group in site.of("ring_group"):
        edges[f"ringgroup:{group.number}"] = [(Message(N_("no member answers")), group.fallback)]
    for q in site.of("queue"):
        out = []
        if q.max_wait_seconds or q.max_callers:
            out.append((Message(N_("not answered within %(seconds)s s, or full"), seconds=q.max_wait_seconds)
                        if q.max_wait_seconds else Message(N_("the queue is full")), q.overflow))
        if q.exit_voicemail:
            out.append((Message(N_("the caller presses 0")), f"voicemail:{q.exit_voicemail}"))
        edges[f"queue:{q.number}"] = out
    for ext in site.of("extension"):
        if ext.voicemail:
            edges[f"extension:{ext.number}"] = [(Message(N_("no answer")), f"voicemail:{ext.number}")]
    return edges


def _starts(site: Site) -> list[tuple[Message, str, str, str, str]]:
    """Where calls enter: (words, route name, DID, caller ID, first destination)."""
    starts = []
    for route in site.inbound_routes_by_specificity():
        words = Message(N_("calls to %(did)s from %(cid)s (inbound route %(name)s)"),
                        did=route.did or Message(N_("any number")), cid=route.cid or Message(N_("any caller")),
                        name=route.name)
        starts.append((words, route.name, route.did, route.cid, route.destination))
    for trunk in site.of("dahdi_trunk"):
        if trunk.destination != "inbound_routes":
            starts.append((Message(N_("calls on DAHDI trunk %(name)s"), name=trunk.name), "", "", "",
                           trunk.destination))
    return starts


def reaches(site: Site, target: str) -> list[Way]:
    """Every way (up to ``MAX_WAYS``) a call from outside reaches ``target`` (``queue:701``, ``ivr:main`` ...),
    shortest first; office phones reach a queue or a ring group by dialling its number too (listed first)."""
    kind, _, key = target.partition(":")
    if not re.fullmatch(schemas.DESTINATION_RE, target) or kind == "hangup":
        raise SiteError([Problem("reaches", Message(N_("%(target)s is not a destination: give one such as queue:701, "
                                                       "ringgroup:600, ivr:main or timecondition:office"),
                                                    target=repr(target[:60])))])
    edges = _edges(site)
    ways: list[Way] = []
    if kind in ("queue", "ringgroup"):
        ways.append(Way(Message(N_("office phones dialling %(number)s"), number=key), "", "", "", ()))

    # only the objects from which the target can be reached are walked into (a site with thousands of
    # extensions behind a direct-dial menu is not walked extension by extension)
    leads_to: dict[str, set[str]] = {}
    for node, outs in edges.items():
        for _, nxt in outs:
            leads_to.setdefault(nxt, set()).add(node)
    useful, todo = {target}, [target]
    while todo:
        for before in leads_to.get(todo.pop(), ()):
            if before not in useful:
                useful.add(before)
                todo.append(before)

    # breadth first: the shortest ways first, and a bounded amount of work however tangled the menus are
    Partial = tuple[tuple[Message, str, str, str, str], str, tuple[tuple[str, Message], ...], frozenset[str]]
    queue: deque[Partial] = deque((start, start[4], (), frozenset({start[4]}))
                                  for start in _starts(site) if start[4] in useful)
    expanded = 0
    while queue and len(ways) < MAX_WAYS and expanded < MAX_EXPANDED:
        start, node, path, visited = queue.popleft()
        expanded += 1
        if node == target:
            ways.append(Way(start[0], start[1], start[2], start[3], path))
            continue
        for condition, nxt in edges.get(node, []):
            if nxt in useful and nxt not in visited:
                queue.append((start, nxt, (*path, (node, condition)), visited | {nxt}))
    return sorted(ways, key=lambda w: len(w.conditions))




# ---- over the stored site: what the CLI and the console call -------------------------------------------

def trace_stored(did: str, caller: str = "", at: str = "", digits: str = "", answered: bool = True,
                 trunk: str = "") -> Trace:
    """``trace`` over the site as stored, the time (``YYYY-MM-DD HH:MM``, empty for now) in the site's zone
    and the keys as typed (``1,2``); bad input raises SiteError naming the field."""
    site = queries.snapshot()
    zone = zoneinfo.ZoneInfo(site.settings.timezone)
    return trace(site, did, caller, parse_at(at, zone), parse_digits(digits), answered, trunk.strip())


def reaches_stored(target: str) -> list[Way]:
    """``reaches`` over the site as stored."""
    return reaches(queries.snapshot(), target.strip())


__all__ = ["NO_KEY", "Branch", "Step", "Trace", "Way", "caller_matches", "describe", "extension_matches",
           "extension_order", "parse_at", "parse_digits", "reaches", "route_entries", "time_condition_verdict",
           "trace", "trace_stored", "reaches_stored"]
