"""What a full apply keeps from the last one so that it does not redo whole-site work (issue 17 item 4): the
snapshot's unchanged objects, the rows of the projection, the files of the previous generation.  Each cache must
never hide a change: these tests change things behind it and check the apply still sees them."""

from __future__ import annotations

import sqlite3

from appliance.provisioning import apply, manifest, projection
from appliance.site import service

U = "test"


def _extension(number: str, name: str, **more) -> None:
    service.save_object("extension", {"number": number, "name": name, **more}, U, create=True)


def test_a_snapshot_gives_an_unchanged_row_as_the_same_object_and_a_changed_one_anew(install):
    _extension("100", "Alice", voicemail=True, voicemail_pin="4711")
    _extension("101", "Bob")
    first = service.snapshot()
    one = service.get_object("extension", "101")
    service.save_object("extension", {**one.model_dump(), "name": "Robert"}, U, original_key="101")
    second = service.snapshot()
    (alice1, bob1), (alice2, bob2) = first.of("extension"), second.of("extension")
    assert alice2 is alice1 and alice2.voicemail_pin == "4711"  # reused, its sealed PIN read in clear
    assert bob2 is not bob1 and (bob1.name, bob2.name) == ("Bob", "Robert")
    service.delete_object("extension", "100", U)
    assert [e.number for e in service.snapshot().of("extension")] == ["101"]


def test_a_snapshot_of_another_database_reuses_nothing(install, tmp_path):
    from appliance.install import Install
    _extension("100", "Alice")
    before = service.snapshot().of("extension")[0]
    other = Install.create(tmp_path / "other", manage_asterisk=False, dahdi_root=tmp_path / "o" / "dahdi",
                           modprobe_dir=tmp_path / "o" / "modprobe.d", dahdi_cfg_command="")
    other.open()
    _extension("100", "Alice")  # the same content, in another database (another key ring: other sealed bytes)
    assert service.snapshot().of("extension")[0] is not before


def test_the_projection_kept_by_a_full_apply_is_read_again_once_something_else_wrote_it(install):
    _extension("100", "Alice")
    _extension("101", "Bob")
    target = install.target()
    assert apply.apply(service.snapshot, install.facts(), target, user=U).ok
    with sqlite3.connect(target.projection_file) as db:  # a write the apply did not make (a push, a hand edit)
        db.execute("UPDATE ps_endpoints SET callerid = 'x' WHERE id = '100'")
        db.execute("DELETE FROM ps_aors WHERE id = '101'")
    result = apply.apply(service.snapshot, install.facts(), target, user=U)
    objects = next(s for s in result.steps if s.name == "objects")
    assert result.ok and objects.detail.startswith("2 extension rows changed"), objects.detail
    assert projection.stored_rows(target.projection_file) == projection.site_rows(service.snapshot())
    again = apply.apply(service.snapshot, install.facts(), target, user=U)
    assert next(s for s in again.steps if s.name == "objects").detail.startswith("extension rows up to date")


def test_a_new_generation_links_the_files_it_did_not_change_and_writes_the_others(install):
    _extension("100", "Alice", voicemail=True, voicemail_pin="4711")
    target = install.target()
    assert apply.apply(service.snapshot, install.facts(), target, user=U).ok
    first = target.live_generation()
    one = service.get_object("extension", "100")
    service.save_object("extension", {**one.model_dump(), "voicemail_pin": "5093"}, U, original_key="100")
    result = apply.apply(service.snapshot, install.facts(), target, user=U)
    second = target.live_generation()
    assert result.ok and result.changed == ["voicemail.conf"] and second != first
    assert (second / "pjsip.conf").stat().st_ino == (first / "pjsip.conf").stat().st_ino
    assert (second / "voicemail.conf").stat().st_ino != (first / "voicemail.conf").stat().st_ino
    assert "5093" in (second / "voicemail.conf").read_text() and "5093" not in (first / "voicemail.conf").read_text()
    assert manifest.read(second) is not None  # the list verify reads is written, never linked


