"""Checks across objects, run before anything is stored and again before apply.

These are the checks FreePBX-style systems run before a reload (and that
users miss when they are absent): a number used twice, a destination that
points at nothing, a route naming a missing trunk, a loop of time
conditions and announcements that would spin a call forever.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from appliance.catalog import N_
from appliance.errors import Message, Problem, joined, missing
from appliance.site import schemas
from appliance.site.kinds import KINDS


@dataclass
class Site:
    """Every site object, as validated schema instances, plus the settings."""

    objects: dict[str, list[schemas.SiteObject]] = field(default_factory=lambda: {k: [] for k in KINDS})
    settings: schemas.Settings = field(default_factory=schemas.Settings)

    def of(self, kind: str) -> list:
        return self.objects[kind]

    def mailboxes(self) -> list[schemas.VoicemailBox]:
        """Every voicemail box: extensions with voicemail on, then standalone boxes, by number."""
        global _BOXES
        known, made = _BOXES, {}
        for e in self.of("extension"):
            if e.voicemail:
                fields = (e.number, e.name, e.voicemail_pin, e.email)
                box = known.get(fields)
                if box is None:
                    box = schemas.VoicemailBox(number=e.number, name=e.name, pin=e.voicemail_pin, email=e.email)
                made[fields] = box
        _BOXES = made
        return sorted([*made.values(), *self.of("voicemail_box")], key=lambda b: b.number)

    def inbound_routes_by_specificity(self) -> list[schemas.InboundRoute]:
        """Inbound routes, most specific first: the order in which Asterisk matches their extensions.

        An exact DID comes before a DID pattern, which comes before a route for any number; for the
        same DID, a caller-ID filter comes before none (``_route_specificity``).  Asterisk keeps a
        context's extensions in this order itself whatever the file says, so the order changes
        nothing at run time: it makes extensions.conf read the way calls are matched.
        """
        return sorted(self.of("inbound_route"), key=_route_specificity)

    def keys(self, kind: str) -> set[str]:
        key = KINDS[kind].key
        return {getattr(o, key) for o in self.objects[kind]}


# An extension's voicemail box, by its fields, as the last ``Site.mailboxes`` made it: check, render and verify
# each ask for every box, and validating 5,000 new boxes each time cost more than the rest of the call.
# Read-only objects; only those of the last call are kept.
_BOXES: dict[tuple, schemas.VoicemailBox] = {}


# Asterisk's ext_cmp: at each position, the fewer digits a character matches (then the lowest one), the more
# specific; "." (any rest) and "!" (early match) come last, and the pattern's end after them (so of two patterns
# that differ only in length, the longer comes first, as Asterisk orders them)
_WIDTH = {"N": (8, "2"), "Z": (9, "1"), "X": (10, "0"), ".": (100, ""), "!": (101, "")}
_END = (200, "")


def _pattern_specificity(pattern: str) -> tuple[tuple[int, str], ...]:
    """Per position of a ``_`` dial pattern, how many digits it matches and the lowest: smaller is more specific."""
    positions = []
    for literal, char_class, other in re.findall(r"([0-9*#+-])|\[([^\]]*)\]|(.)", pattern.removeprefix("_")):
        if char_class:
            digits = {chr(c) for first, last, single in re.findall(r"(.)-(.)|(.)", char_class)
                      for c in (range(ord(first), ord(last) + 1) if first else [ord(single)])}
            positions.append((len(digits), min(digits)))
        else:
            positions.append(_WIDTH.get((other or literal).upper(), (1, literal or other)))
    return (*positions, _END)


def _number_specificity(number: str) -> tuple:
    """An exact number (by its digits), then a pattern (position by position), then none (any number)."""
    if not number:
        return (2,)
    if number.startswith("_"):
        return (1, _pattern_specificity(number))
    return (0, number)


def _route_specificity(route: schemas.InboundRoute) -> tuple:
    """DID first; for the same DID a caller-ID filter before none; the name keeps ties stable."""
    return (_number_specificity(route.did), (0, _number_specificity(route.cid)) if route.cid else (1,), route.name)


def _label(kind: str, obj) -> str:
    """An object as a message names it ("extension 201"), its kind's word in the reader's language."""
    k = KINDS[kind]
    return Message(N_("%(kind)s %(key)s"), kind=Message(k.label), key=getattr(obj, k.key))


def route_taken(route: schemas.InboundRoute, other: str) -> Message:
    """Two inbound routes for the same DID and caller ID: Asterisk would keep only one of them."""
    return Message(N_("DID '%(did)s' with caller ID '%(cid)s' is already routed by inbound route %(route)s"),
                   did=route.did or Message(N_("any")), cid=route.cid or Message(N_("any")), route=other)


def number_taken(number: str, owner: str) -> Message:
    return Message(N_("%(number)s is already used by %(owner)s"), number=number, owner=owner)


def describe_destination(dest: str) -> Message:
    kind, _, target = dest.partition(":")
    names = {"ringgroup": N_("ring group"), "timecondition": N_("time condition"), "ivr": N_("IVR menu"),
             "robot": N_("voice robot")}
    word = Message(names.get(kind, kind))  # the kinds' words are the catalog's (N_ in kinds.py)
    return Message(N_("%(kind)s %(key)s"), kind=word, key=target) if target else word


def destination_fields(kind: str) -> tuple[str, ...]:
    return {
        "ring_group": ("fallback",),
        "time_condition": ("open_destination", "closed_destination"),
        "inbound_route": ("destination",),
        "announcement": ("destination",),
        "ivr": ("timeout_destination", "invalid_destination"),
        "robot": ("handover", "fallback"),
        "queue": ("overflow",),
    }.get(kind, ())


# Destinations that may name a queue or a ring group by its name (``queue:Orders``): the destination's kind
# and the object kind it names.
NAMED_DESTINATIONS = {"queue": "queue", "ringgroup": "ring_group"}
# Fields holding a destination, DAHDI trunks' too (whose destination may also be ``inbound_routes``).
_RESOLVED_FIELDS = {"dahdi_trunk": ("destination",)}


def name_key(name: str) -> str:
    """How a name in a destination is compared: case and spacing do not matter (``queue:after-sales``)."""
    return " ".join(name.split()).casefold()


def named_targets(site: Site) -> dict[str, list[tuple[str, str]]]:
    """The (number, name) of every queue and ring group of ``site``, by destination kind."""
    return {dkind: [(obj.number, obj.name) for obj in site.of(kind)] for dkind, kind in NAMED_DESTINATIONS.items()}


def resolve_destination(dest: str, named: Callable[[str], list[tuple[str, str]]]) -> str:
    """``dest`` with a queue or ring group given by its name turned into its number; ValueError if none or several.

    ``named(dkind)`` gives the (number, name) of every queue (``queue``) or ring group (``ringgroup``).  A
    target written as a number is a number, whatever the names are; any other destination is returned as it is.

    A name is resolved once, when the object is saved or imported, and the number is what is stored (and
    exported): a destination points at the object, not at its label, so renaming the queue "Orders" to
    "Sales orders" neither breaks the IVR key that sends callers there nor moves it to another queue; the
    checks, the delete and rename guards and Asterisk all go by numbers; and a site's export (numbers)
    imported again, or the original file (names) imported again, changes nothing.
    """
    dkind, _, target = dest.partition(":")
    if dkind not in NAMED_DESTINATIONS or re.fullmatch(schemas.NUMBER_RE, target):
        return dest
    label = KINDS[NAMED_DESTINATIONS[dkind]].label
    objects = sorted(named(dkind), key=lambda item: (len(item[0]), item[0]))
    found = [number for number, name in objects if name_key(name) == name_key(target)]
    if len(found) == 1:
        return f"{dkind}:{found[0]}"
    if found:
        raise ValueError(f"{len(found)} {label}s are named '{target}' ({', '.join(found)}): "
                         f"name one by its number ({dkind}:{found[0]})")
    shown = ", ".join(f"{number} {name}" for number, name in objects[:10]) + (", ..." if len(objects) > 10 else "")
    known = f"the {label}s are {shown}" if objects else f"there is no {label} yet"
    raise ValueError(f"no {label} is named '{target}' ({known}): use {dkind}:NUMBER or {dkind}:NAME "
                     f"(such as {dkind}:{objects[0][0] if objects else '701'})")


def resolve_names(kind: str, obj: schemas.SiteObject, named: Callable[[str], list[tuple[str, str]]]
                  ) -> tuple[schemas.SiteObject, list[tuple[tuple[str | int, ...], str]]]:
    """``obj`` with every queue or ring group it names by name turned into its number (``resolve_destination``).

    Returns the object (the same one when nothing was named) and what could not be resolved, each as the
    field's path in the object (``("options", 1, "destination")``) and the message, for the caller to place.
    """
    updates: dict[str, object] = {}
    problems: list[tuple[tuple[str | int, ...], str]] = []

    def resolved(path: tuple[str | int, ...], dest: str) -> str:
        try:
            return resolve_destination(dest, named)
        except ValueError as error:
            problems.append((path, str(error)))
            return dest

    for fname in destination_fields(kind) or _RESOLVED_FIELDS.get(kind, ()):
        dest = getattr(obj, fname)
        new = resolved((fname,), dest)
        if new != dest:
            updates[fname] = new
    if isinstance(obj, schemas.Ivr):
        options = [option.model_copy(update={"destination": resolved(("options", i, "destination"),
                                                                       option.destination)})
                   if option.destination else option for i, option in enumerate(obj.options)]
        if options != obj.options:
            updates["options"] = options
    if isinstance(obj, schemas.Robot):
        entries = [entry.model_copy(update={"then": resolved(("entries", i, "then"), entry.then)})
                   if entry.then else entry for i, entry in enumerate(obj.entries)]
        if entries != obj.entries:
            updates["entries"] = entries
    return (obj.model_copy(update=updates) if updates else obj), problems


def check_site(site: Site) -> list[Problem]:
    problems: list[Problem] = []
    extensions = {e.number: e for e in site.of("extension")}
    mailboxes = {e.number for e in extensions.values() if e.voicemail} | site.keys("voicemail_box")
    targets = {
        "extension": set(extensions),
        "ringgroup": site.keys("ring_group"),
        "voicemail": mailboxes,
        "timecondition": site.keys("time_condition"),
        "announcement": site.keys("announcement"),
        "ivr": site.keys("ivr"),
        "robot": site.keys("robot"),
        "queue": site.keys("queue"),
    }

    owners: dict[str, tuple[str, object]] = {}  # number -> (kind, object): labelled only when one is taken
    for kind in ("extension", "ring_group", "voicemail_box", "queue"):
        for obj in site.of(kind):
            if obj.number in owners:
                problems.append(Problem(f"{_label(kind, obj)} number",
                                        number_taken(obj.number, _label(*owners[obj.number]))))
            else:
                owners[obj.number] = (kind, obj)

    # Objects keyed by name: the same name twice (possible in an imported file) would silently keep only one.
    for kind, k in KINDS.items():
        if kind in ("extension", "ring_group", "voicemail_box"):
            continue
        names: set[str] = set()
        for obj in site.of(kind):
            key = getattr(obj, k.key)
            if key in names:
                twice = Message(N_("%(kind)s %(key)s is defined twice"), kind=Message(k.label), key=key)
                problems.append(Problem(f"{_label(kind, obj)} {k.key}", twice))
            names.add(key)

    for kind in KINDS:
        for obj in site.of(kind):
            for fname in destination_fields(kind):
                dest = getattr(obj, fname)
                dkind, _, target = dest.partition(":")
                if dkind != "hangup" and target not in targets[dkind]:
                    why = (N_("%(destination)s has no voicemail") if dkind == "voicemail" and target in extensions
                           else N_("%(destination)s does not exist"))
                    problems.append(Problem(f"{_label(kind, obj)} {fname}",
                                            Message(why, destination=describe_destination(dest))))

    for ivr in site.of("ivr"):
        for option in ivr.options:
            if not option.destination:  # a key that only switches the language
                continue
            dkind, _, target = option.destination.partition(":")
            if dkind != "hangup" and target not in targets[dkind]:
                problems.append(Problem(f"IVR menu {ivr.name} option {option.digit}",
                                        Message(N_("%(destination)s does not exist"),
                                                destination=describe_destination(option.destination))))

    for robot in site.of("robot"):
        for i, entry in enumerate(robot.entries, start=1):
            dkind, _, target = entry.then.partition(":")
            if entry.then and dkind != "hangup" and target not in targets[dkind]:
                problems.append(Problem(f"voice robot {robot.name} entry {i}",
                                        Message(N_("%(destination)s does not exist"),
                                                destination=describe_destination(entry.then))))

    mohs = {"default"} | site.keys("moh_class")
    for queue in site.of("queue"):
        where = f"queue {queue.number}"
        for member in queue.members:
            if member.extension not in extensions:
                problems.append(Problem(f"{where} members", missing(N_("extension"), member.extension)))
        if queue.moh_class not in mohs:
            problems.append(Problem(f"{where} moh_class", missing(N_("music-on-hold class"), queue.moh_class)))
        if queue.exit_voicemail and queue.exit_voicemail not in mailboxes:
            problems.append(Problem(f"{where} exit_voicemail", missing(N_("voicemail box"), queue.exit_voicemail)))

    for group in site.of("ring_group"):
        for member in group.members:
            if member not in extensions:
                problems.append(Problem(f"ring group {group.number} members", missing(N_("extension"), member)))

    trunks = site.keys("trunk") | site.keys("dahdi_trunk")
    for route in site.of("outbound_route"):
        for trunk in route.trunks:
            if trunk not in trunks:
                problems.append(Problem(f"outbound route {route.name} trunks", missing(N_("trunk"), trunk)))

    hours = site.settings.outbound_hours
    if hours and hours not in site.keys("time_condition"):
        problems.append(Problem("settings outbound_hours", missing(N_("time condition"), hours)))

    seen_routes: dict[tuple[str, str], str] = {}
    for route in site.of("inbound_route"):
        pair = (route.did, route.cid)
        if pair in seen_routes:
            problems.append(Problem(f"inbound route {route.name} did",
                                    route_taken(route, seen_routes[pair])))
        else:
            seen_routes[pair] = route.name

    problems.extend(_loops(site))
    problems.extend(dahdi_problems(site))
    problems.extend(cluster_problems(site))
    return problems


def cluster_problems(site: Site) -> list[Problem]:
    """A multi-node site's description (``cluster_node`` objects and ``settings.cluster_edge``).

    A queue and its waiting callers live on one node, and the edge sends an agent's calls to the node of the
    agent's queues: so a queue is placed on one node at most, and the queues an agent answers share a node.
    The edge's address turns multi-node mode on: until it is set, nodes are a draft (added one by one in the
    console, each naming a standby that may come next); once it is, every queue must be placed and every
    standby must be another node.  A site with neither nodes nor an edge is one box: nothing to check.
    """
    nodes = site.of("cluster_node")
    edge = site.settings.cluster_edge
    if not nodes and not edge:
        return []
    problems: list[Problem] = []
    if not nodes:
        problems.append(Problem("settings cluster_edge", Message(N_(
            "multi-node mode needs at least one cluster node (leave the edge's address empty for one box)"))))
        return problems
    names = {node.name for node in nodes}
    addresses: dict[str, str] = {edge: Message(N_("the edge"))} if edge else {}
    placed: dict[str, str] = {}
    queues = site.keys("queue")
    for node in nodes:
        label = _label("cluster_node", node)
        if node.standby == node.name:
            problems.append(Problem(f"{label} standby", Message(N_("a node cannot be its own standby: name "
                                                                   "another cluster node"))))
        elif edge and node.standby not in names:
            problems.append(Problem(f"{label} standby", missing(N_("cluster node"), node.standby)))
        if node.address in addresses:
            problems.append(Problem(f"{label} address", Message(N_("%(address)s is already the address of "
                                                                   "%(owner)s"), address=node.address,
                                                                owner=addresses[node.address])))
        else:
            addresses[node.address] = label
        for number in node.queues:
            if number not in queues:
                problems.append(Problem(f"{label} queues", missing(N_("queue"), number)))
            elif number in placed:
                problems.append(Problem(f"{label} queues", Message(
                    N_("queue %(queue)s is already placed on cluster node %(node)s: a queue lives on one node"),
                    queue=number, node=placed[number])))
            else:
                placed[number] = node.name
    agents: dict[str, dict[str, str]] = {}  # extension -> queue -> node
    for queue in site.of("queue"):
        if queue.number not in placed:
            if edge:
                problems.append(Problem(f"{_label('queue', queue)}", Message(
                    N_("the queue is placed on no cluster node: add it to the queues of one node"))))
            continue
        for member in queue.members:
            agents.setdefault(member.extension, {})[queue.number] = placed[queue.number]
    for extension, on in sorted(agents.items()):
        if len(set(on.values())) > 1:
            where = ", ".join(f"{queue} ({node})" for queue, node in sorted(on.items()))
            problems.append(Problem(f"extension {extension}", Message(
                N_("an agent's queues must share a cluster node; this agent answers queues %(queues)s"),
                queues=where)))
    return problems


def dahdi_problems(site: Site) -> list[Problem]:
    """Analog ports, spans and DAHDI trunks: what they point at, and channels used twice.

    Channel numbers are DAHDI's own; a clash would make dahdi_cfg refuse the whole file (or,
    worse, give one channel two meanings), so it is caught here, naming both owners.
    """
    from hardware.dahdi_config import analog_cards, span_layouts  # lazy: pyudev, yaml, jinja2 only for DAHDI sites

    problems: list[Problem] = []
    extensions = {e.number for e in site.of("extension")}
    trunks = {t.name: t for t in site.of("dahdi_trunk")}
    ports, spans = site.of("analog_port"), site.of("span")
    targets = {"extension": extensions, "ringgroup": site.keys("ring_group"),
               "timecondition": site.keys("time_condition"), "announcement": site.keys("announcement"),
               "ivr": site.keys("ivr"), "queue": site.keys("queue"), "robot": site.keys("robot"),
               "voicemail": {e.number for e in site.of("extension") if e.voicemail} | site.keys("voicemail_box")}

    groups: dict[int, str] = {}
    for trunk in site.of("dahdi_trunk"):
        where = f"DAHDI trunk {trunk.name}"
        if trunk.name in site.keys("trunk"):
            problems.append(Problem(f"{where} name", Message(N_("SIP trunk %(name)s has this name: outbound "
                                                                "routes could not tell them apart"), name=trunk.name)))
        if trunk.group in groups:
            problems.append(Problem(f"{where} group", Message(N_("group %(group)s is already DAHDI trunk %(trunk)s's"),
                                                              group=trunk.group, trunk=groups[trunk.group])))
        groups.setdefault(trunk.group, trunk.name)
        dkind, _, target = trunk.destination.partition(":")
        if dkind not in ("hangup", "inbound_routes") and target not in targets.get(dkind, set()):
            problems.append(Problem(f"{where} destination",
                                    Message(N_("%(destination)s does not exist"),
                                            destination=describe_destination(trunk.destination))))

    bound: dict[str, int] = {}
    seats: dict[tuple[str, int], int] = {}
    for port in ports:
        where = f"analog port {port.channel}"
        if port.kind == "fxs":
            if port.extension not in extensions:
                problems.append(Problem(f"{where} extension", missing(N_("extension"), port.extension)))
            elif port.extension in bound:
                taken = Message(N_("extension %(extension)s is already the phone on analog port %(port)s"),
                                extension=port.extension, port=bound[port.extension])
                problems.append(Problem(f"{where} extension", taken))
            bound.setdefault(port.extension, port.channel)
        elif port.trunk not in trunks:
            problems.append(Problem(f"{where} trunk", missing(N_("DAHDI trunk"), port.trunk)))
        if port.card:
            seat = (port.card, port.port)
            if seat in seats:
                problems.append(Problem(f"{where} port", Message(N_("port %(port)s of card %(card)s is already "
                                                                 "analog port %(channel)s"),
                                                              port=port.port, card=port.card, channel=seats[seat])))
            seats.setdefault(seat, port.channel)
            if port.channel - port.port + 1 < 1:
                problems.append(Problem(f"{where} channel", Message(N_("port %(port)s cannot be channel %(channel)s: "
                                                                    "a card's ports are numbered on from its first "
                                                                    "channel"), port=port.port, channel=port.channel)))

    for card in analog_cards(ports):
        members = [p for p in ports if p.card == card.card]
        offsets = {p.channel - p.port for p in members}
        if len(offsets) > 1:
            first = min(members, key=lambda p: p.channel)
            for p in members:
                if p.channel - p.port != first.channel - first.port:
                    problems.append(Problem(f"analog port {p.channel} channel",
                                            Message(N_("ports of card %(card)s must be channels in port order: "
                                                       "port %(first)s is channel %(first_channel)s, so port "
                                                       "%(port)s is channel %(channel)s"),
                                                    card=card.card, first=first.port, first_channel=first.channel,
                                                    port=p.port, channel=first.channel - first.port + p.port)))

    sources = {s.source for s in spans}
    if sources == {"card", "loc"}:
        problems.append(Problem("span source", N_("card spans and loc spans cannot be mixed: card spans are "
                                                  "pinned by assigned-spans.conf, loc spans need auto-assignment")))
    if "card" in sources and any(not p.card for p in ports):
        for port in ports:
            if not port.card:
                problems.append(Problem(f"analog port {port.channel} card",
                                        N_("with card spans configured every analog port must name its card and "
                                           "port, so its card can be pinned in assigned-spans.conf")))
    timing: dict[int, int] = {}
    locs: dict[str, int] = {}
    seen_spans: dict[tuple[str, int], int] = {}
    for span in spans:
        where = f"span {span.span}"
        if span.trunk not in trunks:
            problems.append(Problem(f"{where} trunk", missing(N_("DAHDI trunk"), span.trunk)))
        if span.source == "loc":
            if span.loc in locs:
                problems.append(Problem(f"{where} loc", Message(N_("loc %(loc)s is already span %(span)s"),
                                                                     loc=span.loc, span=locs[span.loc])))
            locs.setdefault(span.loc, span.span)
            continue
        if span.timing:
            if span.timing in timing:
                problems.append(Problem(f"{where} timing", Message(N_("timing priority %(timing)s is already "
                                                                   "span %(span)s's (use 1, 2, ... once each, or 0)"),
                                                                timing=span.timing, span=timing[span.timing])))
            timing.setdefault(span.timing, span.span)
        seat = (span.card, span.local_span)
        if seat in seen_spans:
            problems.append(Problem(f"{where} local_span", Message(N_("local span %(local)s of card %(card)s is "
                                                                   "already span %(span)s"), local=span.local_span,
                                                                card=span.card, span=seen_spans[seat])))
        seen_spans.setdefault(seat, span.span)

    owners: dict[int, str] = {}
    for port in ports:
        owners[port.channel] = f"analog port {port.channel}"
    for lay in span_layouts(spans, ports):
        for chan in range(lay.first, lay.last + 1):
            if chan in owners:
                problems.append(Problem(f"span {lay.span.span} channels",
                                        Message(N_("channels %(first)s-%(last)s overlap %(owner)s "
                                                   "(channel %(channel)s)"),
                                                first=lay.first, last=lay.last, owner=owners[chan], channel=chan)))
                break
            owners[chan] = f"span {lay.span.span}"
    for card in analog_cards(ports):
        for chan in range(card.first, card.last + 1):
            owner = owners.get(chan, "")
            if owner.startswith("span "):
                problems.append(Problem(f"analog port {card.last} channel",
                                        Message(N_("card %(card)s takes channels %(first)s-%(last)s, which "
                                                   "overlap %(owner)s"), card=card.card, first=card.first,
                                                last=card.last, owner=owner)))
                break
    return problems


def _chain(destinations: list[str]) -> str:
    """"IVR menu main → time condition hours → ...", each destination in the reader's language."""
    return joined([describe_destination(d) for d in destinations], N_("%(before)s → %(after)s"))


