"""The technician's and admin's `linebox` command, run as a real process against the lab's pbx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab

LINEBOX = Path(sys.executable).with_name("linebox")


def linebox(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LINEBOX_HOME": str(home)}
    return subprocess.run([str(LINEBOX), *args], capture_output=True, text=True, env=env, timeout=120)


def test_config_as_code_round_trip_and_apply(pbx, tmp_path):
    home = pbx.install.home
    exported = linebox(home, "config", "export")
    assert exported.returncode == 0, exported.stderr
    site = yaml.safe_load(exported.stdout)
    site["extensions"].append({"number": "200", "name": "Front desk", "voicemail": True, "voicemail_pin": "2648"})
    site_file = tmp_path / "site.yaml"
    site_file.write_text(yaml.safe_dump(site, sort_keys=False))

    imported = linebox(home, "config", "import", str(site_file))
    assert imported.returncode == 0, imported.stderr
    assert "1 created" in imported.stdout

    dry = linebox(home, "apply", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "+[200]" in dry.stdout and "dry run" in dry.stdout
    assert "200" not in pbx.cli("pjsip show endpoints")
    # secrets never printed: the new phone's digest and its voicemail PIN are masked in the diff
    assert "password_digest = ********" in dry.stdout and "+200 => ********,Front desk" in dry.stdout, dry.stdout
    assert "2648" not in dry.stdout and "MD5:" not in dry.stdout

    applied = linebox(home, "apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    # the new extension is rows Asterisk reads at run time: re-read from them, no module reloaded for it
    assert "[ok  ] expire" in applied.stdout and "[ok  ] verify" in applied.stdout, applied.stdout
    assert "Endpoint:  200" in pbx.cli("pjsip show endpoints")

    status = linebox(home, "status")
    assert status.returncode == 0, status.stderr
    assert "Asterisk: up" in status.stdout and "Phones registered (0):" in status.stdout  # 200 has no phone yet
    assert max(len(line) for line in status.stdout.splitlines()) <= 80

    again = linebox(home, "apply", "--diff")
    assert "nothing to apply" in again.stdout


def test_bad_import_names_line_and_field_and_stores_nothing(pbx, tmp_path):
    home = pbx.install.home
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "linebox: 1\n"
        "extensions:\n"
        "  - number: '300'\n"
        "    name: Ok\n"
        "  - number: '30x'\n"
        "    name: Broken\n"
        "inbound_routes:\n"
        "  - name: main\n"
        "    destination: ringgroup:999\n"
    )
    result = linebox(home, "config", "import", str(bad))
    assert result.returncode == 1
    assert "line 5: extensions.1.number" in result.stderr
    assert "nothing was stored" in result.stderr

    bad.write_text(bad.read_text().replace("'30x'", "'301'"))
    result = linebox(home, "config", "import", str(bad))
    assert result.returncode == 1
    assert "line 8: inbound route main destination: ring group 999 does not exist" in result.stderr
    exported = yaml.safe_load(linebox(home, "config", "export").stdout)
    assert exported["extensions"] == []
