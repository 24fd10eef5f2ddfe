"""linebox hardware scan/show, spans and gateways, as a technician reads them on an 80-column console.

``hardware scan`` runs under ``umockdev-run`` with the device files of tests/hardware/devices: the
real libudev, through pyudev, sees the fake cards (no mock of pyudev anywhere).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from appliance.cli import main
from appliance.gateways import service as gateways
from appliance.site import service
from hardware import detect
from tests.hardware.fake_sysfs import make_fake_sysfs

REPO = Path(__file__).resolve().parents[2]
DEVICES = REPO / "tests" / "hardware" / "devices"
U = "test"


def scan(home: Path, *devices: str) -> dict:
    assert shutil.which("umockdev-run"), "Debian package umockdev missing: apt-get install umockdev"
    args = ["umockdev-run"]
    for name in devices:
        args += ["-d", str(DEVICES / f"{name}.umockdev")]
    args += ["--", sys.executable, "-m", "tests.dahdi.cli_under_umockdev", "--home", str(home), "hardware", "scan"]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["exception"] is None, result
    return result


def readable(output: str) -> None:
    """Fits the serial console and carries no colour codes when not on a terminal."""
    assert "\x1b[" not in output
    assert all(len(line) <= 80 for line in output.splitlines()), [ln for ln in output.splitlines() if len(ln) > 80]


def cli(install, *args: str):
    return CliRunner().invoke(main, ["--home", str(install.home), *args])


def test_scan_stores_the_inventory_flags_a_missing_driver_and_says_what_changed(install):
    first = scan(install.home, "digital-te420", "digital-te435-no-driver", "digium-unknown")
    out = first["output"]
    readable(out)
    assert first["exit_code"] == 1  # something needs doing
    assert "pci:0000:04:00.0  Digium TE420" in out and "    driver wct4xxp, IDs d161:1420/0005:0000" in out
    assert "    no driver bound (needs wcte43x)" in out
    flat = re.sub(r"\n +", " ", out)  # wrapped messages read as one line
    assert "driver not loaded: modprobe wcte43x" in flat
    assert "not in the Linebox card catalogue" in flat
    assert "first scan: 3 device(s) stored in" in flat
    assert {d.key for d in detect.load(install.inventory_file).devices} >= {"pci:0000:04:00.0", "pci:0000:07:00.0"}

    second = scan(install.home, "digital-te420")
    readable(second["output"])
    assert second["exit_code"] == 0
    assert "changed since the last scan:" in second["output"]
    assert "removed: pci:0000:07:00.0" in second["output"]

    third = scan(install.home, "digital-te420")
    assert "no change since the last scan" in third["output"]


def test_show_lists_each_card_with_what_is_configured_on_it(install):
    scan(install.home, "digital-te420", "analog-a8b")
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    service.save_object("dahdi_trunk", {"name": "telco", "group": 1}, U, create=True)
    service.save_object("span", {"span": 1, "card": "pci:0000:04:00.0", "trunk": "telco"}, U, create=True)
    service.save_object("analog_port", {"channel": 1, "kind": "fxs", "extension": "100", "card": "pci:0000:03:00.0",
                                        "port": 1}, U, create=True)
    result = cli(install, "hardware", "show")
    readable(result.output)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    te420 = next(i for i, ln in enumerate(lines) if ln.startswith("pci:0000:04:00.0"))
    assert lines[te420 + 2].strip().startswith("span 1 (local span 1): E1 PRI cpe, euroisdn, ccs/hdb3/crc4")
    assert "DAHDI trunk telco" in result.output
    a8b = next(i for i, ln in enumerate(lines) if ln.startswith("pci:0000:03:00.0"))
    assert lines[a8b + 2].strip() == "port 1, channel 1: FXS -> extension 100"
    assert "telco: DAHDI/g1, ascending, calls in go to inbound routes; span 1" in result.output


def test_show_without_a_scan_says_so(install):
    result = cli(install, "hardware", "show")
    assert "no hardware scan stored yet: run 'linebox hardware scan'" in result.output


def test_spans_reports_alarms_counters_and_advice(install, tmp_path):
    root = make_fake_sysfs(tmp_path / "sys")
    proc = tmp_path / "proc-dahdi"
    proc.mkdir()
    (proc / "2").write_text('Span 2: TE4/0/2 "T4XXP (PCI) Card 0 Span 2" HDB3/CCS/CRC4 RED LOS\n\n'
                            "\tIRQ misses: 0\n\tBPV count: 12\n\tCRC4 error count: 3\n\n")
    result = cli(install, "spans", "--sysfs", str(root), "--proc", str(proc))
    readable(result.output)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("span 1   TE4/0/1") and lines[0].endswith("OK")
    span2 = next(i for i, ln in enumerate(lines) if ln.startswith("span 2 "))
    assert "ALARM LOS,RED" in lines[span2]
    assert "errors: bpv 12, crc4 3" in result.output
    assert "RED alarm on span 2" in re.sub(r"\n +", " ", result.output)


def test_spans_without_dahdi_says_what_to_check(install, tmp_path):
    result = cli(install, "spans", "--sysfs", str(tmp_path))
    assert result.exit_code == 1
    assert "no DAHDI spans" in result.output


def test_gateways_lists_ports_and_bindings_even_when_asterisk_is_down(install):
    service.save_settings({"ami_port": 1}, U)  # nothing listens there: Asterisk "down"
    service.save_object("extension", {"number": "100", "name": "Desk"}, U, create=True)
    gateways.adopt("000b82000001", "ht802", U, name="Lobby", address="10.0.0.9")
    gateways.bind_fxs("000b82000001", 1, "100", U)
    result = cli(install, "gateways")
    readable(result.output)
    assert result.exit_code == 0, result.output
    assert "Asterisk not reachable" in result.output
    assert "000b82000001  ht802" in result.output
    assert any(ln.split()[:5] == ["port", "1", "FXS", "extension", "100"] and ln.endswith("unknown")
               for ln in result.output.splitlines())
    assert any(ln.split()[:4] == ["port", "2", "FXS", "unbound"] for ln in result.output.splitlines())
