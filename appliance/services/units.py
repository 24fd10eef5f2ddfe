"""The systemd units Linebox installs, and a throw-away root to check them with ``systemd-analyze``.

The unit files live with the Ansible roles that install them (``ansible/roles/*/files``), so this
works from a source tree only.  ``systemd-analyze verify`` resolves every ``ExecStart`` binary and
loads the units' dependencies, so the units are checked inside a staged root (``--root``): the
host's own targets, Linebox's units at the paths Ansible puts them, Debian's ``asterisk.service``
with Linebox's drop-in, and stand-in executables at the paths the units name.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "ansible" / "roles"

# installed path (in /etc/systemd/system) -> source in the roles
UNITS: dict[str, Path] = {
    "linebox-web.service": ROLES / "linebox" / "files" / "linebox-web.service",
    "linebox-apply.service": ROLES / "linebox" / "files" / "linebox-apply.service",
    "linebox-collector.service": ROLES / "linebox" / "files" / "linebox-collector.service",
    "linebox-agi.service": ROLES / "linebox" / "files" / "linebox-agi.service",
    "linebox-bans.service": ROLES / "linebox" / "files" / "linebox-bans.service",
    "linebox-provision.service": ROLES / "linebox" / "files" / "linebox-provision.service",
    "linebox-webhooks.service": ROLES / "linebox" / "files" / "linebox-webhooks.service",
    "linebox-robot.service": ROLES / "linebox" / "files" / "linebox-robot.service",
    "linebox-dahdi.service": ROLES / "dahdi" / "files" / "linebox-dahdi.service",
    "linebox-dahdi-reload.service": ROLES / "dahdi" / "files" / "linebox-dahdi-reload.service",
    "linebox-dahdi-reload.path": ROLES / "dahdi" / "files" / "linebox-dahdi-reload.path",
    "asterisk.service.d/linebox.conf": ROLES / "asterisk" / "files" / "asterisk-linebox.conf",
}
# the services to check and score: Linebox's own, and Debian's asterisk.service as Linebox's drop-in changes it
CHECKED = ("linebox-web.service", "linebox-apply.service", "linebox-collector.service", "linebox-agi.service",
           "linebox-bans.service", "linebox-provision.service", "linebox-webhooks.service", "linebox-robot.service",
           "linebox-dahdi.service",
           "linebox-dahdi-reload.service", "asterisk.service")
# verified too (systemd-analyze security scores services only)
VERIFIED = (*CHECKED, "linebox-dahdi-reload.path")

# Debian forky's asterisk.service (asterisk 1:22.10.1), its comments left out.
DEBIAN_ASTERISK_SERVICE = """\
[Unit]
Description=Asterisk PBX
Documentation=man:asterisk(8)
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
ExecStart=/usr/sbin/asterisk -g -f -p -U asterisk -G asterisk
ExecReload=/usr/sbin/asterisk -rx 'core reload'
Restart=on-failure
RestartSec=1
WorkingDirectory=/var/lib/asterisk
StandardOutput=null
StandardError=null

[Install]
WantedBy=multi-user.target
"""

HOST_UNITS = Path("/usr/lib/systemd/system")


def executables() -> set[str]:
    """Every absolute program path the units (and Debian's asterisk.service) start."""
    texts = [p.read_text() for p in UNITS.values()] + [DEBIAN_ASTERISK_SERVICE]
    found = set()
    for text in texts:
        for m in re.finditer(r"^Exec\w+=[-+!@:]*(/\S+)", text, re.MULTILINE):
            found.add(m.group(1))
    return found


def stage_root(root: Path) -> Path:
    """Make ``root`` a minimal tree ``systemd-analyze --root`` can load Linebox's units from."""
    lib = root / "usr/lib/systemd/system"
    lib.parent.mkdir(parents=True, exist_ok=True)
    if HOST_UNITS.is_dir():
        shutil.copytree(HOST_UNITS, lib, symlinks=True, dirs_exist_ok=True)
    lib.mkdir(parents=True, exist_ok=True)
    (lib / "asterisk.service").write_text(DEBIAN_ASTERISK_SERVICE)
    etc = root / "etc/systemd/system"
    for installed, source in UNITS.items():
        (etc / installed).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, etc / installed)
    for program in executables():
        path = root / program.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    return root


def verify(root: Path, units: tuple[str, ...] = VERIFIED) -> subprocess.CompletedProcess:
    """``systemd-analyze verify`` on ``units`` inside ``root`` (no man page look-ups: the root has none)."""
    return subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", *units],
                          capture_output=True, text=True, timeout=120)


@dataclass
class Score:
    unit: str
    exposure: float
    verdict: str
    details: list[str]  # the checks that still count against the unit


def security(root: Path, unit: str) -> Score:
    """``systemd-analyze security --offline=yes`` for ``unit`` inside ``root``."""
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--root={root}", "--no-pager", unit],
                            capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", result.stdout)
    if not m:
        raise RuntimeError(f"systemd-analyze security {unit}: {result.stdout}{result.stderr}")
    details = [re.sub(r"\s{2,}", "  ", line[1:].strip()) for line in result.stdout.splitlines()
               if line.startswith("✗")]
    return Score(unit, float(m.group(1)), m.group(2), details)


def systemd_version() -> str:
    out = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"
