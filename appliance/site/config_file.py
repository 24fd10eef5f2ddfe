"""Configuration as code: the whole site as one YAML file, exported and imported.

Import is all-or-nothing: the file is parsed keeping each node's line,
every object is validated, the whole site is checked across objects, and
only when nothing at all is wrong is the stored site replaced (in one
transaction).  Every error names the line and the field.
"""

from __future__ import annotations

import yaml
from pydantic import ValidationError

from appliance.site import schemas, service
from appliance.site.checks import Site, check_site
from appliance.site.errors import Problem, SiteError, from_pydantic, message_of
from appliance.site.kinds import BY_PLURAL, KINDS

HEADER = "# Linebox site configuration. Import with: linebox config import FILE\n"
FORMAT_VERSION = 1


def export_text() -> str:
    site = service.snapshot()
    document: dict = {"linebox": FORMAT_VERSION, "settings": site.settings.model_dump()}
    for name, k in KINDS.items():
        document[k.plural] = [o.model_dump() for o in site.objects[name]]
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
        if top not in BY_PLURAL and top not in ("linebox", "settings"):
            problems.append(Problem(top, f"unknown section (known: settings, {', '.join(BY_PLURAL)})",
                                    _line_for(lines, (top,))))
    try:
        site.settings = schemas.Settings.model_validate(document.get("settings") or {})
    except ValidationError as error:
        for p in from_pydantic(error):
            path = ("settings", *[int(x) if x.isdigit() else x for x in p.where.split(".")])
            problems.append(Problem(f"settings.{p.where}", p.message, _line_for(lines, path)))
    located: dict[str, int | None] = {}
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
                continue
            site.objects[k.name].append(obj)
            located[f"{k.label} {getattr(obj, k.key)}"] = _line_for(lines, (plural, i))
    if problems:
        # Checks across objects would see an invalid object as missing and report false errors
        # ("extension 104 does not exist" for an extension with a bad field): the file must be fixed first.
        raise SiteError(problems)
    for problem in check_site(site):
        line = next((ln for label, ln in located.items()
                     if problem.where == label or problem.where.startswith(label + " ")), None)
        problems.append(Problem(problem.where, problem.message, line))
    if problems:
        raise SiteError(problems)
    return site


def import_text(text: str, user: str) -> dict[str, int]:
    site = parse_text(text)
    return service.replace_site(site, user)
