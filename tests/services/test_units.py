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
                                               ("linebox-bans.service", 2.5),
                                               ("linebox-provision.service", 1.5),
                                               ("linebox-webhooks.service", 2.0),
                                               ("linebox-robot.service", 2.0),
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


def test_the_provisioning_server_needs_no_capability_unless_its_port_is_below_1024(staged, tmp_path):
    """linebox-provision.service: Type=notify with a watchdog, no capability at 8080; the role's low-port drop-in
    adds CAP_NET_BIND_SERVICE and nothing else, and still verifies."""
    service = units.UNITS["linebox-provision.service"].read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=on-failure", "User=linebox", "CapabilityBoundingSet=",
                 "EnvironmentFile=-/etc/linebox/provision.env", "ReadWritePaths=/var/lib/linebox",
                 "ExecStart=/opt/linebox/bin/linebox --home /var/lib/linebox provision-serve", "PrivateUsers=yes",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "SystemCallFilter=@system-service"):
        assert f"\n{line}\n" in service, line
    assert "\nAmbientCapabilities=" not in service
    assert "\nEnvironmentFile=-/etc/linebox/provision.env\n" in units.UNITS["linebox-web.service"].read_text()

    root = units.stage_root(tmp_path / "low-port-root")
    dropin = root / "etc/systemd/system/linebox-provision.service.d/low-port.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_text((units.ROLES / "linebox" / "files" / "linebox-provision-low-port.conf").read_text())
    result = units.verify(root, ("linebox-provision.service",))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    low = units.security(root, "linebox-provision.service")
    assert low.exposure <= 2.0, "\n".join(low.details)
    assert any("CAP_NET_(BIND_SERVICE" in d for d in low.details)
    assert not any("CAP_NET_(BIND_SERVICE" in d for d in units.security(staged, "linebox-provision.service").details)


def test_the_ban_service_may_change_the_firewall_and_nothing_more():
    """nft needs CAP_NET_ADMIN and a netlink socket; the ban service gets those and no other capability."""
    service = units.UNITS["linebox-bans.service"].read_text()
    for line in ("Type=notify", "User=linebox", "CapabilityBoundingSet=CAP_NET_ADMIN",
                 "AmbientCapabilities=CAP_NET_ADMIN",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK", "NoNewPrivileges=yes",
                 "ExecStart=/opt/linebox/bin/linebox --home /var/lib/linebox bans watch"):
        assert f"\n{line}\n" in service, line
