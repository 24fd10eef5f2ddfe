"""The systemd units: ``systemd-analyze verify`` passes on every one, and their exposure stays low."""

from __future__ import annotations

import shutil

import pytest

from appliance.services import units


@pytest.fixture(autouse=True)
def _systemd_analyze():
    assert shutil.which("systemd-analyze"), "systemd-analyze (Debian package systemd) is needed"


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    return units.stage_root(tmp_path_factory.mktemp("units-root"))


def test_every_unit_verifies(staged):
    result = units.verify(staged)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_verify_catches_a_broken_unit(staged):
    """The check itself works: a mistyped setting or a missing program is reported."""
    web = staged / "etc/systemd/system/linebox-web.service"
    good = web.read_text()
    try:
        web.write_text(good.replace("Type=notify", "Type=notifi"))
        assert "Failed to parse service type" in units.verify(staged, ("linebox-web.service",)).stderr
        web.write_text(good.replace("/opt/linebox/bin/linebox", "/opt/linebox/bin/nothing"))
        assert units.verify(staged, ("linebox-web.service",)).returncode != 0
    finally:
        web.write_text(good)


def test_units_say_what_the_design_asks(staged):
    web = units.UNITS["linebox-web.service"].read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=on-failure", "User=linebox", "StateDirectory=linebox",
                 "ProtectSystem=strict", "ReadWritePaths=/var/lib/linebox", "PrivateTmp=yes", "NoNewPrivileges=yes",
                 "ProtectHome=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                 "SystemCallFilter=@system-service"):
        assert f"\n{line}\n" in web, line
    assert "After=network-online.target linebox-apply.service asterisk.service" in web
    dropin = units.UNITS["asterisk.service.d/linebox.conf"].read_text()
    assert "\nExecStart=\nExecStart=/usr/sbin/asterisk" in dropin
    assert "-C /var/lib/linebox/asterisk/live/asterisk.conf" in dropin
    assert "After=linebox-apply.service linebox-dahdi.service" in dropin


@pytest.mark.parametrize(("unit", "ceiling"), [("linebox-web.service", 2.0), ("linebox-apply.service", 1.0),
                                               ("linebox-collector.service", 2.0),
                                               ("linebox-agi.service", 1.5),
                                               ("linebox-dahdi.service", 3.5),
                                               ("linebox-dahdi-reload.service", 1.5), ("asterisk.service", 7.5)])
def test_exposure_stays_low(staged, unit, ceiling):
    score = units.security(staged, unit)
    assert score.exposure <= ceiling, "\n".join(score.details)


def test_the_dahdi_reload_path_is_least_privilege(staged):
    """Root, but only CAP_SYS_ADMIN (DAHDI's ioctls) and the DAHDI device; it reads the live generation as
    group asterisk, writes only its own answer folder and removes requests from /run/linebox-dahdi."""
    service = units.UNITS["linebox-dahdi-reload.service"].read_text()
    for line in ("Type=oneshot", "ExecStart=/usr/local/sbin/linebox-dahdi-reload",
                 "CapabilityBoundingSet=CAP_SYS_ADMIN", "SupplementaryGroups=asterisk",
                 "RuntimeDirectory=linebox-dahdi-reload", "RuntimeDirectoryPreserve=yes",
                 "ReadWritePaths=/run/linebox-dahdi", "DevicePolicy=closed", "DeviceAllow=char-dahdi rw",
                 "ProtectSystem=strict", "PrivateNetwork=yes", "NoNewPrivileges=yes", "After=linebox-dahdi.service"):
        assert f"\n{line}\n" in service, line
    assert "\n[Install]\n" not in service  # started by its path unit only
    path = units.UNITS["linebox-dahdi-reload.path"].read_text()
    assert "\nPathExistsGlob=/run/linebox-dahdi/request.*\n" in path and "\nWantedBy=multi-user.target\n" in path
    web = units.UNITS["linebox-web.service"].read_text()
    assert "\nReadWritePaths=-/run/linebox-dahdi\n" in web
    boot = units.UNITS["linebox-dahdi.service"].read_text()
    assert "\nSupplementaryGroups=asterisk\n" in boot and "linebox-apply.service" in boot
