"""SIP exposure by default: guessable secrets refused, risky settings only when agreed to, local networks.

Through the service functions the console, API, CLI and import call, on a real SQLite file. Messages
name the field and never repeat the secret that was refused.
"""

from __future__ import annotations

import pytest

from appliance import config_file
from appliance.errors import SiteError
from appliance.model import migrations
from appliance.model.database import close_database, database, open_database
from appliance.model.models import Extension, Trunk
from appliance.provisioning import projection, render
from appliance.site import schemas, service, strength
from tests.old_database import database_before

FACTS = render.InstallFacts(ami_secret="x", directories={"astetcdir": "/etc/asterisk"})


def refused(kind: str, data: dict, **kw) -> str:
    with pytest.raises(SiteError) as error:
        service.save_object(kind, data, user="test", **kw)
    return str(error.value)


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "abcdefghijkl", "123456789012", "abcabcabcabc",
                                      "Password2024x", "Zq9100Lp3Xv7"])
def test_guessable_sip_passwords_are_refused_naming_the_field_not_the_secret(install, password):
    message = refused("extension", {"number": "100", "name": "Alice", "password": password}, create=True)
    assert "extension.password" in message
    assert password not in message
    assert service.get_object("extension", "100") is None  # nothing half-stored


@pytest.mark.parametrize("pin", ["1234", "4321", "2468", "0000", "1212", "100100"])
def test_guessable_voicemail_pins_are_refused(install, pin):
    message = refused("extension", {"number": "100", "name": "Alice", "voicemail": True, "voicemail_pin": pin},
                      create=True)
    assert "extension.voicemail_pin" in message and pin not in message
    message = refused("voicemail_box", {"number": "800", "name": "Sales", "pin": pin}, create=True)
    assert "voicemail_box.pin" in message


def test_generated_and_strong_secrets_are_accepted(install):
    service.save_object("extension", {"number": "100", "name": "Alice"}, user="test", create=True)
    service.save_object("extension", {"number": "101", "name": "Bob", "password": "Whse1Qz6Rc5YdF8h",
                                      "voicemail_pin": "4711"}, user="test", create=True)
    for _ in range(300):  # the generators never draw something their own policy refuses
        assert strength.secret_weakness(schemas.strong_secret()) is None
        assert strength.pin_weakness(schemas.random_pin()) is None
    # nor a default made from the object's own number: drawn knowing it (one draw in a few hundred would
    # hold "200" otherwise, one extension in a CSV import of thousands refused)
    for _ in range(300):
        extension = schemas.Extension(number="20", name="X")
        assert strength.secret_weakness(extension.password, "20") is None
        assert strength.pin_weakness(extension.voicemail_pin, "20") is None
        assert strength.pin_weakness(schemas.VoicemailBox(number="20", name="X").pin, "20") is None


def test_a_weak_secret_stored_before_the_policy_does_not_block_other_changes(install):
    Extension.create(number="100", name="Old", password="aaaaaaaaaaaa", voicemail_pin="1234")
    current = service.get_object("extension", "100")
    service.save_object("extension", {**current.model_dump(), "name": "Renamed"}, user="test", original_key="100")
    assert service.get_object("extension", "100").name == "Renamed"
    message = refused("extension", {**current.model_dump(), "password": "bbbbbbbbbbbb"}, original_key="100")
    assert "extension.password" in message


@pytest.mark.parametrize(("kind", "data", "risk", "field"), [
    ("trunk", {"name": "telco", "host": "sip.example.net", "match": ["0.0.0.0/0"]}, "open_match", "match"),
    ("trunk", {"name": "telco", "host": "sip.example.net", "match": ["0.0.0.0/0.0.0.0"]}, "open_match", "match"),
    ("trunk", {"name": "telco", "host": "sip.example.net", "match": ["0.0.0.0:5060/1", "128.0.0.0/1"]},
     "open_match", "match"),
    ("trunk", {"name": "telco", "host": "sip.example.net", "match": ["[::]/0"]}, "open_match", "match"),
    ("trunk", {"name": "telco", "host": "sip.example.net", "options": {"trust_id_inbound": "yes"}},
     "trust_id_inbound", "options.trust_id_inbound"),
    ("extension", {"number": "100", "name": "A", "options": {"message_context": "from-internal"}},
     "message_context", "options.message_context"),
    ("extension", {"number": "100", "name": "A", "options": {"allow_unauthenticated_options": "yes"}},
     "allow_unauthenticated_options", "options.allow_unauthenticated_options"),
    ("extension", {"number": "100", "name": "A", "options": {"subscribe_context": "hints"}},
     "subscribe_context", "options.subscribe_context"),
    ("extension", {"number": "100", "name": "A", "permitted_networks": ["0.0.0.0/0"]}, "open_network",
     "permitted_networks"),
])
def test_risky_settings_need_the_admins_explicit_agreement(install, kind, data, risk, field):
    message = refused(kind, data, create=True)
    assert f"{kind}.{field}" in message and f"add {risk} to accepted_risks" in message
    service.save_object(kind, {**data, "accepted_risks": [risk]}, user="test", create=True)
    key = data["number"] if kind == "extension" else data["name"]
    assert service.get_object(kind, key).accepted_risks == [risk]


