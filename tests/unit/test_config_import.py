"""What an import changes: an absent section is left alone, a reset is explicit, changed settings are
reported (dry run too), and importing a site's own export, or the same file twice, changes nothing."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from appliance import config_file
from appliance.cli import main
from appliance.gateways import service as gateways
from appliance.model import audit
from appliance.model.models import AuditEntry
from appliance.phonebook import contacts as phonebook
from appliance.site import service
from tests.conftest import REFERENCE_SITE

REFERENCE = REFERENCE_SITE.read_text(encoding="utf-8")
CUSTOM = {"sip_port": 5070, "ami_port": 5039, "rtp_start": 12000, "rtp_end": 12999, "country_code": "86"}


def audit_rows() -> int:
    return AuditEntry.select().count()


def only(text: str, *sections: str) -> str:
    """The reference file cut down to some of its sections."""
    document = yaml.safe_load(text)
    return yaml.safe_dump({name: document[name] for name in ("linebox", *sections)}, sort_keys=False)


def settings_now() -> dict:
    return service.load_settings().model_dump()


# ---- an absent section is left alone ------------------------------------------------------------------


def test_a_file_without_settings_leaves_every_setting_alone(install):
    config_file.import_text(REFERENCE, "alice")
    service.save_settings(CUSTOM, "alice")
    before = settings_now()
    text = only(REFERENCE, "extensions").replace("name: Reception", "name: Front Office")
    config_file.import_text(text, "bob")
    assert settings_now() == before
    assert service.get_object("extension", "100").name == "Front Office"


def test_a_file_without_an_object_section_leaves_those_objects_alone(install):
    config_file.import_text(REFERENCE, "alice")
    before = service.snapshot()
    text = only(REFERENCE, "extensions").replace("name: Reception", "name: Front Office")
    summary = config_file.import_text(text, "bob")
    after = service.snapshot()
    for name, objects in before.objects.items():
        if name != "extension":
            assert after.objects[name] == objects, name
    assert (summary.counts["updated"], summary.counts["deleted"], summary.counts["created"]) == (1, 0, 0)
    assert "trunks" in summary.untouched and "settings" in summary.untouched


def test_a_partial_file_is_checked_against_the_objects_it_leaves(install):
    """A file with only inbound routes may name the stored ring groups; one naming nothing is refused."""
    config_file.import_text(REFERENCE, "alice")
    text = "linebox: 1\ninbound_routes:\n- name: main\n  did: '441632960000'\n  destination: ringgroup:601\n"
    config_file.import_text(text, "bob")
    assert [r.name for r in service.list_objects("inbound_route")] == ["main"]
    with pytest.raises(config_file.SiteError) as raised:
        config_file.import_text(text.replace("ringgroup:601", "ringgroup:699"), "bob")
    assert [(p.where, p.line) for p in raised.value.problems] == [("inbound route main destination", 3)]


def test_settings_not_named_in_the_file_are_left_alone(install):
    service.save_settings(CUSTOM, "alice")
    summary = config_file.import_text("linebox: 1\nsettings:\n  sip_port: 5080\n", "bob")
    assert settings_now() == {**service.load_settings().model_dump(), **CUSTOM, "sip_port": 5080}
    assert [(c.name, c.before, c.after) for c in summary.settings] == [("sip_port", 5070, 5080)]


def test_a_setting_checked_with_the_stored_ones(install):
    """rtp_start above the stored rtp_end is refused, at the line of the setting the file gives."""
    service.save_settings(CUSTOM, "alice")
    with pytest.raises(config_file.SiteError) as raised:
        config_file.import_text("linebox: 1\nsettings:\n  rtp_start: 13000\n", "bob")
    assert [(p.where, p.line) for p in raised.value.problems] == [("settings.rtp_end", 2)]
    assert settings_now()["rtp_start"] == 12000


def test_reset_settings_is_explicit(install):
    service.save_settings(CUSTOM, "alice")
    summary = config_file.import_text("linebox: 1\nsettings:\n  sip_port: 5080\n", "bob", reset=["settings"])
    defaults = config_file.schemas.Settings().model_dump()
    assert settings_now() == {**defaults, "sip_port": 5080}
    assert {c.name: (c.before, c.after) for c in summary.settings} == {
        "sip_port": (5070, 5080), "ami_port": (5039, 5038), "rtp_start": (12000, 10000), "rtp_end": (12999, 20000),
        "country_code": ("86", "")}


def test_reset_empties_a_section_the_file_does_not_have(install):
    config_file.import_text(REFERENCE, "alice")
    phonebook.create_contact({"name": "Anna Berg", "numbers": ["+44 20 7946 0018"]}, "alice")
    text = only(REFERENCE, "extensions", "trunks")
    summary = config_file.import_text(text, "bob", reset=["contacts", "inbound_routes"])
    assert phonebook.all_contacts() == [] and service.list_objects("inbound_route") == []
    assert service.list_objects("ring_group")  # not reset, not in the file: kept
    assert summary.contacts == {"created": 0, "updated": 0, "deleted": 1, "unchanged": 0}


def test_reset_all_makes_the_install_exactly_the_file(install):
    config_file.import_text(REFERENCE, "alice")
    service.save_settings(CUSTOM, "alice")
    phonebook.create_contact({"name": "Anna Berg", "numbers": ["+44 20 7946 0018"]}, "alice")
    gateways.adopt("000b82112233", "ht802", "alice")
    config_file.import_text("linebox: 1\nextensions:\n- number: '100'\n  name: Only\n", "bob", reset=["all"])
    assert settings_now() == config_file.schemas.Settings().model_dump()
    assert [e.number for e in service.list_objects("extension")] == ["100"]
    assert all(not service.list_objects(name) for name in service.snapshot().objects if name != "extension")
    assert phonebook.all_contacts() == [] and gateways.list_gateways() == []


def test_reset_of_an_unknown_section_is_refused(install):
    with pytest.raises(config_file.SiteError) as raised:
        config_file.import_text("linebox: 1\n", "bob", reset=["phones"])
    assert raised.value.problems[0].where == "reset"
    assert "unknown section 'phones'" in raised.value.problems[0].message


# ---- the summary says what changes, settings included; a dry run stores nothing ------------------------


def test_summary_names_each_changed_setting_old_and_new(install):
    service.save_settings(CUSTOM, "alice")
    text = "linebox: 1\nsettings:\n  sip_port: 5060\n  ami_port: 5038\n  country_code: '86'\n"
    lines = config_file.import_text(text, "bob").lines()
    assert "settings: 2 changed" in lines
    assert "  sip_port: 5070 -> 5060" in lines and "  ami_port: 5039 -> 5038" in lines
    assert not [line for line in lines if "country_code" in line]


def test_secret_settings_are_masked_in_the_summary(install, monkeypatch):
    monkeypatch.setattr(config_file.schemas, "SECRET_SETTINGS", frozenset({"country_code"}))
    service.save_settings(CUSTOM, "alice")
    lines = config_file.import_text("linebox: 1\nsettings:\n  country_code: '44'\n", "bob").lines()
    assert f"  country_code: {audit.MASK} -> {audit.MASK} (changed)" in lines
    assert not [line for line in lines if "86" in line or "44" in line]


def test_dry_run_reports_the_same_and_stores_nothing(install):
    config_file.import_text(REFERENCE, "alice")
    service.save_settings(CUSTOM, "alice")
    exported, rows = config_file.export_text(), audit_rows()
    text = only(REFERENCE, "settings", "extensions").replace("name: Reception", "name: Front Office")
    dry = config_file.import_text(text, "bob", dry_run=True)
    assert (config_file.export_text(), audit_rows()) == (exported, rows)
    assert dry.dry_run and "  sip_port: 5070 -> 5060" in dry.lines() and dry.counts["updated"] == 1
    real = config_file.import_text(text, "bob")
    assert real.lines() == [line for line in dry.lines() if not line.startswith("dry run")]


def test_cli_import_prints_settings_changes_and_dry_run(install):
    service.save_settings(CUSTOM, "alice")
    site = install.home / "site.yaml"
    site.write_text("linebox: 1\nsettings:\n  sip_port: 5060\n")
    runner = CliRunner()
    dry = runner.invoke(main, ["--home", str(install.home), "config", "import", str(site), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "sip_port: 5070 -> 5060" in dry.output and "nothing was stored" in dry.output
    assert settings_now()["sip_port"] == 5070
    done = runner.invoke(main, ["--home", str(install.home), "config", "import", str(site), "--reset", "settings"])
    assert done.exit_code == 0, done.output
    assert "ami_port: 5039 -> 5038" in done.output and "linebox apply" in done.output
    assert settings_now() == config_file.schemas.Settings().model_dump()
    bad = runner.invoke(main, ["--home", str(install.home), "config", "import", str(site), "--reset", "phones"])
    assert bad.exit_code != 0 and "phones" in bad.output


# ---- the same file twice, or a site's own export, changes nothing --------------------------------------


HAND_WRITTEN = """\
linebox: 1
extensions:
- number: '201'
  name: Agent Fang
