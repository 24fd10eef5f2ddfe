"""The technician's commands against the lab's real Asterisk, read from an 80×24 tmux screen.

backup/restore (with the preview a technician answers), calls (a real call in progress), network
show, logs, and debug collect (grepped for every secret of the site).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance import config_file
from appliance.model import migrations
from appliance.model.database import close_database, database
from appliance.model.models import CallRecord, Gateway
from appliance.site import service
from tests.lab.helpers import add
from tests.lab.screen import Screen, run_on_screen
from tests.lab.test_cli import linebox
from tests.old_database import schema6_backup

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]


def test_backup_then_restore_shows_what_changes_and_asks_first(pbx, tmp_path):
    home = pbx.install.home
    add("extension", number="100", name="Alice")
    add("extension", number="101", name="Bob")
    pbx.apply()
    original = config_file.export_text()
    archive = tmp_path / "box.tar.gz"
    status, lines = run_on_screen(home, f"backup -o {archive} --no-passphrase", tmp_path)
    assert status == 0, lines
    assert any(line.startswith(f"wrote {archive}") for line in lines), lines

    add("extension", number="102", name="Carol")
    service.delete_object("extension", "101", "test")
    pbx.apply()

    screen = Screen(home, f"restore {archive}", tmp_path)
    try:
        shown = screen.wait_for("Restore this backup? [y/N]:")
        lines = [line for line in shown.splitlines() if line.strip()]
        assert all(len(line) <= 80 for line in lines)
        assert "box.tar.gz: valid" in shown
        changes = next(line for line in lines if line.strip().startswith("extensions"))
        assert "1 added" in changes and "1 removed" in changes and "+101" in changes and "-102" in changes
        assert config_file.export_text() != original  # nothing restored while the question is open
        screen.type("y")
        assert screen.exit_status() == 0, screen.text()
        done = screen.text()
    finally:
        screen.close()
    assert "Run 'linebox apply'" in done and "the previous state is kept in" in done
    assert config_file.export_text() == original

    applied = linebox(home, "apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr  # the box's AMI secret was kept
    endpoints = pbx.cli("pjsip show endpoints")
    assert "Endpoint:  101" in endpoints and "Endpoint:  102" not in endpoints


def test_restore_of_a_damaged_archive_says_why_and_changes_nothing(pbx, tmp_path):
    add("extension", number="100", name="Alice")
    archive = tmp_path / "box.tar.gz"
    assert linebox(pbx.install.home, "backup", "-o", str(archive), "--no-passphrase").returncode == 0
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bytes(data))
    before = config_file.export_text()
    status, lines = run_on_screen(pbx.install.home, f"restore {damaged} --yes", tmp_path)
    assert status == 1
    assert any("damaged.tar.gz: " in line for line in lines) and any("Nothing was changed" in line for line in lines)
    assert config_file.export_text() == before


def test_calls_shows_a_real_call_in_progress_then_its_record(pbx, carrier, tmp_path):
    add("extension", number="100", name="Alice")
    add("extension", number="101", name="Bob")
    pbx.apply()
    phones = carrier()
    phones.set_behaviour("101", "answer", hold=30)
    mark = phones.mark()
    phones.call("ph100", "101", tag="in-progress", hold=30)
    phones.wait_for("CarrierAnswered", lambda e: e.get("Exten") == "101", since=mark)

    status, lines = run_on_screen(pbx.install.home, "calls --active", tmp_path)
    assert status == 0, lines
    assert lines[0] == "Active calls: 1", lines
    row = lines[2]
    assert row.split()[1:4] == ["100", "101", "Up"], lines
    assert "PJSIP/100-" in row, lines

    pbx.cli("channel request hangup all")
    phones.wait_for("CallerHangup", lambda e: e.get("Tag") == "in-progress", since=mark, timeout=30)
    # Asterisk writes the call record when the call's last channel is gone, a moment after the hangup:
    # collect until it is there (a busy machine may take longer), as the collector service does.
    deadline = time.monotonic() + 30
    while True:
        assert linebox(pbx.install.home, "collect", "--once").returncode == 0
        status, lines = run_on_screen(pbx.install.home, "calls --today --number 101", tmp_path)
        if any("ANSWERED" in line for line in lines) or time.monotonic() > deadline:
            break
    assert status == 0, lines
    assert lines[0].startswith("Call records from or to 101 since "), lines
    record = next(line for line in lines[2:] if "ANSWERED" in line)
    assert record.split()[2:4] == ["100", "101"], lines

    status, lines = run_on_screen(pbx.install.home, "calls --active", tmp_path)
    assert lines == ["Active calls: 0"], lines


def test_network_show_names_this_pbx_ports(pbx, tmp_path):
    status, lines = run_on_screen(pbx.install.home, "network show", tmp_path)
    assert status == 0, lines
    assert lines[0] == "Interfaces:" and any(line.startswith("  lo ") and "127.0.0.1/8" in line for line in lines)
    assert any(line.startswith("DNS servers:") for line in lines)
    ami = next((line for line in lines if f"127.0.0.1:{pbx.instance.ami_port}" in line), None)
    assert ami is not None and "asterisk" in ami and "AMI" in ami, lines
    sip = next((line for line in lines if f":{pbx.instance.sip_port}" in line and line.lstrip().startswith("udp")),
               None)
    assert sip is not None and "SIP" in sip, lines


def test_logs_show_asterisks_recent_lines_and_filter_by_time(pbx, tmp_path):
    pbx.cli("logger reload")
    pbx.cli("log level notice")
    shown = linebox(pbx.install.home, "logs", "--unit", "asterisk", "-n", "5")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert 0 < len(lines) <= 5 and all(line.startswith("[20") for line in lines), shown.stdout
    assert "\x1b[" not in shown.stdout  # no colour when not a terminal
    future = linebox(pbx.install.home, "logs", "--unit", "asterisk", "--since", "2999-01-01")
    assert future.returncode == 0 and future.stdout == ""
    unknown = linebox(pbx.install.home, "logs", "--unit", "nonsense")
    assert unknown.returncode == 1 and "known: asterisk, web" in unknown.stderr


def test_debug_collect_holds_the_facts_and_none_of_the_secrets(pbx, carrier, tmp_path):
    add("extension", number="100", name="Alice", password="AlicePw4Secret77", voicemail=True,
        voicemail_pin="86420975")
    add("voicemail_box", number="500", name="Shared", pin="97531864")
    pbx.apply()
    phones = carrier(trunk_accounts=[("acme", "TrunkSecret9Xy")])
    add("trunk", name="acme", registration=True, host="127.0.0.1", port=phones.telco_port, username="acme",
        password="TrunkSecret9Xy", match=[f"127.0.0.1:{phones.telco_port}"])
    pbx.apply()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "Registered" not in pbx.cli("pjsip show registrations"):
        time.sleep(0.3)
    (pbx.install.home / "tls").mkdir(exist_ok=True)
    from appliance.services import tls
    tls.ensure(pbx.install.home / "tls")
    key_lines = [line for line in (pbx.install.home / "tls" / "key.pem").read_text().splitlines()
                 if not line.startswith("-----")]
    from appliance.model import sealed
    internal = list(sealed.current().internal.values())  # the key file's (session key, AMI master secret)
    from appliance.asterisk import ami_users
    secrets = ["AlicePw4Secret77", "86420975", "97531864", "TrunkSecret9Xy", pbx.install.ami_secret(),
               *[pbx.install.ami_user_secret(user.name) for user in ami_users.AMI_USERS], *internal, *key_lines]

    bundle = tmp_path / "support.tar.gz"
    made = linebox(pbx.install.home, "debug", "collect", "-o", str(bundle))
    assert made.returncode == 0, made.stdout + made.stderr
    raw = gzip.decompress(bundle.read_bytes())
    leaked = [s for s in secrets if s.encode() in raw]
    assert not leaked, f"secrets found in the support bundle: {leaked}"
    assert b"PRIVATE KEY" not in raw

    import tarfile
    with tarfile.open(bundle) as tar:
        files = {Path(m.name).relative_to(Path(m.name).parts[0]).as_posix(): m for m in tar.getmembers()}
        text = {name: tar.extractfile(m).read().decode() for name, m in files.items()}
    assert {"versions.txt", "diag.txt", "asterisk.txt", "site.yaml", "network.txt", "README.txt",
            "config/pjsip.conf", "config/manager.conf"} <= set(files), sorted(files)
    assert "acme" in text["asterisk.txt"] and "Registered" in text["asterisk.txt"]  # registrations via AMI
    assert "ok Asterisk" in text["diag.txt"]
    assert "password = ********" in text["config/pjsip.conf"]
    assert any(name.startswith("logs/asterisk") for name in files)
    assert "NOT collected" not in text["README.txt"].replace("NOT collected: hardware", ""), text["README.txt"]


def test_a_backup_of_an_older_schema_restores_and_applies_on_real_asterisk(pbx, tmp_path):
    """The schema-6 backup (tests/old_database.py): restored on this Linebox by ``linebox restore`` as a
    technician runs it, migrated, then ``linebox apply`` makes it live and Asterisk has its objects."""
    add("extension", number="300", name="Only on this box")
    pbx.apply()
    # The old box's site as this lab can run it: this Asterisk's ports (never 5060, another Asterisk's), a
    # trunk host it can resolve (no DNS here), a music folder it has.
    settings = service.load_settings().model_dump()
    local = [("UPDATE setting SET value = ? WHERE key = ?", (str(settings[name]), f"site.{name}"))
             for name in ("sip_bind", "sip_port", "rtp_start", "rtp_end", "ami_port")]
    (pbx.instance.host_dir / "moh-practice").mkdir()
    local += [("UPDATE trunk SET host = '127.0.0.1' WHERE name = 'telco'", ()),
              ("UPDATE mohclass SET directory = ?", (f"{pbx.instance.inner_dir}/moh-practice",))]
    archive = schema6_backup(tmp_path / "old-box.tar.gz", local)
    close_database()  # the CLI below is the only writer, as on a box
    restored = subprocess.run([sys.executable, "-m", "appliance.cli", "restore", str(archive), "--yes"],
                              cwd=REPO, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "LINEBOX_HOME": str(pbx.install.home)})
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "schema 6" in restored.stdout and "1 removed" in restored.stdout, restored.stdout
    applied = subprocess.run([sys.executable, "-m", "appliance.cli", "apply"], cwd=REPO, capture_output=True,
                             text=True, timeout=120, env={**os.environ, "LINEBOX_HOME": str(pbx.install.home)})
    assert applied.returncode == 0, applied.stdout + applied.stderr  # this box's AMI secret was kept
    endpoints = pbx.cli("pjsip show endpoints")
    for number in ("100", "101", "102"):
        assert f"Endpoint:  {number}" in endpoints, endpoints
    assert "Endpoint:  300" not in endpoints, endpoints
    assert "800 has 0 calls" in pbx.cli("queue show 800")
    pbx.install.open()
    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
    assert CallRecord.select().count() == 1 and Gateway.select().count() == 1