@pytest.mark.parametrize("value", ['x"y', "<sip:evil>", "a>b"])
def test_option_values_that_would_break_sip_headers_are_refused(install, value):
    message = refused("trunk", {"name": "telco", "host": "sip.example.net", "options": {"from_domain": value}},
                      create=True)
    assert "trunk.options.from_domain" in message and "SIP headers" in message


def test_a_music_folder_climbing_out_with_dotdot_is_refused(install):
    message = refused("moh_class", {"name": "jazz", "directory": "/var/lib/asterisk/moh/../../../etc"}, create=True)
    assert "moh_class.directory" in message and "'..'" in message
    service.save_object("moh_class", {"name": "jazz", "directory": "/var/lib/asterisk/moh/jazz.v2"}, user="test",
                        create=True)


def test_an_import_names_the_line_of_a_weak_secret_or_an_unagreed_risk(install):
    text = ("extensions:\n"
            "  - number: '100'\n"
            "    name: Alice\n"
            "    password: aaaaaaaaaaaa\n"
            "trunks:\n"
            "  - name: telco\n"
            "    host: sip.example.net\n"
            "    match: [0.0.0.0/0]\n")
    with pytest.raises(SiteError) as error:
        config_file.import_text(text, user="test")
    lines = {(p.where, p.line) for p in error.value.problems}
    assert ("extensions.0.password", 4) in lines and ("trunks.0.match", 8) in lines, lines
    assert "aaaaaaaaaaaa" not in str(error.value)
    assert service.list_objects("extension") == []


def test_extensions_are_permitted_the_local_networks_unless_given_their_own(install):
    service.save_object("extension", {"number": "100", "name": "Desk"}, user="test", create=True)
    service.save_object("extension", {"number": "101", "name": "Home office",
                                      "permitted_networks": ["203.0.113.7", "198.51.100.0/255.255.255.0"]},
                        user="test", create=True)
    service.save_object("extension", {"number": "102", "name": "LAN", "permitted_networks": [
        "10.0.0.0/8", "fc00::/7", "2001:db8:1::/48"]}, user="test", create=True)  # wide but private: no risk
    columns = projection.TABLES["ps_endpoints"]

    def acl(number: str) -> tuple[str, str]:
        """(deny, permit) of an extension's endpoint, as the rows Asterisk reads hold them."""
        row = projection.site_rows(service.snapshot())["ps_endpoints"][number]
        return row[columns.index("deny")], row[columns.index("permit")]

    assert acl("100") == ("0.0.0.0/0.0.0.0,::/0",
                          "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,fc00::/7,fe80::/10,::1/128")
    assert acl("101") == ("0.0.0.0/0.0.0.0,::/0", "203.0.113.7/32,198.51.100.0/24")

    service.save_settings({"local_networks": "192.168.10.0/24"}, user="test")
    assert acl("100")[1] == "192.168.10.0/24"
    with pytest.raises(SiteError) as error:
        service.save_settings({"local_networks": "192.168.10.0/24, office"}, user="test")
    assert "local_networks" in str(error.value) and "'office' is not a network" in str(error.value)
    with pytest.raises(SiteError):
        service.save_object("extension", {"number": "102", "name": "X", "options": {"permit": "0.0.0.0/0"}},
                            user="test", create=True)


@pytest.fixture
def db_path(tmp_path):
    yield tmp_path / "data" / "linebox.db"
    close_database()


def test_an_older_database_gets_permitted_networks_and_accepted_risks(db_path):
    """Schema 17: extensions and trunks stored before keep their settings; the risky ones they hold keep working."""
    db_path.parent.mkdir(parents=True)
    db = database_before(migrations._v17_extension_networks_and_accepted_risks, db_path)
    for table, column in (("extension", "permitted_networks"), ("extension", "accepted_risks"),
                          ("trunk", "accepted_risks")):
        db.execute_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
    db.execute_sql("INSERT INTO trunk (name, registration, host, port, username, password, codecs, max_channels,"
                   " match, qualify_seconds, failover_seconds, options) VALUES ('open', 0, 'sip.example.net', 5060,"
                   " '', '', '[\"alaw\"]', 0, '[\"0.0.0.0/0\"]', 30, 2.0, '{}')")
    db.close()
    open_database(db_path)
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
    old = service.get_object("extension", "100")
    assert (old.permitted_networks, old.accepted_risks, old.voicemail_pin) == ([], [], "1234")
    trunk = service.get_object("trunk", "open")
    service.save_object("trunk", {**trunk.model_dump(), "max_channels": 4}, user="test", original_key="open")
    assert Trunk.get(Trunk.name == "open").max_channels == 4