- number: '202'
  name: Agent Li
  voicemail: true
voicemail_boxes:
- number: '700'
  name: After hours
"""


def test_a_file_without_pins_or_passwords_imported_twice_changes_nothing(install):
    """Generated secrets (SIP password, voicemail PIN) are made once, then kept while the file leaves them out."""
    config_file.import_text(HAND_WRITTEN, "alice")
    first = service.snapshot()
    rows = audit_rows()
    summary = config_file.import_text(HAND_WRITTEN, "alice")
    assert (summary.counts["created"], summary.counts["updated"], summary.counts["deleted"]) == (0, 0, 0)
    assert audit_rows() == rows
    assert service.snapshot().objects == first.objects
    # a PIN the file gives still wins
    config_file.import_text(HAND_WRITTEN.replace("  voicemail: true\n", "  voicemail: true\n  voicemail_pin: '2648'\n"),
                            "alice")
    assert service.get_object("extension", "202").voicemail_pin == "2648"
    assert service.get_object("extension", "202").password == first.objects["extension"][1].password


def build_realistic_site() -> None:
    """A customer-service site made the way an admin makes one: through the service functions."""
    user = "admin"
    service.save_settings({**CUSTOM, "tone_zone": "cn", "recording_retention_days": 90}, user)
    service.save_object("extension", {"number": "200", "name": "Supervisor Wang", "voicemail": True,
                                      "voicemail_pin": "4711", "email": "wang@example.com"}, user, create=True)
    for number, name in (("201", "Agent Fang"), ("202", "Agent Li"), ("203", "Agent Chen"), ("204", "Lobby")):
        service.save_object("extension", {"number": number, "name": name}, user, create=True)
    service.save_object("voicemail_box", {"number": "700", "name": "After hours"}, user, create=True)
    service.save_object("trunk", {"name": "primary", "registration": True, "host": "sip.carrier.example.net",
                                  "username": "4007002505", "password": "s3cretPass"}, user, create=True)
    service.save_object("trunk", {"name": "backup", "host": "203.0.113.10", "match": ["203.0.113.10"]}, user,
                        create=True)
    service.save_object("queue", {"number": "701", "name": "Orders", "wrapup_seconds": 15,
                                  "members": [{"extension": "201"}, {"extension": "202", "penalty": 1}],
                                  "escalation": [{"after_seconds": 30, "max_penalty": 1}],
                                  "overflow": "voicemail:700"}, user, create=True)
    service.save_object("queue", {"number": "702", "name": "After-sales", "members": [{"extension": "203"}]}, user,
                        create=True)
    service.save_object("ivr", {"name": "main", "greeting_text": "Welcome. Orders 1, after-sales 2, operator 0.",
                                "options": [{"digit": "1", "destination": "queue:701"},
                                            {"digit": "2", "destination": "queue:702"},
                                            {"digit": "0", "destination": "extension:200"}]}, user, create=True)
    service.save_object("time_condition", {"name": "business-hours", "timezone": "Asia/Shanghai",
                                           "ranges": [{"days": "mon-fri", "start": "09:00", "end": "18:00"}],
                                           "open_destination": "ivr:main", "closed_destination": "voicemail:700"},
                        user, create=True)
    service.save_object("inbound_route", {"name": "hotline", "did": "4007002505",
                                          "destination": "timecondition:business-hours"}, user, create=True)
    service.save_object("outbound_route", {"name": "national", "patterns": [{"match": "_0X."}],
                                           "trunks": ["primary", "backup"], "caller_id": "4007002505"}, user,
                        create=True)
    phonebook.create_contact({"name": "Zhang Wei", "company": "Acme", "numbers": ["+86 10 5555 0101"]}, user)
    gateways.adopt("000b82112233", "ht802", user, name="Lobby ATA", address="192.0.2.40")
    gateways.bind_fxs("000b82112233", 1, "204", user)


def test_importing_a_sites_own_export_changes_nothing_twice_over(install):
    build_realistic_site()
    for cycle in (1, 2):
        exported, rows = config_file.export_text(), audit_rows()
        summary = config_file.import_text(exported, "admin")
        assert (summary.counts["created"], summary.counts["updated"], summary.counts["deleted"]) == (0, 0, 0), cycle
        assert summary.settings == [] and summary.contacts is not None and summary.gateways is not None
        assert summary.contacts["unchanged"] == 1 and summary.gateways["unchanged"] == 1
        assert audit_rows() == rows, [(e.action, e.kind, e.key) for e in AuditEntry.select().where(
            AuditEntry.id > rows)]
        assert config_file.export_text() == exported, cycle


def test_a_file_deleting_an_extension_a_stored_gateway_port_uses_is_refused(install):
    """The gateways section is absent, so the gateways stay: the extension their port rings must stay too."""
    config_file.import_text(HAND_WRITTEN, "alice")
    gateways.adopt("000b82112233", "ht802", "alice")
    gateways.bind_fxs("000b82112233", 1, "201", "alice")
    without_201 = HAND_WRITTEN.replace("- number: '201'\n  name: Agent Fang\n", "")
    with pytest.raises(config_file.SiteError) as raised:
        config_file.import_text(without_201, "bob")
    (problem,) = raised.value.problems
    assert problem.where == "gateways" and "port 1 is bound to extension 201" in problem.message
    assert service.get_object("extension", "201") is not None
    config_file.import_text(without_201, "bob", reset=["gateways"])  # dropping the gateways too is explicit
    assert service.get_object("extension", "201") is None and gateways.list_gateways() == []


# ---- queues and ring groups named by their names -----------------------------------------------------------

BY_NAME = """\
linebox: 1
extensions:
- {number: '201', name: Agent Fang}
- {number: '206', name: Billing Sun}
ring_groups:
- {number: '600', name: Billing, members: ['206']}
queues:
- {number: '701', name: Orders, members: [{extension: '201'}]}
- {number: '702', name: After-sales, members: [{extension: '201', penalty: 1}], overflow: 'queue:orders'}
ivrs:
- name: main
  greeting: beep
  options:
  - {digit: '1', destination: 'queue:Orders'}
  - {digit: '2', destination: 'queue:after-sales'}
  - {digit: '3', destination: 'ringgroup:Billing'}
  timeout_destination: queue:Orders
