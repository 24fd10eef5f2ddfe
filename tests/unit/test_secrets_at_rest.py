"""Secrets at rest: the database file holds no SIP password, PIN, credential or internal secret in clear.

They are sealed with the key in ``secrets.key`` beside the database (``appliance.model.sealed``), or (the
AMI master secret, the session key) kept in that file only.  Checked on the bytes of the real SQLite
file (what ``strings linebox.db`` would show), after a save and after migrating a schema-6 database.
"""

from __future__ import annotations

import shutil
import stat

import pytest

from appliance.gateways import service as gateways
from appliance.install import Install
from appliance.model import migrations, sealed
from appliance.model.database import close_database, open_database
from appliance.model.models import Setting
from appliance.provisioning import projection, render
from appliance.site import service
from tests.old_database import schema6_database, table_rows

SECRETS = {"password": "Zq8Wm2Lp5Rt7Yx3K", "voicemail_pin": "60418273"}
TRUNK_PASSWORD = "Tr4nkPassw0rd.X"
BOX_PIN = "93017264"
PROVISIONING_PASSWORD = "Prov1sioning-Pass"


def file_bytes(install: Install) -> bytes:
    """Everything SQLite keeps on disk for the database (the file and, if any, its write-ahead log)."""
    close_database()
    data = b"".join(p.read_bytes() for p in install.database.parent.glob(install.database.name + "*")
                    if p.name != "secrets.key")
    install.open()
    return data


def test_saved_secrets_are_sealed_in_the_database_file(install):
    service.save_object("extension", {"number": "100", "name": "Alice", "voicemail": True, **SECRETS}, "test")
    service.save_object("trunk", {"name": "telco", "host": "sip.example.net", "username": "acct",
                                  "password": TRUNK_PASSWORD}, "test")
    service.save_object("voicemail_box", {"number": "700", "name": "Sales", "pin": BOX_PIN}, "test")
    gateways.adopt("00:0b:82:01:02:03", "ht802", "test")
    gateways.set_provisioning_password(PROVISIONING_PASSWORD, "test")
    credential = gateways.Gateway.get().credential
    ami, ami_user = install.ami_secret(), install.ami_user_secret("linebox-console")
    # an old password, replaced: its bytes must not linger in the file's free space either
    service.save_object("extension", {"number": "100", "name": "Alice", "voicemail": True,
                                      "password": "N3wPassw0rdAbCdEf", "voicemail_pin": "60418273"}, "test",
                        original_key="100")

    raw = file_bytes(install)
    secrets = [*SECRETS.values(), "Zq8Wm2Lp5Rt7Yx3K", "N3wPassw0rdAbCdEf", TRUNK_PASSWORD, BOX_PIN,
               PROVISIONING_PASSWORD, credential, ami, ami_user]
    leaked = [s for s in secrets if s.encode() in raw]
    assert not leaked, f"in clear in linebox.db: {leaked}"
    assert not Setting.select().where(Setting.key.startswith("secret.")).exists()  # internal ones: the key file

    # the service layer reads them back in clear: the console, rendering, the gateway's file
    extension = service.list_objects("extension")[0]
    assert (extension.password, extension.voicemail_pin) == ("N3wPassw0rdAbCdEf", "60418273")
    assert gateways.provisioning_password() == PROVISIONING_PASSWORD
    pjsip = render.render_file("pjsip.conf", service.snapshot(), install.facts())
    assert f"password = {TRUNK_PASSWORD}" in pjsip
    # an extension's digest is a row of the projection Asterisk reads (appliance.provisioning.projection)
    assert projection.site_rows(service.snapshot())["ps_auths"]["100-auth"][-1] == \
        render.sip_digest("N3wPassw0rdAbCdEf", "100")
    assert BOX_PIN in render.render_file("voicemail.conf", service.snapshot(), install.facts())
    assert install.ami_secret() == ami

    key = install.database.parent / sealed.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert ami in key.read_text()  # the AMI master secret lives beside the key, not in the database


def test_an_old_database_is_sealed_by_its_migration(tmp_path):
    """A schema-6 database (plain-text passwords, PINs, the AMI secret in a row) migrated: none left in clear."""
    home = tmp_path / "home"
    install = Install.create(home, manage_asterisk=False)
    schema6_database(install.database)
    old = table_rows(install.database)
    in_clear = [row[column] for table, columns in migrations.sealed_columns().items()
                for row in old.get(table, []) for column in columns if len(str(row.get(column) or "")) >= 8]
    old_ami = next(row["value"] for row in old["setting"] if row["key"] == "secret.ami")
    assert len(in_clear) >= 5 and all(s.encode() in install.database.read_bytes() for s in in_clear)

    install.open()
    assert migrations.schema_version(install.open()) == migrations.CURRENT_VERSION
    assert install.ami_secret() == old_ami  # kept: Asterisk runs with the secrets derived from it
    raw = file_bytes(install)
    leaked = [s for s in [*in_clear, old_ami] if s.encode() in raw]
    assert not leaked, f"in clear in the migrated linebox.db: {leaked}"
    for table, columns in migrations.sealed_columns().items():
        for row in table_rows(install.database).get(table, []):
            assert all(not row[c] or row[c].startswith(sealed.PREFIX) for c in columns), (table, row)
    by_number = {e.number: e for e in service.list_objects("extension")}
    assert by_number["100"].password == next(r["password"] for r in old["extension"] if r["number"] == "100")
    assert "password_digest = MD5:" in render.render_file("pjsip.conf", service.snapshot(), install.facts())
    close_database()


def test_a_database_sealed_with_another_key_says_so(install, tmp_path):
    service.save_object("extension", {"number": "100", "name": "Alice", **SECRETS}, "test")
    close_database()
    copy = tmp_path / "elsewhere" / "linebox.db"
    copy.parent.mkdir()
    shutil.copyfile(install.database, copy)
    open_database(copy)  # beside it, a new key: not the one its secrets were sealed with
    with pytest.raises(sealed.SealedError, match="encrypted with another Linebox's key"):
        service.list_objects("extension")
    close_database()
    install.open()


def test_processes_starting_together_share_one_key_and_one_ami_secret(tmp_path):
    """The console, the collector and the CLI may open a fresh install at the same moment: one key file
    comes out of it, whole, and every process gets the same key and the same internal secrets."""
    import subprocess
    import sys

    script = ("import secrets, sys; from pathlib import Path; from appliance.model import sealed; "
              "ring = sealed.KeyRing.for_folder(Path(sys.argv[1])); "
              "print(ring.key_id(), ring.internal_secret('ami', lambda: secrets.token_hex(16)))")
    workers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "home")], stdout=subprocess.PIPE,
                                text=True) for _ in range(6)]
    answers = {worker.communicate(timeout=60)[0].strip() for worker in workers}
    assert all(worker.returncode == 0 for worker in workers)
    assert len(answers) == 1, answers
    key_id, ami = answers.pop().split()
    ring = sealed.KeyRing.load(tmp_path / "home" / sealed.KEY_FILE)
    assert (ring.key_id(), ring.internal["ami"]) == (key_id, ami)
    assert [p.name for p in (tmp_path / "home").iterdir()] == [sealed.KEY_FILE]  # no partial file left behind
