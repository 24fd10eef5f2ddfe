"""Backups and restores of an install (no Asterisk): round trip, WAL safety, and every way an archive is refused."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import re
import shutil
import sqlite3
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance import config_file
from appliance.cli import main
from appliance.model import migrations, sealed
from appliance.model.database import close_database, database
from appliance.model.models import AuditEntry, CallRecord, User
from appliance.site import service
from appliance.support import backup
from tests.conftest import REFERENCE_SITE
from tests.old_database import schema6_backup, schema6_database, table_rows


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
    (b"just some text\n", "not a .tar.gz archive at all"),
    (b"\x1f\x8b\x08\x00garbage", "the backup is truncated"),
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
    made = runner.invoke(main, ["--home", str(site.home), "backup", "-o", str(out), "--no-passphrase"])
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


# ---- restore across versions ---------------------------------------------------------------------------


def test_a_backup_of_the_first_schema_with_backups_restores_migrated_with_every_row(site, tmp_path):
    """A backup written by schema 6 (the first Linebox with backups), rows in every table: ``linebox restore``
    migrates it to this schema and keeps every row, each column the old schema had with its old value."""
    archive = schema6_backup(tmp_path / "old.tar.gz")
    old = table_rows(schema6_database(tmp_path / "old" / "linebox.db"))
    assert all(old.values()), [name for name, rows in old.items() if not rows]
    kept_ami = site.ami_secret()

    result = CliRunner().invoke(main, ["--home", str(site.home), "restore", str(archive), "--yes"])
    assert result.exit_code == 0, result.output
    assert "schema 6" in result.output and "Run 'linebox apply'" in result.output

    assert migrations.schema_version(database.obj) == migrations.CURRENT_VERSION
    close_database()  # everything written: read the file as it is on disk
    new = table_rows(site.database)
    for table, rows in old.items():
        by_id = {row.get("id", row.get("key", row.get("source"))): row for row in new[table]}
        for row in rows:
            key = row.get("id", row.get("key", row.get("source")))
            if table == "setting" and key.startswith("secret."):
                continue  # moved into the key file, where this box's own AMI secret stays (appliance.model.sealed)
            assert key in by_id, f"{table} row {key} lost"
            for column, value in row.items():
                if column == "retries":  # schema 12 split it into two counts, each starting as the old one
                    assert (by_id[key]["invalid_retries"], by_id[key]["timeout_retries"]) == (value, value)
                elif (table, column, value) == ("ivr", "invalid_sound", "option-is-invalid"):
                    assert by_id[key][column] == "invalid"  # schema 10: a sound Debian ships
                elif value and column in migrations.sealed_columns().get(table, ()):  # sealed (schema 18)
                    assert by_id[key][column] != value and sealed.current().open(by_id[key][column]) == value
                else:
                    assert by_id[key][column] == value, (table, key, column)
    site.open()
    assert site.ami_secret() == kept_ami
    assert [q.service_level_seconds for q in service.list_objects("queue")] == [20]  # a column schema 6 lacked
    assert [u.username for u in User.select().order_by(User.username)] == ["alice", "sam"]
    assert (site.home / "tls" / "cert.pem").read_text().endswith("MIIBold\n-----END CERTIFICATE-----\n")


# ---- archives that are not a backup, or a damaged one: refused, the box byte for byte as it was -------------


def _box_files(install) -> dict[str, str]:
    """Every file of the box a restore may touch (database, settings, TLS, configuration generations,
    recordings), with its SHA-256; SQLite's shared-memory index, rebuilt at each open, aside."""
    files = {}
    for root in (install.home, install.recordings_dir):
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.endswith("-shm"):
                files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def _tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, target, 0o600
    return info


def _truncated(good: Path, out: Path) -> Path:
    out.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return out


def _zip(good: Path, out: Path) -> Path:
    with tarfile.open(good) as tar, zipfile.ZipFile(out, "w") as archive:
        for member in tar.getmembers():
            archive.writestr(member.name, tar.extractfile(member).read())
    return out


def _corrupt(good: Path, out: Path) -> Path:
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    out.write_bytes(bytes(data))
    return out


def _plain_tar(good: Path, out: Path) -> Path:
    out.write_bytes(gzip.decompress(good.read_bytes()))
    return out