inbound_routes:
- {name: hotline, did: '4007002505', destination: 'ivr:main'}
"""


def test_a_file_naming_queues_by_name_imports_and_round_trips(install):
    """Names are stored as numbers: the same file again, and the site's export, change nothing."""
    config_file.import_text(BY_NAME, "alice")
    ivr = service.get_object("ivr", "main")
    assert [o.destination for o in ivr.options] == ["queue:701", "queue:702", "ringgroup:600"]
    assert ivr.timeout_destination == "queue:701" and service.get_object("queue", "702").overflow == "queue:701"
    rows = audit_rows()
    for text in (BY_NAME, config_file.export_text()):
        summary = config_file.import_text(text, "alice")
        assert (summary.counts["created"], summary.counts["updated"], summary.counts["deleted"]) == (0, 0, 0)
        assert audit_rows() == rows
    assert "queue:Orders" not in config_file.export_text() and "destination: queue:701" in config_file.export_text()


def test_a_name_no_queue_has_is_refused_at_its_line_with_the_forms(install):
    text = BY_NAME.replace("'queue:after-sales'", "'queue:aftersales'")
    with pytest.raises(config_file.SiteError) as raised:
        config_file.import_text(text, "alice")
    assert [str(p) for p in raised.value.problems] == [
        "line 15: ivrs.0.options.1.destination: no queue is named 'aftersales' (the queues are 701 Orders, "
        "702 After-sales): use queue:NUMBER or queue:NAME (such as queue:701)"]
    assert service.snapshot().of("ivr") == []
