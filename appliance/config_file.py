"""Configuration as code: the whole install as one YAML file (site objects and settings, FXO/FXS
gateways, phonebook contacts), exported and imported.

Import is all-or-nothing: the file is parsed keeping each node's line,
every object is validated, the whole site is checked across objects, and
only when nothing at all is wrong is the stored site changed (in one
transaction).  Every error names the line and the field.

What an import changes, section by section (docs/admin-guide.md, "What an import changes"):

* a section the file does not have is left as it is: settings, each kind of object, gateways,
  contacts alike (a file with only ``extensions:`` changes extensions and nothing else);
* a list section the file has is made exactly what it lists (``trunks: []`` deletes every trunk);
* ``settings:`` sets the settings it names and leaves the others as they are;
* ``reset`` names the sections to start from empty (objects) or from the defaults (settings) instead:
  the explicit way to drop what a file does not mention (``all``: the file is the whole install);
* a field drawn at random when left out (a SIP password, a PIN) keeps its stored value, so the same
  file imported twice, or a site's own export, changes nothing and writes no audit row.

The summary (``ImportSummary``) says what changed, settings included (old -> new, secrets masked);
a dry run makes the same changes in a transaction it rolls back, so it reports exactly what the
import would do.

It sits beside the packages it combines (``appliance.site``, ``appliance.gateways``,
``appliance.phonebook``), above all three, so that none of them needs to import another to
export or import the whole install.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from appliance.catalog import N_
from appliance.errors import Message, Problem, SiteError, from_pydantic, message_of, missing
from appliance.gateways import schema as gateway_schema
from appliance.gateways import service as gateways
from appliance.model import audit
from appliance.model.database import database
from appliance.phonebook import contacts as phonebook
from appliance.site import policy, schemas, service
from appliance.site.checks import Site, check_site, describe_destination, named_targets, resolve_names
from appliance.site.kinds import BY_PLURAL, KINDS
from hardware import gateways as catalogue

HEADER = "# Linebox site configuration. Import with: linebox config import FILE\n"
FORMAT_VERSION = 1
# FXO/FXS gateways are not site objects (they are adopted by MAC, their ports bound one by one) but
# belong to the site all the same: exported when there are any; a file without the section leaves the
# stored gateways alone, a file with it makes them exactly what it lists.
GATEWAYS = "gateways"
# The phonebook (appliance.phonebook) travels the same way: exported when there are contacts; a file
# without the section leaves them alone, a file with it makes the phonebook exactly what it lists.
CONTACTS = "contacts"
SETTINGS = "settings"
# Every section a file may have, in the order an export writes them; ``reset`` takes these names or ``all``.
SECTIONS: tuple[str, ...] = (SETTINGS, *BY_PLURAL, GATEWAYS, CONTACTS)
ALL = "all"
# The documented example site (docs/admin-guide.md): ``linebox config export --example`` prints it.
EXAMPLE = "examples/customer-service.yaml"

# What an import takes (docs/admin-guide.md, "Limits of an import").  A 10,000-extension site with a
# 10,000-contact phonebook exports as about 2.7 MB and 270,000 values (about 10 bytes a value): both limits
# leave it room to grow nearly four-fold (a 10 MiB file checks in about 70 s and 620 MiB on a busy 2-core
# machine), while a file past them is refused at once, before it can hold the box's memory or CPU for
# minutes (an unbounded file read, or YAML aliases expanded value by value, did both).
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_VALUES = 2_000_000  # mappings, lists and scalars, each alias counted as the values it repeats
MAX_DEPTH = 50  # a site file nests 6 deep; deeper is a mistake or an attack
# libyaml's parser when PyYAML was built with it: several times faster than the pure-Python one
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def export_text() -> str:
    site = service.snapshot()
    document: dict = {"linebox": FORMAT_VERSION, "settings": site.settings.model_dump()}
    for name, k in KINDS.items():
        document[k.plural] = [o.model_dump() for o in site.objects[name]]
    stored = gateways.list_gateways()
    if stored:
        document[GATEWAYS] = stored
    contacts = [{k: v for k, v in c.items() if k != "id"} for c in phonebook.all_contacts()]
    if contacts:
        document[CONTACTS] = contacts
    return HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def example_text() -> str:
    """The example customer-service site shipped with Linebox, comments and all."""
    return resources.files("appliance").joinpath(EXAMPLE).read_text(encoding="utf-8")


def reset_sections(names: Iterable[str]) -> frozenset[str]:
    """The sections ``names`` resets (``all``: every one); an unknown name is refused, naming the known ones."""
    wanted = set(names)
    unknown = sorted(wanted - {ALL, *SECTIONS})
    if unknown:
        raise SiteError([Problem("reset", Message(N_("unknown section '%(name)s' (known: %(known)s)"), name=name,
                                                 known=", ".join([ALL, *SECTIONS])))
                         for name in unknown])
    return frozenset(SECTIONS) if ALL in wanted else frozenset(wanted)


def _problem(message: str, line: int | None = None) -> SiteError:
    return SiteError([Problem("file", message, line)])


def read_file(path: Path) -> str:
    """The text of the site file at ``path``: refused (SiteError) if over ``MAX_FILE_BYTES`` or not UTF-8."""
    limit = f"{MAX_FILE_BYTES // (1024 * 1024)} MiB"
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _problem(f"too large: {size / (1024 * 1024):.1f} MiB, an import takes at most {limit} "
                       "(split the file by section: a section the file leaves out is kept as it is)")
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)  # a file that grows, or a device, is still read bounded
    if len(data) > MAX_FILE_BYTES:
        raise _problem(f"too large: more than {limit}, an import takes at most {limit}")
    return decode(data)


_OTHER_ENCODINGS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def decode(data: bytes) -> str:
    """``data`` as text: UTF-8 with or without a byte-order mark; anything else is refused naming the first
    byte that is not UTF-8 text, with its offset and line (a UnicodeDecodeError traceback told a user nothing)."""
    for bom, name in _OTHER_ENCODINGS:  # UTF-32's mark starts like UTF-16's: tried first
        if data.startswith(bom):
            raise _problem(f"the file is {name} text (it starts with a {name} byte-order mark); Linebox reads "
                           f"UTF-8: save it as UTF-8 (e.g. iconv -f {name} -t UTF-8 FILE)", 1)
    try:
        text = data.decode("utf-8-sig")
        bad = None
    except UnicodeDecodeError as error:
        bad = error.start
    nul = data.find(b"\0")
    if nul != -1 and (bad is None or nul < bad):
        line = data.count(b"\n", 0, nul) + 1
        raise _problem(f"a NUL byte at offset {nul} (line {line}): the file is binary, or UTF-16 or UTF-32 "
                       "text; Linebox reads UTF-8 text: save it as UTF-8", line)
    if bad is not None:
        line = data.count(b"\n", 0, bad) + 1
        raise _problem(f"not UTF-8 text: byte 0x{data[bad]:02x} at offset {bad} (line {line}) is not UTF-8; "
                       "the file is binary or in another encoding: save it as UTF-8", line)
    return text


_BRACKETS = re.compile(r"[\[\]{}]")


def _check_brackets(text: str) -> None:
    """Refuse ``[``/``{`` nested deeper than ``MAX_DEPTH`` before parsing: libyaml's time grows with the
    square of that depth (20,000 brackets took 8 s, a 10 MiB file of them would take hours).  Brackets
    inside quotes count too: no site file nests even its text that deep."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        depth = depth + 1 if match.group() in "[{" else max(depth - 1, 0)
        if depth > MAX_DEPTH:
            raise _problem(f"nested more than {MAX_DEPTH} levels deep (a site file needs 6)",
                           text.count("\n", 0, match.start()) + 1)


def _check_size(root: yaml.Node) -> None:
    """Refuse a document that nests deeper than ``MAX_DEPTH`` or holds more than ``MAX_VALUES`` values once
    its aliases are expanded, or an alias inside its own anchor.

    The parser shares an aliased node wherever it is used, so a few hundred bytes ("billion laughs") can
    stand for billions of values that every later walk (line index, validation) would visit one by one.
    Each distinct node is visited once here, without recursion, so the check itself is bounded.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if depth[key] > MAX_DEPTH:
                raise _problem(f"nested more than {MAX_DEPTH} levels deep (a site file needs 6)",
                               node.start_mark.line + 1)
            if size[key] > MAX_VALUES:
                raise _problem(f"holds more than {MAX_VALUES:,} values once its aliases (*name) are expanded: "
                               "an import takes at most that many; write fewer aliases, or split the file",
                               node.start_mark.line + 1)
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise _problem("the value anchored here (&name) holds an alias (*name) to itself: it would repeat forever",
                           node.start_mark.line + 1)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _line_index(node, path=()) -> dict[tuple, int]:
    """Map every path in the YAML document (keys and list indexes) to its 1-based line."""
    index = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            index.update(_line_index(value_node, (*path, key_node.value)))
            index[(*path, key_node.value)] = key_node.start_mark.line + 1
            if isinstance(value_node, yaml.MappingNode | yaml.SequenceNode):
                index.update(_line_index(value_node, (*path, key_node.value)))
                index[(*path, key_node.value)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.update(_line_index(item, (*path, i)))
    return index


def _line_for(lines: dict[tuple, int], path: tuple) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _load(text: str) -> tuple[dict, dict[tuple, int]]:
    """The file's document and the line of each of its nodes; a YAML error names its line."""
    _check_brackets(text)
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            document = None
        else:
            _check_size(root)
            document = loader.construct_document(root)  # once, from the nodes already parsed
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        message = f"not valid YAML: {getattr(error, 'problem', error)}"
        context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and context_mark and (mark is None or context_mark.line != mark.line):
            # e.g. an unclosed quote is only noticed at the end of the file: say where it began
            message += f" ({context} on line {context_mark.line + 1})"
        raise SiteError([Problem("file", message, mark.line + 1 if mark else None)]) from None
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        raise SiteError([Problem("file", N_("expected a mapping with 'extensions', 'trunks', ... at the top"), 1)])
    return document, _line_index(root)


def _settings(document: dict, lines: dict[tuple, int], onto: Site, reset: frozenset[str],
              problems: list[Problem]) -> schemas.Settings:
    """The settings after the import: the stored ones (the defaults when reset), with those the file names."""
    base = schemas.Settings() if SETTINGS in reset else onto.settings
    given = document.get(SETTINGS)
    if given is None:
        given = {}
    if not isinstance(given, dict):
        problems.append(Problem(SETTINGS, N_("expected a mapping of setting: value"), _line_for(lines, (SETTINGS,))))
        return base
    try:
        return schemas.Settings.model_validate(schemas.with_language_defaults(base.model_dump(), given))
    except ValidationError as error:
        for p in from_pydantic(error):
            path = (SETTINGS, *[int(x) if x.isdigit() else x for x in p.where.split(".")])
            problems.append(Problem(f"{SETTINGS}.{p.where}", p.message, _line_for(lines, path)))
        return base


def parse_text(text: str, reset: Iterable[str] = (), onto: Site | None = None) -> Site:
    """The site as importing ``text`` would make it; raise SiteError listing every located problem.

    ``onto`` is the site the file is imported onto (default: the stored one, with its gateways): sections
    the file does not have (and ``reset`` does not name) come from it, and the whole result is checked,
    so a file with only inbound routes may name the stored ring groups.  ``Site()`` reads the file as if
    imported into an empty install (no database needed).
    """
    return _parse(*_load(text), reset_sections(reset), onto)


def _parse(document: dict, lines: dict[tuple, int], resets: frozenset[str], onto: Site | None) -> Site:
    """``parse_text`` on a file already loaded (an import loads it once)."""
    stored_gateways = onto is None
    if onto is None:
        onto = service.snapshot()
    problems: list[Problem] = []
    site = Site()
    for top in document:
        if top not in BY_PLURAL and top not in ("linebox", SETTINGS, GATEWAYS, CONTACTS):
            problems.append(Problem(top, Message(N_("unknown section (known: %(known)s)"), known=", ".join(SECTIONS)),
                                    _line_for(lines, (top,))))
    site.settings = _settings(document, lines, onto, resets, problems)
    located: dict[str, int | None] = {}
    invalid: set[str] = set()  # keys of the objects with bad fields
    origins: dict[int, tuple[str, int]] = {}  # the file's objects: (section, index) by id
    for plural, k in BY_PLURAL.items():
        if plural not in document:
            site.objects[k.name] = [] if plural in resets else list(onto.objects[k.name])
            continue
        items = document[plural] or []
        if not isinstance(items, list):
            problems.append(Problem(plural, N_("expected a list"), _line_for(lines, (plural,))))
            continue
        stored = {getattr(o, k.key): o for o in onto.objects[k.name]}
        generated = schemas.generated_fields(k.schema)
        for i, item in enumerate(items):
            try:
                obj = k.schema.model_validate(item)
            except ValidationError as error:
                for err in error.errors():
                    path = (plural, i, *err["loc"])
                    where = ".".join(str(x) for x in path)
                    problems.append(Problem(where, message_of(err), _line_for(lines, path)))
                if isinstance(item, dict) and item.get(k.key) is not None:
                    invalid.add(str(item[k.key]))
                continue
            old = stored.get(getattr(obj, k.key))
            kept = {name: getattr(old, name) for name in generated if old is not None and name not in item}
            if kept:  # a secret left out of the file is the one already made, not a new one
                obj = obj.model_copy(update=kept)
            refused = policy.problems(k.name, old, obj)
            for name, message in refused:
                path = (plural, i, *name.split("."))
                problems.append(Problem(".".join(map(str, path)), message,
                                        _line_for(lines, path) or _line_for(lines, (plural, i))))
            if refused:
                invalid.add(str(getattr(obj, k.key)))
                continue
            site.objects[k.name].append(obj)
            located[f"{k.label} {getattr(obj, k.key)}"] = _line_for(lines, (plural, i))
            origins[id(obj)] = (plural, i)
    unresolved = _resolve_names(site, origins, lines, problems)
    # The checks across objects run even when some objects have bad fields, so that every problem in the
    # file shows at once; an object with a bad field is not in ``site``, and a reference to it is not
    # reported as missing ("extension 104 does not exist" for an extension whose ring_seconds is wrong).
    for problem in check_site(site):
        if _names_one_of(problem, invalid) or problem.message in unresolved:
            continue
        line = next((ln for label, ln in located.items()
                     if problem.where == label or problem.where.startswith(label + " ")), None)
        problems.append(Problem(problem.where, problem.message, line))
    if GATEWAYS in document:
        problems += [p for p in _gateway_problems(document[GATEWAYS] or [], site, lines)
                     if not _names_one_of(p, invalid)]
    elif GATEWAYS not in resets and stored_gateways:
        problems += _kept_gateway_problems(site)
    problems += _contact_problems(document.get(CONTACTS), lines)
    if problems:
        raise SiteError(problems)
    return site


def _resolve_names(site: Site, origins: dict[int, tuple[str, int]], lines: dict[tuple, int],
                   problems: list[Problem]) -> set[str]:
    """Turn the queues and ring groups the file's objects name by name into their numbers, in ``site``
    (``checks.resolve_destination``: the number is what is stored, so the export has numbers).

    What cannot be resolved goes to ``problems``, located at its field and line; returned are the messages
    the cross-object check would add about the same destinations ("queue Sales does not exist"), said once.
    """
    named = named_targets(site)
    said: set[str] = set()
    for kind, objects in site.objects.items():
        for n, obj in enumerate(objects):
            if id(obj) not in origins:  # kept from the stored site: numbers already
                continue
            resolved, unresolved = resolve_names(kind, obj, lambda dkind: named[dkind])
            objects[n] = resolved
            for path, message in unresolved:
                where = (*origins[id(obj)], *path)
                problems.append(Problem(".".join(map(str, where)), message, _line_for(lines, where)))
                value: object = obj
                for part in path:
                    value = value[part] if isinstance(part, int) else getattr(value, part)  # type: ignore[index]
                said.add(f"{describe_destination(str(value))} does not exist")
    return said


def _kept_gateway_problems(site: Site) -> list[Problem]:
    """Stored gateways the file leaves alone must still find the extensions and trunks their ports name."""
    extensions, trunks = site.keys("extension"), site.keys("trunk")
    problems: list[Problem] = []
    for gateway in gateways.list_gateways():
        for port in gateway["ports"]:
            for label, name, known in (("extension", port["extension"], extensions), ("trunk", port["trunk"], trunks)):
                if name and name not in known:
                    problems.append(Problem(
                        GATEWAYS, Message(N_("gateway %(mac)s port %(port)s is bound to %(kind)s %(name)s, which this "
                                             "import deletes (unbind the port, or list the gateways in the file)"),
                                          mac=gateway["mac"], port=port["number"], kind=Message(label), name=name)))
    return problems


_MISSING = re.compile(r" (\S+) (does not exist|has no voicemail)$")


def _names_one_of(problem: Problem, keys: set[str]) -> bool:
    """Whether ``problem`` says that one of ``keys`` is missing (an object that is there but has bad fields)."""
    found = _MISSING.search(problem.message)
    return found is not None and found.group(1) in keys


def _gateway_problems(items, site: Site, lines: dict[tuple, int]) -> list[Problem]:
    """Check the gateways section against the gateways' schema and the site it comes with."""
    if items is None:
        return []
    if not isinstance(items, list):
        return [Problem(GATEWAYS, N_("expected a list"), _line_for(lines, (GATEWAYS,)))]
    problems: list[Problem] = []
    extensions, trunks = site.keys("extension"), site.keys("trunk")
    macs: set[str] = set()
    for i, item in enumerate(items):
        def bad(message: str, *path, i: int = i) -> None:
            where = (GATEWAYS, i, *path)
            problems.append(Problem(".".join(str(x) for x in where), message, _line_for(lines, where)))
        try:
            gateway = gateway_schema.GatewayEntry.model_validate(item)
        except ValidationError as error:
            for err in error.errors():
                bad(message_of(err), *err["loc"])
            continue
        if gateway.mac in macs:
            bad(Message(N_("gateway %(mac)s is listed twice"), mac=gateway.mac), "mac")
        macs.add(gateway.mac)
        for j, port in enumerate(gateway.ports):
            if port.extension and port.extension not in extensions:
                bad(Message(N_("port %(port)s: %(missing)s"), port=port.number,
                            missing=missing(N_("extension"), port.extension)), "ports", j)
            if port.trunk and port.trunk not in trunks:
                bad(Message(N_("port %(port)s: %(missing)s"), port=port.number,
                            missing=missing(N_("trunk"), port.trunk)), "ports", j)
    return problems


def _contact_problems(items, lines: dict[tuple, int]) -> list[Problem]:
    """Check the contacts section, each problem at its contact's field (``contacts.3.numbers``) and line."""
    if items is None:
        return []
    if not isinstance(items, list):
        return [Problem(CONTACTS, N_("expected a list"), _line_for(lines, (CONTACTS,)))]
    problems: list[Problem] = []
    for i, item in enumerate(items):
        try:
            phonebook.validate(item)
        except SiteError as error:
            for p in error.problems:
                field = p.where.removeprefix(f"{phonebook.KIND}.").removeprefix(phonebook.KIND)
                path = (CONTACTS, i, field) if field else (CONTACTS, i)
                problems.append(Problem(".".join(str(x) for x in path), p.message, _line_for(lines, path)))
    return problems


def _replace_gateways(items: list[dict], user: str) -> dict[str, int]:
    """Make the stored gateways exactly ``items`` (already checked by ``_gateway_problems``).

    Only what differs is written (and audited): importing the gateways as they are changes nothing.
    """
    counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    wanted = {entry.mac: entry for entry in (gateway_schema.GatewayEntry.model_validate(item) for item in items)}
    for stored in gateways.list_gateways():
        if stored["mac"] not in wanted or stored["model"] != wanted[stored["mac"]].model:
            gateways.delete_gateway(stored["mac"], user)
            counts["deleted"] += 1
    for mac, entry in wanted.items():
        before = current = gateways.get_gateway(mac)
        if current is None:
            counts_by_kind = None
            if catalogue.get_model(entry.model).configurable:
                kinds = entry.port_kinds()
                counts_by_kind = {"fxs": kinds.count("fxs"), "fxo": kinds.count("fxo")}
            current = gateways.adopt(mac, entry.model, user, name=entry.name, address=entry.address,
                                     ports=counts_by_kind)
        elif (current["name"], current["address"]) != (entry.name, entry.address):
            current = gateways.update_gateway(mac, user, name=entry.name, address=entry.address)
        bound = {p["number"]: (p["extension"], p["trunk"]) for p in current["ports"]}
        for port in entry.ports:
            if bound.get(port.number) == (port.extension, port.trunk):
                continue
            if port.extension:
                gateways.bind_fxs(mac, port.number, port.extension, user)
            elif port.trunk:
                gateways.bind_fxo(mac, port.number, user, trunk=port.trunk)
            else:
                gateways.unbind(mac, port.number, user)
        if before is None:
            counts["created"] += 1
        elif gateways.get_gateway(mac) != before:
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return counts


@dataclass(frozen=True)
class SettingChange:
    """One setting an import changes; a secret's values are masked."""

    name: str
    before: object
    after: object


LISTED_CHANGES = 30  # objects named one by one in a summary; beyond, "... and N more"


@dataclass
class ImportSummary:
    """What an import changed (or, for a dry run, would change)."""

    counts: dict[str, int]
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (action, kind, key) of each object
    settings: list[SettingChange] = field(default_factory=list)
    gateways: dict[str, int] | None = None  # None: the section was left alone
    contacts: dict[str, int] | None = None
    untouched: list[str] = field(default_factory=list)  # sections not in the file, left as they were
    dry_run: bool = False

    def lines(self) -> list[str]:
        """The summary as the CLI prints it: counts, each object changed, each setting old -> new."""
        out = ["dry run: the import would make these changes (nothing was stored)"] if self.dry_run else []
        out.append("objects: " + _counted(self.counts))
        for action, kind, key in self.changes[:LISTED_CHANGES]:
            out.append(f"  {action} {KINDS[kind].label} {key}")
        if len(self.changes) > LISTED_CHANGES:
            out.append(f"  ... and {len(self.changes) - LISTED_CHANGES} more")
        if SETTINGS not in self.untouched:
            out.append(f"settings: {len(self.settings)} changed" if self.settings else "settings: unchanged")
            out += [f"  {c.name}: {c.before} -> {c.after}" for c in self.settings]
        if self.gateways is not None:
            out.append("gateways: " + _counted(self.gateways))
        if self.contacts is not None:
            out.append("contacts: " + _counted(self.contacts))
        if self.untouched:
            out.append("not in the file, left as they were: " + ", ".join(self.untouched))
        return out


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items())


def _setting_changes(before: schemas.Settings, after: schemas.Settings) -> list[SettingChange]:
    old, new = before.model_dump(), after.model_dump()
    changes = []
    for name in old:
        if old[name] != new[name]:
            if name in schemas.SECRET_SETTINGS:
                changes.append(SettingChange(name, audit.MASK, audit.MASK + " (changed)"))
            else:
                changes.append(SettingChange(name, old[name], new[name]))
    return changes


def import_text(text: str, user: str, reset: Iterable[str] = (), dry_run: bool = False) -> ImportSummary:
    """Import a site file (all of it, or nothing): see the module's docstring for what each section does.

    ``dry_run`` makes every change, reports it and rolls the transaction back: the summary is exactly
    what the import would say, and nothing is stored.
    """
    resets = reset_sections(reset)
    with database.atomic() as transaction:
        before = service.load_settings()
        document, lines = _load(text)
        site = _parse(document, lines, resets, None)
        changes: list[tuple[str, str, str]] = []
        counts = service.replace_site(site, user, changes=changes)
        summary = ImportSummary(counts, changes, _setting_changes(before, site.settings), dry_run=dry_run)
        if GATEWAYS in document or GATEWAYS in resets:
            summary.gateways = _replace_gateways(document.get(GATEWAYS) or [], user)
        if CONTACTS in document or CONTACTS in resets:
            summary.contacts = phonebook.replace_all(document.get(CONTACTS) or [], user)
        summary.untouched = [name for name in SECTIONS if name not in document and name not in resets]
        if dry_run:
            transaction.rollback()
    return summary
