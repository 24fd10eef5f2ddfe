"""Backups and restores of an install (no Asterisk): round trip, WAL safety, and every way an archive is refused."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance import config_file
from appliance.cli import main
from appliance.model import migrations
from appliance.model.models import AuditEntry, CallRecord
from appliance.site import service
from appliance.support import backup
from tests.conftest import REFERENCE_SITE


@pytest.fixture
def site(install):
    config_file.import_text(REFERENCE_SITE.read_text(), "test")
    (install.home / "tls").mkdir()
    (install.home / "tls" / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n")
    (install.home / "tls" / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nMIIBkey\n-----END PRIVATE KEY-----\n")
    return install


def _modify_site() -> None:
    service.save_object("extension", {"number": "300", "name": "Temp"}, "test", create=True)
    ext = service.get_object("extension", "101")
    service.save_object("extension", {**ext.model_dump(), "name": "Renamed"}, "test", original_key="101")
    route = service.list_objects("inbound_route")[-1]
    service.delete_object("inbound_route", route.name, "test")
    service.save_settings({"rtp_end": 19000}, "test")


def test_backup_then_changes_then_restore_gives_the_site_back(site, tmp_path):
    original = config_file.export_text()
    ami_secret = site.ami_secret()
    archive = backup.create_backup(site, tmp_path / "b.tar.gz")
    assert archive.path.stat().st_mode & 0o777 == 0o600  # it holds every password of the site
    _modify_site()
    (site.home / "tls" / "key.pem").write_text("replaced by hand\n")
    CallRecord.create(uniqueid="1.1", sequence=0, linkedid="1.1", start="2026-11-23 09:00:00")
    modified = config_file.export_text()

    with backup.open_backup(archive.path) as opened:
        change = backup.preview(opened, service.snapshot(), {"admin"}, site.database)
        lines = backup.preview_lines(change)
        result = backup.restore(site, opened, "test")

    text = "\n".join(lines)
    assert "extensions" in text and "+101" not in text and "-300" in text and "~101" in text
    assert "settings" in text and "rtp_end" in text
    assert "call records 1 now, 0 after" in text  # what a restore loses is said before it happens
    assert all(len(line) <= 80 for line in lines)
    assert config_file.export_text() == original
    assert (site.home / "tls" / "key.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert site.ami_secret() == ami_secret  # the running Asterisk keeps accepting this box's AMI login
    entry = AuditEntry.select().order_by(AuditEntry.id.desc()).first()
    assert (entry.action, entry.kind, entry.key) == ("restore", "backup", "b.tar.gz")

    # the rollback copy is itself a backup that gives the modified site back
    with backup.open_backup(result.rollback) as previous:
        backup.restore(site, previous, "test")
    assert config_file.export_text() == modified


def test_backup_holds_changes_still_in_the_write_ahead_log(site, tmp_path):
    writer = sqlite3.connect(site.database)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE extension SET name = 'Only in the WAL' WHERE number = '100'")
    writer.commit()
    assert (site.database.with_name(site.database.name + "-wal")).stat().st_size > 0
    archive = backup.create_backup(site, tmp_path / "b.tar.gz")
    writer.close()
    with backup.open_backup(archive.path) as opened:
        names = {e.number: e.name for e in opened.site.objects["extension"]}
        assert names["100"] == "Only in the WAL"
        assert "Only in the WAL" in (opened.folder / backup.SITE).read_text()


def _rebuild(archive: Path, out: Path, mutate: Callable[[Path, dict], None], fix_checksums: bool = True) -> Path:
    """A copy of ``archive`` changed by ``mutate(folder, manifest)``, with checksums made right again."""
    folder = out.with_suffix(".d")
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    manifest = json.loads((folder / backup.MANIFEST).read_text())
    mutate(folder, manifest)
    if fix_checksums:
        for name, entry in manifest["files"].items():
            if (folder / name).exists():
                entry["sha256"] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / backup.MANIFEST).write_text(json.dumps(manifest))
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(folder).as_posix())
    return out


def _break_site(folder: Path, manifest: dict) -> None:
    with contextlib.closing(sqlite3.connect(folder / backup.DATABASE)) as db:
        db.execute("UPDATE inboundroute SET destination = 'extension:999'")
        db.commit()


def _tamper(folder: Path, manifest: dict) -> None:
    with contextlib.closing(sqlite3.connect(folder / backup.DATABASE)) as db:
        db.execute("UPDATE extension SET name = 'tampered'")
        db.commit()


def _newer(folder: Path, manifest: dict) -> None:
    manifest["schema_version"] = migrations.CURRENT_VERSION + 1


def _extra(folder: Path, manifest: dict) -> None:
    (folder / "recordings").mkdir(exist_ok=True)
    (folder / "recordings" / "stray.wav").write_bytes(b"RIFF")


def _missing(folder: Path, manifest: dict) -> None:
    (folder / backup.SITE).unlink()


BROKEN = {
    "a site that fails the checks": (_break_site, True, "does not pass the checks"),
    "a changed file": (_tamper, False, "linebox.db does not match its checksum"),
    "a newer schema": (_newer, True, "newer Linebox"),
    "a file the manifest does not list": (_extra, True, "does not list: recordings/stray.wav"),
    "a missing file": (_missing, True, "incomplete: site.yaml is missing"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_bad_archive_is_refused_with_its_reason_and_nothing_changes(site, tmp_path, case):
    mutate, fix, message = BROKEN[case]
    good = backup.create_backup(site, tmp_path / "good.tar.gz").path
    bad = _rebuild(good, tmp_path / "bad.tar.gz", mutate, fix_checksums=fix)
    _modify_site()
    before = config_file.export_text()
    result = CliRunner().invoke(main, ["--home", str(site.home), "restore", str(bad), "--yes"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # the message is wrapped to 80 columns
    assert message in said and "Nothing was changed" in said
    assert config_file.export_text() == before
    assert not list(backup.rollback_folder(site).iterdir())  # no rollback copy, nothing left unpacked


@pytest.mark.parametrize("content, message", [
    (b"just some text\n", "not a readable .tar.gz"),
    (b"\x1f\x8b\x08\x00garbage", "not a readable .tar.gz"),
])
def test_files_that_are_not_backups_are_refused(site, tmp_path, content, message):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(content)
    with pytest.raises(backup.BackupError, match=message):
        backup.open_backup(bad)


def test_archives_without_manifest_or_with_foreign_paths_are_refused(site, tmp_path):
    plain = tmp_path / "plain.tar.gz"
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with tarfile.open(plain, "w:gz") as tar:
        tar.add(other, arcname="notes.txt")
    with pytest.raises(backup.BackupError, match="no manifest.json"):
        backup.open_backup(plain)
    sneaky = tmp_path / "sneaky.tar.gz"
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    with tarfile.open(sneaky, "w:gz") as tar:
        tar.add(manifest, arcname="manifest.json")
        tar.add(other, arcname="recordings/../../etc/evil")
    with pytest.raises(backup.BackupError, match="never has"):
        backup.open_backup(sneaky)
    with pytest.raises(backup.BackupError, match="no such file"):
        backup.open_backup(tmp_path / "absent.tar.gz")


def test_cli_backup_and_restore_preview_then_answer_no(site, tmp_path):
    runner = CliRunner()
    out = tmp_path / "site-backup.tar.gz"
    made = runner.invoke(main, ["--home", str(site.home), "backup", "-o", str(out)])
    assert made.exit_code == 0, made.output
    assert f"wrote {out}" in made.output and "6 extensions" in made.output
    _modify_site()
    before = config_file.export_text()
    refused = runner.invoke(main, ["--home", str(site.home), "restore", str(out)], input="n\n")
    assert refused.exit_code == 1
    assert "Restoring it changes the stored site" in refused.output and "-300" in refused.output
    assert "nothing was changed" in refused.output
    assert config_file.export_text() == before
    done = runner.invoke(main, ["--home", str(site.home), "restore", str(out)], input="y\n")
    assert done.exit_code == 0, done.output
    assert "Run 'linebox apply'" in done.output
    assert service.get_object("extension", "300") is None


def test_recordings_only_with_the_option_and_restored_when_missing(site, tmp_path):
    site.asterisk_root = tmp_path / "root"
    day = site.recordings_dir / "2026" / "11" / "23"
    day.mkdir(parents=True)
    (day / "q500-1700000000.1.wav").write_bytes(b"RIFF recorded call")
    (day / "kept.wav").write_bytes(b"RIFF newer copy on the box")
    plain = backup.create_backup(site, tmp_path / "plain.tar.gz")
    assert not [n for n in plain.manifest["files"] if n.startswith("recordings/")]
    full = backup.create_backup(site, tmp_path / "full.tar.gz", with_recordings=True)
    assert "recordings/2026/11/23/q500-1700000000.1.wav" in full.manifest["files"]
    (day / "q500-1700000000.1.wav").unlink()
    (day / "kept.wav").write_bytes(b"RIFF changed since")
    with backup.open_backup(full.path) as opened:
        result = backup.restore(site, opened, "test")
    assert "1 missing recording(s)" in result.restored
    assert (day / "q500-1700000000.1.wav").read_bytes() == b"RIFF recorded call"
    assert (day / "kept.wav").read_bytes() == b"RIFF changed since"  # a recording on the box is never overwritten
