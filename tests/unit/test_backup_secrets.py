"""Backups carry secrets only encrypted: sealed with the box's key, the key wrapped with the admin's passphrase.

A backup made with a passphrase restores onto new hardware (another install, another key) with every
password, PIN and credential as it was; a wrong passphrase, or none, is refused with a clear message
and the box is left exactly as it was; a backup made without a passphrase restores only on its own box.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance import config_file
from appliance.cli import main
from appliance.gateways import service as gateways
from appliance.install import Install
from appliance.model import sealed
from appliance.model.database import close_database
from appliance.site import service
from appliance.support import backup, debug_bundle
from tests.conftest import REFERENCE_SITE

PASSPHRASE = "staple battery horse correct"
TLS_KEY = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
           "-----END PRIVATE KEY-----\n")


@pytest.fixture
def site(install):
    config_file.import_text(REFERENCE_SITE.read_text(), "test")
    service.save_object("extension", {"number": "150", "name": "Long PIN", "voicemail": True,
                                      "password": "Lp9Xw3Zr7Tq2Vm5K", "voicemail_pin": "70315928"}, "test")
    gateways.adopt("00:0b:82:01:02:03", "ht802", "test")
    gateways.set_provisioning_password("Shared-Prov-Pass-1", "test")
    (install.home / "tls").mkdir()
    (install.home / "tls" / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n")
    (install.home / "tls" / "key.pem").write_text(TLS_KEY)
    return install


def secrets_of_the_site(install: Install) -> dict[str, str]:
    """Every secret and where it is: objects' secret fields, the gateway's credential, the shared password."""
    found = {f"extension {e.number}": e.password for e in service.list_objects("extension")}
    found.update({f"extension {e.number} pin": e.voicemail_pin for e in service.list_objects("extension")})
    found.update({f"trunk {t.name}": t.password for t in service.list_objects("trunk") if t.password})
    found.update({f"box {b.number}": b.pin for b in service.list_objects("voicemail_box")})
    found["gateway credential"] = gateways.Gateway.get().credential
    found["provisioning password"] = gateways.provisioning_password()
    return found


def archive_bytes(path: Path) -> bytes:
    with tarfile.open(path) as tar:
        return b"".join(tar.extractfile(m).read() for m in tar if m.isfile())  # type: ignore[union-attr]


def fresh_install(tmp_path: Path, name: str = "new-box") -> Install:
    """Another box: its own home, database and key."""
    close_database()
    other = Install.create(tmp_path / name, manage_asterisk=False)
    other.open()
    return other


def test_an_archive_holds_no_secret_in_clear(site, tmp_path):
    secrets = secrets_of_the_site(site)
    known = {s for s in debug_bundle.known_secrets(site) if len(s) >= 8}  # 4-digit PINs match any random text
    assert {s for s in secrets.values() if len(s) >= 8} <= known | set(secrets.values())
    for passphrase in (PASSPHRASE, None):
        made = backup.create_backup(site, tmp_path / f"{bool(passphrase)}.tar.gz", passphrase=passphrase)
        raw = archive_bytes(made.path)
        leaked = sorted(s for s in known | {v for v in secrets.values() if len(v) >= 8} if s.encode() in raw)
        assert not leaked, f"in clear in the backup: {leaked}"
        assert site.ami_secret().encode() not in raw and PASSPHRASE.encode() not in raw
        assert (b"wrapped_key" in raw) == bool(passphrase)


def test_restore_onto_new_hardware_with_the_passphrase_brings_every_secret_back(site, tmp_path):
    secrets = secrets_of_the_site(site)
    made = backup.create_backup(site, tmp_path / "old-box.tar.gz", passphrase=PASSPHRASE)
    other = fresh_install(tmp_path)
    new_ami = other.ami_secret()
    assert sealed.current().key_id() != made.manifest["key_id"]

    with backup.open_backup(made.path, passphrase=PASSPHRASE) as opened:
        backup.restore(other, opened, "test")
    assert secrets_of_the_site(other) == secrets
    assert (other.home / "tls" / "key.pem").read_text() == TLS_KEY
    assert other.ami_secret() == new_ami  # the box's own AMI secret: its Asterisk keeps accepting it
    raw = b"".join(p.read_bytes() for p in other.database.parent.glob("linebox.db*"))
    assert not [k for k, s in secrets.items() if len(s) >= 8 and s.encode() in raw]  # sealed with the new key


def test_a_wrong_passphrase_or_none_is_refused_and_the_box_left_alone(site, tmp_path):
    made = backup.create_backup(site, tmp_path / "old-box.tar.gz", passphrase=PASSPHRASE)
    other = fresh_install(tmp_path)
    service.save_object("extension", {"number": "900", "name": "New box"}, "test")
    before, db_before = config_file.export_text(), other.database.read_bytes()

    with pytest.raises(backup.BackupError, match="wrong passphrase"):
        backup.open_backup(made.path, passphrase="not the right one at all")
    with pytest.raises(backup.PassphraseNeeded, match="passphrase chosen when it was made"):
        backup.open_backup(made.path)
    runner = CliRunner()
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the right one at all\n")
    refused = runner.invoke(main, ["--home", str(other.home), "restore", str(made.path), "--yes",
                                   "--passphrase-file", str(wrong)])
    assert refused.exit_code == 1 and "wrong passphrase" in refused.output and "Nothing was changed" in refused.output
    asked = runner.invoke(main, ["--home", str(other.home), "restore", str(made.path), "--yes"],
                          input="still not the right one\n")
    assert asked.exit_code == 1 and "Passphrase" in asked.output and "wrong passphrase" in asked.output
    assert "still not the right one" not in asked.output
    other.open()
    assert config_file.export_text() == before and other.database.read_bytes() == db_before
    assert not list((other.home / "backups").glob("before-restore-*"))

    right = tmp_path / "right.txt"
    right.write_text(PASSPHRASE + "\n")
    done = runner.invoke(main, ["--home", str(other.home), "restore", str(made.path), "--yes",
                                "--passphrase-file", str(right)])
    assert done.exit_code == 0, done.output
    other.open()
    assert service.get_object("extension", "150").voicemail_pin == "70315928"


def test_a_backup_without_passphrase_restores_on_its_box_only(site, tmp_path):
    made = backup.create_backup(site, tmp_path / "same-box.tar.gz")
    with backup.open_backup(made.path) as opened:  # its own box: no passphrase asked
        assert opened.site.objects["extension"]
    fresh_install(tmp_path)
    with pytest.raises(backup.BackupError, match="restores only there") as refused:
        backup.open_backup(made.path, passphrase=PASSPHRASE)
    assert not isinstance(refused.value, backup.PassphraseNeeded)


def test_cli_backup_asks_for_the_passphrase_twice_and_refuses_a_short_one(site, tmp_path):
    runner = CliRunner()
    out = tmp_path / "asked.tar.gz"
    made = runner.invoke(main, ["--home", str(site.home), "backup", "-o", str(out)],
                         input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert made.exit_code == 0, made.output
    assert PASSPHRASE not in made.output and "needs the passphrase" in made.output
    with tarfile.open(out) as tar:
        assert backup.KEY_MEMBER in tar.getnames()
    short = runner.invoke(main, ["--home", str(site.home), "backup", "-o", str(tmp_path / "s.tar.gz")],
                          input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output and "short\n" not in short.output[-20:]
    assert not (tmp_path / "s.tar.gz").exists()


def test_the_sip_certificate_travels_sealed_and_comes_back_on_new_hardware(site, tmp_path):
    from appliance.provisioning import sip_tls
    fingerprint = sip_tls.ensure(site.config_root)
    key = (sip_tls.folder(site.config_root) / "key.pem").read_text()
    made = backup.create_backup(site, tmp_path / "old-box.tar.gz", passphrase=PASSPHRASE)
    assert key.encode() not in archive_bytes(made.path)  # sealed like the console's key
    other = fresh_install(tmp_path)
    with backup.open_backup(made.path, passphrase=PASSPHRASE) as opened:
        backup.restore(other, opened, "test")
    assert sip_tls.current(other.config_root) == fingerprint  # phones that pinned it still trust the box
    assert (sip_tls.folder(other.config_root) / "key.pem").read_text() == key
    assert oct((sip_tls.folder(other.config_root) / "key.pem").stat().st_mode & 0o777) == "0o640"