def _foreign_tar(good: Path, out: Path) -> Path:
    return _tar_gz(out, [(_member("etc/hosts"), b"127.0.0.1 localhost\n"), (_member("README"), b"hello\n")])


def _traversal(good: Path, out: Path) -> Path:
    return _tar_gz(out, [(_member("manifest.json"), b"{}"), (_member("../linebox.db"), b"SQLite format 3\0")])


def _symlink(good: Path, out: Path) -> Path:
    return _tar_gz(out, [(_member("manifest.json"), b"{}"),
                         (_member("linebox.db", tarfile.SYMTYPE, "/etc/shadow"), None)])


def _hardlink(good: Path, out: Path) -> Path:
    return _tar_gz(out, [(_member("manifest.json"), b"{}"),
                         (_member("site.yaml", tarfile.LNKTYPE, "manifest.json"), None)])


def _huge_member(good: Path, out: Path) -> Path:
    """A member that says it holds 1 TiB: refused from its header, before a byte of it is unpacked."""
    header = _member("linebox.db")
    header.size = 1 << 40
    zeros = gzip.compress(bytes(1 << 20), compresslevel=1)
    out.write_bytes(gzip.compress(_member("manifest.json").tobuf() + header.tobuf()) + zeros * 16)
    return out


def _bomb(good: Path, out: Path) -> Path:
    """2 GiB of zeros in 2 MB: each gzip member below unpacks 1 MiB of zeros from 1 KB."""
    header = _member("linebox.db")
    header.size = 2 << 30
    zeros = gzip.compress(bytes(1 << 20), compresslevel=9)
    out.write_bytes(gzip.compress(header.tobuf()) + zeros * 2048 + gzip.compress(bytes(1024)))
    return out


FOREIGN = {
    "truncated": (_truncated, "truncated"),
    "corrupt": (_corrupt, "the backup is damaged"),
    "a zip file": (_zip, "a ZIP archive"),
    "an uncompressed tar": (_plain_tar, "not gzip-compressed"),
    "a random tar": (_foreign_tar, "no manifest.json"),
    "a ../ member": (_traversal, "never has: ../linebox.db"),
    "a symlink member": (_symlink, "linebox.db is a symbolic link"),
    "a hard link member": (_hardlink, "site.yaml is a hard link"),
    "a 1 TiB member": (_huge_member, "linebox.db would unpack to 1024.0 GiB"),
    "a decompression bomb": (_bomb, "linebox.db would unpack to 2.0 GiB"),
}


@pytest.mark.parametrize("case", FOREIGN)
def test_linebox_restore_refuses_a_foreign_or_damaged_archive_and_leaves_the_box_as_it_was(site, tmp_path, case):
    make, message = FOREIGN[case]
    site.asterisk_root = tmp_path / "root"
    site.recordings_dir.mkdir(parents=True)
    (site.recordings_dir / "q500-1700000000.1.wav").write_bytes(b"RIFF recorded call")
    good = backup.create_backup(site, tmp_path / "good.tar.gz").path
    bad = make(good, tmp_path / ("bad-" + re.sub(r"\W+", "-", case) + ".tar.gz"))
    close_database()
    with contextlib.closing(sqlite3.connect(site.database)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _box_files(site)

    result = CliRunner().invoke(main, ["--home", str(site.home), "restore", str(bad), "--yes"])
    said = " ".join(result.output.split())  # the message is wrapped to 80 columns
    assert result.exit_code == 1, said
    assert result.exception is None or isinstance(result.exception, SystemExit), said
    assert message in said and "Nothing was changed" in said, said
    close_database()
    assert _box_files(site) == before
    assert not list(backup.rollback_folder(site).iterdir())  # nothing left unpacked


def test_a_backup_too_large_for_the_free_space_is_refused_before_unpacking(site, tmp_path, monkeypatch):
    """Unpacking never fills the disk the database lives on: the room is measured against the members'
    declared sizes before a byte is written (here the reserve kept free is raised to all the space there is)."""
    good = backup.create_backup(site, tmp_path / "good.tar.gz").path
    monkeypatch.setattr(backup, "FREE_RESERVE", shutil.disk_usage(tmp_path).free)
    result = CliRunner().invoke(main, ["--home", str(site.home), "restore", str(good), "--yes"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "free to unpack it: free some space first" in said, said
    assert not list(backup.rollback_folder(site).iterdir())
