"""YAML import: every error names its line and field, and a failed import writes nothing at all."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance import config_file
from appliance.errors import SiteError
from appliance.model import audit
from appliance.model.models import AuditEntry
from appliance.site import service
from appliance.site.checks import Site
from appliance.site.kinds import KINDS
from tests.conftest import REFERENCE_SITE

REFERENCE = REFERENCE_SITE.read_text(encoding="utf-8")


def line_of(text: str, line: str, after: int = 0) -> int:
    """The 1-based number of the first line equal to ``line`` (after line ``after``)."""
    lines = text.split("\n")
    for number in range(after + 1, len(lines) + 1):
        if lines[number - 1] == line:
            return number
    raise AssertionError(f"{line!r} not in the text")


def replace_line(text: str, old: str, new: str) -> str:
    lines = text.split("\n")
    assert lines.count(old) == 1, f"{old!r} is not exactly once in the text"
    lines[lines.index(old)] = new
    return "\n".join(lines)


def import_error(text: str) -> SiteError:
    with pytest.raises(SiteError) as raised:
        config_file.import_text(text, user="alice")
    return raised.value


def state() -> tuple[str, list]:
    """Everything an import could touch: the site (as exported) and the audit log."""
    rows = [(e.user, e.action, e.kind, e.key, e.before, e.after) for e in AuditEntry.select().order_by(AuditEntry.id)]
    return config_file.export_text(), rows


# ---- located errors ---------------------------------------------------------------------------------


def test_bad_value_names_line_and_field_path(install):
    text = replace_line(REFERENCE, "- number: '101'", "- number: '1x1'")
    error = import_error(text)
    line = line_of(text, "- number: " + repr("1x1"))
    assert f"line {line}: extensions.1.number: '1x1' is not allowed here: use 2 to 8 digits" in str(error).split("\n")


def test_bad_value_deep_in_an_object(install):
    # The second range of the first time condition ends before it starts.
    start = line_of(REFERENCE, "time_conditions:")
    text = replace_line(REFERENCE, "    end: '12:00'", "    end: 08:00")
    error = import_error(text)
    problems = [p for p in error.problems if p.where == "time_conditions.0.ranges.1.end"]
    assert problems, str(error)
    assert problems[0].line == line_of(text, "    end: 08:00", after=start)
    assert problems[0].message == "must be later than start"


def test_bad_value_not_on_the_first_line_of_its_object(install):
    text = replace_line(REFERENCE, "  ring_seconds: 40", "  ring_seconds: 2")
    error = import_error(text)
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert (problem.where, problem.line) == ("extensions.4.ring_seconds", line_of(text, "  ring_seconds: 2"))
    assert problem.message == "must be at least 5"


def test_number_written_without_quotes_means_the_same_number(install):
    text = replace_line(REFERENCE, "- number: '105'", "- number: 105")
    config_file.import_text(text, user="alice")
    assert service.get_object("extension", "105") is not None


def test_unknown_key_in_an_object(install):
    text = replace_line(REFERENCE, "  name: Sales Desk", "  name: Sales Desk\n  colour: blue")
    error = import_error(text)
    assert [str(p) for p in error.problems] == [f"line {line_of(text, '  colour: blue')}: extensions.3.colour: "
                                                "unknown field"]


def test_unknown_section(install):
    text = REFERENCE + "parking_lots:\n- name: support\n"
    error = import_error(text)
    assert len(error.problems) == 1
    assert error.problems[0].where == "parking_lots"
    assert error.problems[0].line == line_of(text, "parking_lots:")
    assert "unknown section" in error.problems[0].message


def test_destination_pointing_at_nothing_reports_the_objects_line(install):
    text = replace_line(REFERENCE, "  fallback: voicemail:700", "  fallback: voicemail:799")
    error = import_error(text)
    assert [str(p) for p in error.problems] == [
        f"line {line_of(text, '- number: ' + repr('601'))}: ring group 601 fallback: voicemail 799 does not exist"]


def test_voicemail_destination_of_an_extension_without_voicemail(install):
    text = replace_line(REFERENCE, "  destination: ringgroup:601", "  destination: voicemail:104")
    error = import_error(text)
    assert [str(p) for p in error.problems] == [
        f"line {line_of(text, '- name: sales')}: inbound route sales destination: voicemail 104 has no voicemail"]


def test_route_naming_a_missing_trunk(install):
    start = line_of(REFERENCE, "- name: international")
    lines = REFERENCE.split("\n")
    index = lines.index("  - backup", start)  # the first trunk of the international route
    lines[index] = "  - spare"
    text = "\n".join(lines)
    error = import_error(text)
    assert [str(p) for p in error.problems] == [
        f"line {start}: outbound route international trunks: trunk spare does not exist"]


def test_the_same_name_twice_is_refused(install):
    text = replace_line(REFERENCE, "- name: sales", "- name: main")
    error = import_error(text)
    messages = [str(p) for p in error.problems]
    second = line_of(text, "- name: main", after=line_of(text, "- name: main"))
    assert f"line {second}: inbound route main name: inbound route main is defined twice" in messages


def test_destination_loop_reports_a_line(install):
    text = replace_line(REFERENCE, "  destination: voicemail:700", "  destination: timecondition:office-hours")
    error = import_error(text)
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert "loop" in problem.message and "office-hours" in problem.message and "closed" in problem.message
    assert problem.line in (line_of(text, "- name: closed"), line_of(text, "- name: office-hours"))


def test_every_problem_is_reported_not_just_the_first(install):
    text = replace_line(REFERENCE, "  ring_seconds: 40", "  ring_seconds: 2")
    text = replace_line(text, "  host: sip.telco.example.net", "  host: sip.telco.example.net;evil")
    text = replace_line(text, "  sort: alpha", "  sort: shuffle")
    wheres = {p.where for p in import_error(text).problems}
    assert wheres == {"extensions.4.ring_seconds", "trunks.0.host", "moh_classes.0.sort"}

    text = replace_line(REFERENCE, "  fallback: voicemail:700", "  fallback: voicemail:799")
    text = replace_line(text, "  destination: ringgroup:601", "  destination: extension:199")
    wheres = {p.where for p in import_error(text).problems}
    assert wheres == {"ring group 601 fallback", "inbound route sales destination"}


def test_an_invalid_object_is_not_reported_as_missing(install):
    """Extension 104 has a bad field: the ring group using it must not be told it does not exist."""
    text = replace_line(REFERENCE, "  ring_seconds: 40", "  ring_seconds: 2")
    error = import_error(text)
    assert [str(p) for p in error.problems] == [
        f"line {line_of(text, '  ring_seconds: 2')}: extensions.4.ring_seconds: must be at least 5"]


def test_field_errors_and_errors_across_objects_show_at_once(install):
    """One import shows every problem: bad fields, and a destination elsewhere that points at nothing."""
    before = state()
    text = replace_line(REFERENCE, "  ring_seconds: 40", "  ring_seconds: 2")
    text = replace_line(text, "  destination: ringgroup:601", "  destination: ringgroup:699")
    text = replace_line(text, "  open_destination: ringgroup:600", "  open_destination: ringgroup:600\n  colour: red")
    error = import_error(text)
    assert sorted(str(p) for p in error.problems) == sorted([
        f"line {line_of(text, '  ring_seconds: 2')}: extensions.4.ring_seconds: must be at least 5",
        f"line {line_of(text, '  colour: red')}: time_conditions.0.colour: unknown field",
        f"line {line_of(text, '- name: sales')}: inbound route sales destination: ring group 699 does not exist",
    ])
    assert state() == before


@pytest.mark.parametrize(("broken", "replacement", "line_offset"), [
    ("  name: Warehouse", "  name: Ware: house", 0),  # a second ': ' on one line
    ("  name: Warehouse", "\tname: Warehouse", 0),  # a tab for indentation
    ("  name: Warehouse", "  name: [Warehouse", 1),  # an unclosed flow list is noticed on the next line
])
def test_invalid_yaml_reports_its_line(install, broken, replacement, line_offset):
    text = replace_line(REFERENCE, broken, replacement)
    error = import_error(text)
    assert len(error.problems) == 1
    assert error.problems[0].where == "file"
    assert error.problems[0].line == line_of(text, replacement) + line_offset
    assert error.problems[0].message.startswith("not valid YAML")


def test_unclosed_quote_says_where_it_began(install):
    text = replace_line(REFERENCE, "  name: Warehouse", '  name: "Warehouse')
    error = import_error(text)
    assert f"line {line_of(text, '  name: ' + chr(34) + 'Warehouse')}" in error.problems[0].message


@pytest.mark.parametrize("text", ["", "just a string\n", "- a\n- list\n"])
def test_file_that_is_not_a_mapping(install, text):
    error = import_error(text)
    assert error.problems[0].where == "file"


# ---- all or nothing ---------------------------------------------------------------------------------


BROKEN_IMPORTS = {
    "bad value": lambda t: replace_line(t, "- number: '101'", "- number: '1x1'"),
    "unknown key": lambda t: replace_line(t, "  name: Sales Desk", "  name: Sales Desk\n  colour: blue"),
    "dangling destination": lambda t: replace_line(t, "  fallback: voicemail:700", "  fallback: voicemail:799"),
    "yaml syntax": lambda t: replace_line(t, "  name: Warehouse", "  name: Ware: house"),
    "duplicate number": lambda t: replace_line(t, "- number: '700'", "- number: '600'"),
}


def _changed_but_valid(text: str) -> str:
    """The reference with real changes (a rename, a removal), so a half-done import would show."""
    text = replace_line(text, "  name: Reception", "  name: Front Office")
    start = text.split("\n").index("moh_classes:")
    lines = text.split("\n")
    del lines[start + 1:start + 4]  # drop the only music-on-hold class
    lines[start] = "moh_classes: []"
    return "\n".join(lines)


@pytest.mark.parametrize("breakage", sorted(BROKEN_IMPORTS))
def test_failed_import_changes_nothing(install, breakage):
    config_file.import_text(REFERENCE, user="alice")
    before = state()
    changed = _changed_but_valid(REFERENCE)
    config_file.parse_text(changed)  # valid on its own ...
    with pytest.raises(SiteError):
        config_file.import_text(BROKEN_IMPORTS[breakage](changed), user="bob")  # ... but not with the breakage
    assert state() == before


@pytest.mark.parametrize("breakage", sorted(BROKEN_IMPORTS))
def test_failed_import_into_an_empty_database_leaves_it_empty(install, breakage):
    before = state()
    with pytest.raises(SiteError):
        config_file.import_text(BROKEN_IMPORTS[breakage](REFERENCE), user="bob")
    assert state() == before
    assert all(not service.list_objects(kind) for kind in ("extension", "trunk", "ring_group"))


def test_import_interrupted_half_way_is_rolled_back(install, monkeypatch):
    """A failure after some rows were written (disk full, a bug) leaves the previous site in place."""
    config_file.import_text(REFERENCE, user="alice")
    before = state()
    real_record, calls = audit.record, []

    def failing_record(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(OSError):
        config_file.import_text(_changed_but_valid(REFERENCE), user="bob")
    assert len(calls) == 2  # one change had been written before the failure
    monkeypatch.undo()
    assert state() == before


# ---- a valid import is audited ----------------------------------------------------------------------


def test_valid_import_creates_audit_rows(install):
    site = config_file.parse_text(REFERENCE)
    counts = config_file.import_text(REFERENCE, user="alice").counts
    total = sum(len(objs) for objs in site.objects.values())
    assert counts == {"created": total, "updated": 0, "deleted": 0, "unchanged": 0}

    rows = list(AuditEntry.select().order_by(AuditEntry.id))
    assert len(rows) == total  # the settings are the defaults: no settings row
    assert {r.user for r in rows} == {"alice"} and {r.action for r in rows} == {"create"}
    assert {(r.kind, r.key) for r in rows} == {
        (name, getattr(obj, k.key)) for name, k in KINDS.items() for obj in site.of(name)}
    reception = next(r for r in rows if (r.kind, r.key) == ("extension", "100"))
    assert reception.before is None
    assert reception.after["name"] == "Reception"
    assert reception.after["password"] == audit.MASK and reception.after["voicemail_pin"] == audit.MASK

    # No secret of the file is readable in the audit log.
    log = json.dumps([[r.before, r.after] for r in rows])
    secrets = [e.password for e in site.of("extension")] + [e.voicemail_pin for e in site.of("extension")]
    secrets += [t.password for t in site.of("trunk") if t.password] + [b.pin for b in site.of("voicemail_box")]
    assert secrets and not [s for s in secrets if s in log]


def test_reimport_with_changes_audits_updates_and_deletions(install):
    config_file.import_text(REFERENCE, user="alice")
    first = AuditEntry.select().count()
    counts = config_file.import_text(_changed_but_valid(REFERENCE), user="bob").counts
    assert (counts["created"], counts["updated"], counts["deleted"]) == (0, 1, 1)
    rows = list(AuditEntry.select().where(AuditEntry.id > first).order_by(AuditEntry.id))
    assert sorted((r.user, r.action, r.kind, r.key) for r in rows) == [
        ("bob", "delete", "moh_class", "practice"), ("bob", "update", "extension", "100")]
    update = next(r for r in rows if r.action == "update")
    assert (update.before["name"], update.after["name"]) == ("Reception", "Front Office")
    assert update.before["password"] == update.after["password"] == audit.MASK  # unchanged, still masked


# ---- free text survives export and import -----------------------------------------------------------


# One database for every example is fine: replace_site makes the stored site exactly the one given.
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(
    st.text(min_size=1, max_size=80),
    st.text(st.characters(exclude_categories=("C", "Z")) | st.just(" "), min_size=1, max_size=80),
    st.sampled_from(["yes", "No", "null", "~", "1e3", "0x10", "0100", "12:30", "2025-01-01", "'", '"', "#x", "- a",
                     "a: b", "a #b", "[x]", "{y}", "&a", "*a", "!tag", "%x", "@x", "`x", "|", ">", "? x", "---",
                     "...", "\\", "\\n", "é", "😀" * 80]),
))
def test_any_accepted_name_round_trips_through_the_file(install, name):
    """Whatever a name holds (quotes, '#', 'yes', 'null', '1e3', unicode ...), the file gives it back unchanged."""
    try:
        extension = service.validate("extension", {"number": "100", "name": name, "password": "Abcdefgh12345678",
                                                   "voicemail_pin": "1234"})
    except SiteError:
        return
    site = Site()
    site.objects["extension"] = [extension]
    service.replace_site(site, user="alice")
    text = config_file.export_text()
    assert config_file.parse_text(text).of("extension") == [extension]
