"""Configuration as code: the whole install as one YAML file (site objects and settings, FXO/FXS
gateways, phonebook contacts), exported and imported.

Import is all-or-nothing: the file is parsed keeping each node's line,
every object is validated, the whole site is checked across objects, and
only when nothing at all is wrong is the stored site replaced (in one
transaction).  Every error names the line and the field.

It sits beside the packages it combines (``appliance.site``, ``appliance.gateways``,
``appliance.phonebook``), above all three, so that none of them needs to import another to
export or import the whole install.
"""

from __future__ import annotations

import re

import yaml
from pydantic import ValidationError

from appliance.errors import Problem, SiteError, from_pydantic, message_of
from appliance.gateways import schema as gateway_schema
from appliance.gateways import service as gateways
from appliance.model.database import database
from appliance.phonebook import contacts as phonebook
from appliance.site import schemas, service
from appliance.site.checks import Site, check_site
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


def parse_text(text: str) -> Site:
    """Validate a site file completely; raise SiteError listing every located problem."""
    try:
        root = yaml.compose(text)
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        message = f"not valid YAML: {getattr(error, 'problem', error)}"
        context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and context_mark and (mark is None or context_mark.line != mark.line):
            # e.g. an unclosed quote is only noticed at the end of the file: say where it began
            message += f" ({context} on line {context_mark.line + 1})"
        raise SiteError([Problem("file", message, mark.line + 1 if mark else None)]) from None
    if not isinstance(document, dict):
        raise SiteError([Problem("file", "expected a mapping with 'extensions', 'trunks', ... at the top", 1)])
    lines = _line_index(root)
    problems: list[Problem] = []
    site = Site()
    for top in document:
        if top not in BY_PLURAL and top not in ("linebox", "settings", GATEWAYS, CONTACTS):
            problems.append(Problem(top, f"unknown section (known: settings, {', '.join(BY_PLURAL)}, {GATEWAYS}, "
                                         f"{CONTACTS})",
                                    _line_for(lines, (top,))))
    try:
        site.settings = schemas.Settings.model_validate(document.get("settings") or {})
    except ValidationError as error:
        for p in from_pydantic(error):
            path = ("settings", *[int(x) if x.isdigit() else x for x in p.where.split(".")])
            problems.append(Problem(f"settings.{p.where}", p.message, _line_for(lines, path)))
    located: dict[str, int | None] = {}
    invalid: set[str] = set()  # keys of the objects with bad fields
    for plural, k in BY_PLURAL.items():
        items = document.get(plural) or []
        if not isinstance(items, list):
            problems.append(Problem(plural, "expected a list", _line_for(lines, (plural,))))
            continue
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
            site.objects[k.name].append(obj)
            located[f"{k.label} {getattr(obj, k.key)}"] = _line_for(lines, (plural, i))
    # The checks across objects run even when some objects have bad fields, so that every problem in the
    # file shows at once; an object with a bad field is not in ``site``, and a reference to it is not
    # reported as missing ("extension 104 does not exist" for an extension whose ring_seconds is wrong).
    for problem in check_site(site):
        if _names_one_of(problem, invalid):
            continue
        line = next((ln for label, ln in located.items()
                     if problem.where == label or problem.where.startswith(label + " ")), None)
        problems.append(Problem(problem.where, problem.message, line))
    problems += [p for p in _gateway_problems(document.get(GATEWAYS), site, lines) if not _names_one_of(p, invalid)]
    problems += _contact_problems(document.get(CONTACTS), lines)
    if problems:
        raise SiteError(problems)
    return site


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
        return [Problem(GATEWAYS, "expected a list", _line_for(lines, (GATEWAYS,)))]
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
            bad(f"gateway {gateway.mac} is listed twice", "mac")
        macs.add(gateway.mac)
        for j, port in enumerate(gateway.ports):
            if port.extension and port.extension not in extensions:
                bad(f"port {port.number}: extension {port.extension} does not exist", "ports", j)
            if port.trunk and port.trunk not in trunks:
                bad(f"port {port.number}: trunk {port.trunk} does not exist", "ports", j)
    return problems


def _contact_problems(items, lines: dict[tuple, int]) -> list[Problem]:
    """Check the contacts section, each problem at its contact's field (``contacts.3.numbers``) and line."""
    if items is None:
        return []
    if not isinstance(items, list):
        return [Problem(CONTACTS, "expected a list", _line_for(lines, (CONTACTS,)))]
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


def _replace_gateways(items: list[dict], user: str) -> None:
    """Make the stored gateways exactly ``items`` (already checked by ``_gateway_problems``)."""
    wanted = {entry.mac: entry for entry in (gateway_schema.GatewayEntry.model_validate(item) for item in items)}
    for current in gateways.list_gateways():
        if current["mac"] not in wanted or current["model"] != wanted[current["mac"]].model:
            gateways.delete_gateway(current["mac"], user)
    for mac, entry in wanted.items():
        if gateways.get_gateway(mac) is None:
            counts = None
            if catalogue.get_model(entry.model).configurable:
                kinds = entry.port_kinds()
                counts = {"fxs": kinds.count("fxs"), "fxo": kinds.count("fxo")}
            gateways.adopt(mac, entry.model, user, name=entry.name, address=entry.address, ports=counts)
        else:
            gateways.update_gateway(mac, user, name=entry.name, address=entry.address)
        for port in entry.ports:
            if port.extension:
                gateways.bind_fxs(mac, port.number, port.extension, user)
            elif port.trunk:
                gateways.bind_fxo(mac, port.number, user, trunk=port.trunk)
            else:
                gateways.unbind(mac, port.number, user)


def import_text(text: str, user: str) -> dict[str, int]:
    site = parse_text(text)
    document = yaml.safe_load(text)
    with database.atomic():
        counts = service.replace_site(site, user)
        if isinstance(document, dict) and document.get(GATEWAYS) is not None:
            _replace_gateways(document[GATEWAYS], user)
        if isinstance(document, dict) and document.get(CONTACTS) is not None:
                    phonebook.replace_all(document[CONTACTS], user)
    return counts