def _loops(site: Site) -> list[Problem]:
    """Find cycles among destinations that forward a call without ringing anyone."""
    edges: dict[str, list[str]] = {}
    for tc in site.of("time_condition"):
        edges[f"timecondition:{tc.name}"] = [tc.open_destination, tc.closed_destination]
    for ann in site.of("announcement"):
        edges[f"announcement:{ann.name}"] = [ann.destination]
    for ivr in site.of("ivr"):
        # Only the no-input paths loop by themselves; an option needs a caller's key press each time.
        edges[f"ivr:{ivr.name}"] = [ivr.timeout_destination, ivr.invalid_destination]
    for robot in site.of("robot"):
        # the fallback is taken with no caller at all (the robot service down): it must not come back here
        edges[f"robot:{robot.name}"] = [robot.fallback]
    problems = []
    reported: set[str] = set()
    explored: set[str] = set()  # every path onward from these was walked already: walking it again finds nothing new

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = path[path.index(node):] + [node]
            if node not in reported:
                reported.update(cycle)
                problems.append(Problem(describe_destination(node),
                                        Message(N_("destinations form a loop: %(cycle)s"), cycle=_chain(cycle))))
            return
        if node in explored:
            return
        for nxt in edges.get(node, []):
            visit(nxt, [*path, node])
        explored.add(node)

    for start in sorted(edges):
        visit(start, [])
    return problems