def test_fingerprints_and_rows_follow_a_changed_object(install):
    _extension("100", "Alice", voicemail=True, voicemail_pin="4711")
    before = service.snapshot()
    prints, rows = manifest.expected(before), projection.site_rows(before)
    one = service.get_object("extension", "100")
    service.save_object("extension", {**one.model_dump(), "name": "Alicia"}, U, original_key="100")
    after = service.snapshot()
    assert manifest.expected(after)["mailbox"]["100"] != prints["mailbox"]["100"]
    assert projection.site_rows(after)["ps_endpoints"]["100"] != rows["ps_endpoints"]["100"]
    assert manifest.expected(before) == prints and projection.site_rows(before) == rows  # the old site as it was


def test_the_rows_made_from_the_last_ones_are_those_made_from_nothing(install):
    for n in range(100, 106):
        _extension(str(n), f"User {n}", voicemail=n % 2 == 0, voicemail_pin="4711")
    projection.site_rows(service.snapshot())
    one = service.get_object("extension", "101")
    service.save_object("extension", {**one.model_dump(), "number": "110"}, U, original_key="101")  # renumbered
    service.delete_object("extension", "102", U)
    _extension("107", "New")
    two = service.get_object("extension", "103")
    service.save_object("extension", {**two.model_dump(), "name": "Changed"}, U, original_key="103")
    site = service.snapshot()
    patched = projection.site_rows(site)
    projection._LAST = None  # noqa: SLF001 - what a new process computes
    assert patched == projection.site_rows(site)
    assert set(patched["ps_endpoints"]) == {"100", "103", "104", "105", "107", "110"}
    service.save_settings({"sip_encryption": "preferred"}, U)  # an input of every row: all made anew
    assert projection.site_rows(service.snapshot())["ps_endpoints"]["100"][-2:] == ("sdes", "yes")


def _whole_reads_counted(monkeypatch) -> list[bool]:
    """From now on, each read of the projection's rows appends whether it read them all (no ``ids``)."""
    whole_reads: list[bool] = []
    read = projection.read_rows

    def counted(db, ids=None):
        whole_reads.append(ids is None)
        return read(db, ids)
    monkeypatch.setattr(projection, "read_rows", counted)
    return whole_reads


def test_a_full_apply_after_another_compares_with_the_rows_it_wrote_without_reading_them_back(install, monkeypatch):
    _extension("100", "Alice")
    target = install.target()
    assert apply.apply(service.snapshot, install.facts(), target, user=U).ok
    whole_reads = _whole_reads_counted(monkeypatch)
    _extension("101", "Bob")
    assert apply.apply(service.snapshot, install.facts(), target, user=U).ok
    assert whole_reads.count(True) == 0
    assert projection.stored_rows(target.projection_file) == projection.site_rows(service.snapshot())


def test_a_push_between_two_full_applies_keeps_the_rows_the_next_one_compares_with(install, monkeypatch):
    from appliance.provisioning import live
    _extension("100", "Alice")
    _extension("101", "Bob")
    target = install.target()
    assert apply.apply(service.snapshot, install.facts(), target, user=U).ok
    one = service.get_object("extension", "100")
    service.save_object("extension", {**one.model_dump(), "name": "Alicia"}, U, original_key="100")
    assert live.after_change(target, "extension", "100", U, one).ok
    bob = service.get_object("extension", "101")
    service.delete_object("extension", "101", U)
    assert live.after_change(target, "extension", None, U, bob).ok
    whole_reads = _whole_reads_counted(monkeypatch)
    _extension("102", "Carol")  # not pushed: only the full apply writes it
    result = apply.apply(service.snapshot, install.facts(), target, user=U)
    assert result.ok and whole_reads.count(True) == 0
    assert next(s for s in result.steps if s.name == "objects").detail.startswith("4 extension rows changed")
    assert projection.stored_rows(target.projection_file) == projection.site_rows(service.snapshot())
