"""The extensions' rows (``appliance.provisioning.projection``) and the object road's bookkeeping
(``appliance.provisioning.live``), on real SQLite files and without Asterisk (the lab tests have it)."""

from __future__ import annotations

import sqlite3
import stat

from appliance.provisioning import live, projection
from appliance.site import service

U = "test"


def _rows(install) -> projection.Rows:
    return projection.stored_rows(install.target().projection_file)


def test_a_push_writes_one_extensions_rows_with_the_revision_and_a_renumbering_removes_the_old(install):
    target = install.target()
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    pushed = live.push_extension(target, "100", U)
    assert pushed.ok and pushed.revision == projection.database_revision()
    rows = _rows(install)
    assert rows["ps_endpoints"]["100"][6] == '"Desk" <100>' and "100-auth" in rows["ps_auths"]
    assert rows["lb_extensions"]["100"] == ("100", "25", "no", "never")
    assert projection.revision(target.projection_file) == pushed.revision
    assert stat.S_IMODE(target.projection_file.stat().st_mode) == 0o640  # digests: never world-readable
    assert "opens a new number range" in pushed.apply_needed  # no dialplan was ever applied here

    old = service.get_object("extension", "100")
    service.save_object("extension", {**old.model_dump(), "number": "101"}, U, original_key="100")
    assert live.after_change(target, "extension", "101", U, old).ok
    rows = _rows(install)
    assert set(rows["ps_endpoints"]) == {"101"} and set(rows["ps_auths"]) == {"101-auth"}

    renumbered = service.get_object("extension", "101")
    service.delete_object("extension", "101", U)
    assert live.after_change(target, "extension", None, U, renumbered).ok
    assert all(not by_id for by_id in _rows(install).values())


def test_what_still_needs_a_full_apply_is_named():
    from appliance.site import schemas
    plain = schemas.Extension(number="201", name="A")
    ranges = {"_2XX"}
    assert live.file_parts(None, plain, ranges, set()) == ""
    assert live.file_parts(plain, plain.model_copy(update={"name": "B"}), ranges, set()) == ""
    assert "new number range" in live.file_parts(None, schemas.Extension(number="3001", name="C"), ranges, set())
    boxed = plain.model_copy(update={"voicemail": True})
    assert "voicemail box" in live.file_parts(plain, boxed, ranges, set())
    assert "voicemail box" in live.file_parts(boxed, boxed.model_copy(update={"voicemail_pin": "9876"}), ranges, set())
    assert live.file_parts(boxed, boxed.model_copy(update={"ring_seconds": 40}), ranges, set()) == ""
    optioned = plain.model_copy(update={"options": {"language": "fr"}})
    assert "pjsip.conf" in live.file_parts(plain, optioned, ranges, set())
    assert "analog port" in live.file_parts(None, plain, ranges, {"201"})


def test_a_push_that_cannot_write_its_rows_says_so_and_changes_nothing(install):
    target = install.target()
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    target.projection_file.parent.mkdir(parents=True, exist_ok=True)
    target.projection_file.write_text("not a database")
    pushed = live.push_extension(target, "100", U)
    assert not pushed.ok and "cannot write" in pushed.error and "previous version stays live" in pushed.error
    assert target.projection_file.read_text() == "not a database"


def test_sync_makes_the_rows_the_sites_and_restore_puts_them_back(install):
    target = install.target()
    for number in ("100", "101"):
        service.save_object("extension", {"number": number, "name": f"E{number}"}, U, create=True)
    first = projection.sync(target.projection_file, service.snapshot(), 7)
    assert first.count == 8 and projection.revision(target.projection_file) == 7
    service.delete_object("extension", "101", U)
    one = service.get_object("extension", "100")
    service.save_object("extension", {**one.model_dump(), "name": "Renamed"}, U, original_key="100")
    done = projection.sync(target.projection_file, service.snapshot(), 9)
    assert ("ps_endpoints", "101") in done.removed and "100" in done.changed["ps_endpoints"]
    assert projection.sync(target.projection_file, service.snapshot(), 9).count == 0  # nothing left to do
    projection.restore(target.projection_file, done, 7)
    rows = _rows(install)
    assert set(rows["ps_endpoints"]) == {"100", "101"} and rows["ps_endpoints"]["100"][6] == '"E100" <100>'
    assert projection.revision(target.projection_file) == 7


def test_a_rows_file_an_older_linebox_made_with_other_columns_is_made_again(tmp_path):
    path = tmp_path / projection.FILE_NAME
    with sqlite3.connect(path) as db:  # an endpoints table without the language column
        db.execute("CREATE TABLE ps_endpoints (id TEXT PRIMARY KEY NOT NULL, context TEXT NOT NULL)")
        db.execute("INSERT INTO ps_endpoints VALUES ('100', 'from-internal')")
    with projection.connect(path) as db:
        columns = tuple(row[1] for row in db.execute("PRAGMA table_info(ps_endpoints)"))
        assert columns == projection.TABLES["ps_endpoints"]
        assert projection.read_rows(db)["ps_endpoints"] == {}  # refilled by the sync that follows
