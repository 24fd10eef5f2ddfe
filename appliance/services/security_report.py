"""``python -m appliance.services.security_report``: ``systemd-analyze security`` scores of the units.

Prints the exposure score of each unit Linebox installs (0 = locked down, 10 = unrestricted), with
the checks that still count against it, and writes the same text to
``benchmarks/results/systemd-security.txt``.  Scored offline in a staged root (see ``units``), with
the host's systemd-analyze.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from appliance.services import units

RESULT = units.REPO / "benchmarks" / "results" / "systemd-security.txt"

NOTES = {
    "linebox-web.service": "console: one capability (bind 443), writes /var/lib/linebox only",
    "linebox-apply.service": "boot oneshot: no network, no capability (root only in ExecStartPre=+)",
    "linebox-collector.service": "collector: no capability, reads Asterisk's logs, writes /var/lib/linebox only",
    "linebox-bans.service": "bans: CAP_NET_ADMIN only (the ban sets), AMI on loopback, writes /var/lib/linebox only",
    "linebox-agi.service": "FastAGI: no capability, loopback only (IPAddressDeny), private users",
    "linebox-provision.service": "gateway files over HTTP: no capability (port 8080), private users",
    "linebox-dahdi.service": "root by necessity: loads kernel modules, configures DAHDI spans",
    "linebox-dahdi-reload.service": "root, CAP_SYS_ADMIN only: dahdi_cfg on the console's request (path unit)",
    "asterisk.service": "Debian's unit + Linebox's drop-in (-C live config, some hardening)",
}


def report(out: Path | None = RESULT) -> str:
    with tempfile.TemporaryDirectory(prefix="linebox-units-") as tmp:
        root = units.stage_root(Path(tmp))
        scores = [units.security(root, unit) for unit in units.CHECKED]
    lines = [
        "systemd-analyze security --offline=yes (exposure: 0.0 locked down ... 10.0 unrestricted)",
        f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with {units.systemd_version()}",
        "",
    ]
    lines += [f"{s.unit:29} {s.exposure:4.1f} {s.verdict:8} {NOTES.get(s.unit, '')}" for s in scores]
    for s in scores:
        if s.exposure < 5:
            lines += ["", f"{s.unit} ({s.exposure:.1f}): what still counts against it"]
            lines += [f"  {d}" for d in s.details]
        else:
            lines += ["", f"{s.unit} ({s.exposure:.1f}): runs as root by design; {len(s.details)} checks count "
                          f"against it (systemd-analyze security {s.unit})"]
    text = "\n".join(lines) + "\n"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return text


def main() -> int:
    text = report()
    print(text, end="")
    print(f"written to {RESULT.relative_to(units.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
