"""The documented example site (``linebox config export --example``) and the admin guide's reference of the
site file: the example imports cleanly into an empty install and round-trips, and the reference names
every key of every section with its true default, and nothing that is not a key."""

from __future__ import annotations

import fnmatch
import re
import tomllib
import typing
from pathlib import Path

import yaml
from click.testing import CliRunner
from pydantic import BaseModel

from appliance import config_file
from appliance.asterisk.layout import DEFAULT_DIRECTORIES
from appliance.cli import main
from appliance.gateways import schema as gateway_schema
from appliance.model.models import AuditEntry
from appliance.phonebook import contacts as phonebook
from appliance.phonebook import schema as contact_schema
from appliance.provisioning import render
from appliance.site import localtime, schemas, service
from appliance.site.kinds import BY_PLURAL

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "admin-guide.md"
REFERENCE_HEADING = "### The site file, key by key"


# ---- the example site -----------------------------------------------------------------------------------


def test_export_example_prints_the_shipped_example():
    result = CliRunner().invoke(main, ["config", "export", "--example"])
    assert result.exit_code == 0, result.output
    assert result.output == config_file.example_text()
    assert result.output.startswith(config_file.HEADER)


def test_the_example_is_package_data():
    """The wheel a box is installed from carries the example (pyproject's package data names it)."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["appliance"]
    assert any(fnmatch.fnmatch(config_file.EXAMPLE, pattern) for pattern in patterns)


def test_the_example_is_the_customer_service_site_it_says(install):
    summary = config_file.import_text(config_file.example_text(), "admin")
    site = service.snapshot()
    assert summary.counts["created"] == sum(len(objects) for objects in site.objects.values())
    assert summary.counts["updated"] == summary.counts["deleted"] == 0
    assert [t.name for t in site.of("trunk")] == ["backup", "primary"]
    assert {r.did: r.destination for r in site.of("inbound_route")}["4007002505"] == "timecondition:business-hours"
    hours = site.of("time_condition")[0]
    assert (hours.timezone, hours.open_destination, hours.closed_destination) == (
        "Asia/Shanghai", "ivr:main", "voicemail:700")
    menu = {o.digit: o.destination for o in site.of("ivr")[0].options}
    assert menu == {"1": "queue:701", "2": "queue:702", "3": "ringgroup:600", "0": "extension:200"}
    queues = site.of("queue")
    assert len(queues) == 2 and all(q.wrapup_seconds > 0 and len({m.penalty for m in q.members}) > 1
                                    for q in queues)
    assert all(r.trunks == ["primary", "backup"] for r in site.of("outbound_route"))
    assert [c["name"] for c in phonebook.all_contacts()] == ["Zhang Wei"]
    assert service.load_settings().tone_zone == "cn"
    assert service.check() == []  # what apply checks first
    files = render.render_all(site, render.InstallFacts(ami_secret="x", directories=DEFAULT_DIRECTORIES))
    assert "[701]" in files["queues.conf"] and "Asia/Shanghai" in files["extensions.conf"]


def test_the_example_round_trips_without_a_change(install):
    config_file.import_text(config_file.example_text(), "admin")
    again = config_file.import_text(config_file.example_text(), "admin")  # the same file twice
    assert (again.counts["created"], again.counts["updated"], again.counts["deleted"], again.settings) == (0, 0, 0, [])
    for cycle in (1, 2):
        exported, rows = config_file.export_text(), AuditEntry.select().count()
        summary = config_file.import_text(exported, "admin")
        assert (summary.counts["created"], summary.counts["updated"], summary.counts["deleted"]) == (0, 0, 0), cycle
        assert summary.settings == [] and summary.contacts == {"created": 0, "updated": 0, "deleted": 0,
                                                               "unchanged": 1}
        assert AuditEntry.select().count() == rows, cycle
        assert config_file.export_text() == exported, cycle


# ---- the admin guide's reference of every key -----------------------------------------------------------


def _models(annotation) -> list[type[BaseModel]]:
    """The schemas a field holds (``list[QueueMember]`` -> QueueMember), looking through Annotated and unions."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _default(field) -> str:
    """``required``, ``generated`` (drawn at random when left out), or the default as YAML ('' for empty text)."""
    if field.is_required():
        return "required"
    if field.default_factory in schemas.GENERATED_DEFAULTS:
        return "generated"
    if field.default_factory is localtime.box_timezone:
        return "the box's"  # the box's own time zone (/etc/timezone), which differs from box to box
    value = field.get_default(call_default_factory=True)
    if isinstance(value, str):
        return value or "''"
    return yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("...\n").strip()


def schema_keys(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Every key of ``model`` (nested ones as ``members.penalty``) and its default as the guide writes it."""
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        keys[prefix + name] = _default(field)
        for nested in _models(field.annotation):
            keys.update(schema_keys(nested, f"{prefix}{name}."))
    return keys


def expected_sections() -> dict[str, dict[str, str]]:
    sections = {config_file.SETTINGS: schema_keys(schemas.Settings)}
    sections.update({plural: schema_keys(k.schema) for plural, k in BY_PLURAL.items()})
    sections[config_file.GATEWAYS] = schema_keys(gateway_schema.GatewayEntry)
    sections[config_file.CONTACTS] = schema_keys(contact_schema.Contact)
    return sections


def documented_sections() -> dict[str, dict[str, tuple[str, str]]]:
    """The guide's reference: for each ``#### section``, each table row's key -> (default, meaning)."""
    text = GUIDE.read_text(encoding="utf-8")
    assert REFERENCE_HEADING in text
    body = text.split(REFERENCE_HEADING, 1)[1]
    body = re.split(r"^#{2,3} ", body, maxsplit=1, flags=re.M)[0]
    sections: dict[str, dict[str, tuple[str, str]]] = {}
    current = None
    for line in body.splitlines():
        heading = re.match(r"^#### `?([a-z_]+)`?\s*$", line)
        if heading:
            current = sections.setdefault(heading.group(1), {})
            continue
        row = re.match(r"^\| `([a-z0-9_.]+)` \| (.*?) \| (.*) \|$", line)
        if row and current is not None:
            default = row.group(2).strip()
            current[row.group(1)] = (default[1:-1] if default.startswith("`") else default, row.group(3).strip())
    return sections


def test_the_guide_documents_every_key_of_every_section_with_its_default():
    expected, documented = expected_sections(), documented_sections()
    assert list(documented) == list(expected), "one '#### section' per section, in the export's order"
    wrong = []
    for section, keys in expected.items():
        rows = documented[section]
        for key, default in keys.items():
            if key not in rows:
                wrong.append(f"{section}: missing | `{key}` | `{default}` | ... |")
            elif rows[key][0] != default:
                wrong.append(f"{section}: {key}: the guide says default {rows[key][0]!r}, the schema {default!r}")
            elif not rows[key][1]:
                wrong.append(f"{section}: {key}: say what it means")
        wrong += [f"{section}: {key} is not a key of the file" for key in rows if key not in keys]
    assert not wrong, "\n".join(wrong)


def test_every_key_of_the_example_is_documented():
    """The example uses documented keys only (it is imported by the tests above: this guards its comments' claims)."""
    documented = documented_sections()
    document = yaml.safe_load(config_file.example_text())
    for section, value in document.items():
        if section == "linebox":
            continue
        items = [value] if isinstance(value, dict) else value
        for item in items:
            for key, inner in item.items():
                assert key in documented[section], (section, key)
                for nested in inner if isinstance(inner, list) else []:
                    if isinstance(nested, dict):
                        assert all(f"{key}.{k}" in documented[section] for k in nested), (section, key, nested)
