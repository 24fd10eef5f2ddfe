"""Golden files: the reference site renders to exactly the files kept in ``tests/golden/``.

The reference site (``tests/data/reference-site.yaml``) is imported into a
fresh database, rendered with fixed install facts, and every file in
``render.GENERATED_FILES`` is compared byte for byte with
``tests/golden/<name>``.

When a change to a template or renderer is intended, rewrite the expected
files and review the difference before committing it::

    LINEBOX_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/unit/test_golden.py
    git diff tests/golden/

The same module checks that rendering is deterministic and that the YAML
export/import round-trips without any change.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from appliance import config_file
from appliance.asterisk.layout import DEFAULT_DIRECTORIES
from appliance.install import Install
from appliance.model.database import close_database
from appliance.model.models import AuditEntry
from appliance.provisioning import render
from appliance.site import service
from tests.conftest import REFERENCE_SITE

GOLDEN = Path(__file__).parent.parent / "golden"
UPDATE = os.environ.get("LINEBOX_UPDATE_GOLDEN") == "1"
FACTS = render.InstallFacts(ami_secret="golden-ami-secret", directories=DEFAULT_DIRECTORIES)


def _render_reference() -> dict[str, str]:
    config_file.import_text(REFERENCE_SITE.read_text(encoding="utf-8"), user="golden")
    service.save_settings({"timezone": "UTC"}, "golden")  # the default is the box's zone: the same files anywhere
    return render.render_all(service.snapshot(), FACTS)


@pytest.fixture
def rendered(install) -> dict[str, str]:
    return _render_reference()


@pytest.mark.parametrize("name", render.GENERATED_FILES)
def test_golden_file(rendered, name):
    path = GOLDEN / name
    actual = rendered[name].encode("utf-8")
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    assert path.exists(), f"{path} is missing: run with LINEBOX_UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes()
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.decode("utf-8", "replace").splitlines(keepends=True),
                                            actual.decode("utf-8", "replace").splitlines(keepends=True),
                                            f"golden/{name}", f"rendered/{name}"))
        pytest.fail(f"{name} differs from its golden file (LINEBOX_UPDATE_GOLDEN=1 rewrites it):\n{diff}")


def test_golden_folder_holds_exactly_the_generated_files():
    if UPDATE:
        for stale in set(p.name for p in GOLDEN.iterdir()) - set(render.GENERATED_FILES):
            (GOLDEN / stale).unlink()
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(render.GENERATED_FILES)


def test_reference_site_uses_every_feature(install):
    """Guard against the reference site being trimmed until the golden files prove little."""
    config_file.import_text(REFERENCE_SITE.read_text(encoding="utf-8"), user="golden")
    site = service.snapshot()
    extensions = site.of("extension")
    assert len(extensions) >= 6
    assert any(e.voicemail for e in extensions) and any(not e.voicemail for e in extensions)
    assert any(e.recording == "always" for e in extensions)
    trunks = {t.name: t for t in site.of("trunk")}
    assert any(t.registration for t in trunks.values())
    assert any(not t.registration and t.match and t.max_channels for t in trunks.values())
    assert {g.strategy for g in site.of("ring_group")} == {"ringall", "hunt"}
    assert any(tc.holidays for tc in site.of("time_condition"))
    assert site.of("announcement") and site.of("voicemail_box")
    routes = site.of("inbound_route")
    assert any(r.did and not r.cid for r in routes)
    assert any(r.did and r.cid for r in routes)
    assert any(not r.did and not r.cid for r in routes)
    outbound = site.of("outbound_route")
    assert len(outbound) >= 2
    assert any(p.strip for r in outbound for p in r.patterns)
    assert any(p.prepend for r in outbound for p in r.patterns)
    assert any("," in r.caller_id_name for r in outbound)
    assert any(len(r.trunks) > 1 for r in outbound)


def test_rendering_twice_gives_identical_bytes(install):
    first = _render_reference()
    second = render.render_all(service.snapshot(), FACTS)
    assert list(first) == list(render.GENERATED_FILES)
    assert first == second


def test_rendering_does_not_depend_on_insertion_order(install, tmp_path):
    """A database filled in another order renders the same files (objects are walked in key order)."""
    first = _render_reference()
    close_database()
    other = Install.create(tmp_path / "reversed", manage_asterisk=False)
    other.open()
    site = config_file.parse_text(REFERENCE_SITE.read_text(encoding="utf-8"))
    for name in site.objects:
        site.objects[name] = list(reversed(site.objects[name]))
    service.replace_site(site, user="golden")
    service.save_settings({"timezone": "UTC"}, "golden")
    assert render.render_all(service.snapshot(), FACTS) == first


def test_export_import_export_round_trips(install, tmp_path):
    reference = REFERENCE_SITE.read_text(encoding="utf-8")
    config_file.import_text(reference, user="golden")
    exported = config_file.export_text()

    # The hand-written reference and its export describe the same site.
    original, reparsed = config_file.parse_text(reference), config_file.parse_text(exported)
    assert original.settings == reparsed.settings
    for name in original.objects:
        assert sorted(o.model_dump_json() for o in original.objects[name]) == \
            sorted(o.model_dump_json() for o in reparsed.objects[name]), name

    # Importing the export into another, empty database and exporting again changes nothing.
    close_database()
    second = Install.create(tmp_path / "second", manage_asterisk=False)
    second.open()
    counts = config_file.import_text(exported, user="golden").counts
    assert counts["created"] == sum(len(v) for v in original.objects.values())
    assert config_file.export_text() == exported

    # Importing it once more is a no-op: nothing changes and nothing is audited.
    audited = AuditEntry.select().count()
    counts = config_file.import_text(exported, user="golden").counts
    assert counts == {"created": 0, "updated": 0, "deleted": 0, "unchanged": counts["unchanged"]}
    assert AuditEntry.select().count() == audited
    assert config_file.export_text() == exported
