"""A backup restored onto new hardware with its passphrase brings every phone back, against the lab's Asterisk 22.

The old box (its own install and key) makes a backup with a passphrase; the lab's pbx (a fresh install:
another key, its own AMI secret) restores it with ``linebox restore --passphrase-file`` and applies: the
phones register with their old passwords, and a call goes through.  The same archive with a wrong
passphrase is refused first, and the box is left as it was.
"""

from __future__ import annotations

import pytest

from appliance import config_file
from appliance.install import Install
from appliance.model.database import close_database
from appliance.site import service, stored
from appliance.support import backup
from tests.lab.test_cli import linebox

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]
PASSPHRASE = "the old box's backup passphrase"


def test_restore_onto_a_fresh_install_with_the_passphrase_registers_the_old_phones(pbx, rootfs, tmp_path):
    from lab.carrier import Phone, start_carrier

    settings = stored.load_settings().model_dump()  # the lab pbx's ports: the old box had the same ones
    close_database()
    old = Install.create(tmp_path / "old-box", manage_asterisk=False)
    old.open()
    service.save_settings(settings, "test")
    for number, name in (("100", "Alice"), ("101", "Bob")):
        service.save_object("extension", {"number": number, "name": name}, "test")
    passwords = {e.number: e.password for e in service.list_objects("extension")}
    archive = backup.create_backup(old, tmp_path / "old-box.tar.gz", passphrase=PASSPHRASE).path
    close_database()

    home = pbx.install.home
    pbx.install.open()
    before = config_file.export_text()
    wrong, right = tmp_path / "wrong", tmp_path / "right"
    wrong.write_text("not the passphrase of that box\n")
    right.write_text(PASSPHRASE + "\n")
    refused = linebox(home, "restore", str(archive), "--yes", "--passphrase-file", str(wrong))
    assert refused.returncode == 1 and "wrong passphrase" in refused.stderr, refused.stdout + refused.stderr
    assert config_file.export_text() == before

    restored = linebox(home, "restore", str(archive), "--yes", "--passphrase-file", str(right))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    pbx.install.open()
    assert {e.number: e.password for e in service.list_objects("extension")} == passwords
    pbx.apply()  # with the pbx's own AMI secret, which the restore kept

    phones = start_carrier(pbx.instance.sip_port, [Phone(n, p) for n, p in passwords.items()], rootfs)
    try:
        phones.wait_registered(["100", "101"])
        mark = phones.mark()
        phones.call("ph100", "101", tag="after-restore")
        assert phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "101", since=mark)["CallerID"] == "100"
    finally:
        phones.stop()
