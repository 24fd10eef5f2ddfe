"""Shared fixtures: a fresh database per test, and the lab's real Asterisk instances.

``pbx`` is the appliance's Asterisk running the configuration Linebox
generated; ``carrier`` is a factory for the second Asterisk that plays the
phones and the telephone company.  Both are stopped by PID at teardown,
whatever the test did; their mounts live in private namespaces and vanish
with the processes.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.install import Install
from appliance.model.database import close_database
from appliance.provisioning import apply
from appliance.site import service

REFERENCE_SITE = Path(__file__).parent / "data" / "reference-site.yaml"


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL cluster, started the first time a test asks for it, stopped by its PID at the
    end of the session (tests/postgres.py)."""
    from tests.postgres import Cluster
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def pytest_generate_tests(metafunc):
    """A test marked ``both_engines`` runs twice: its ``install`` on SQLite, then on PostgreSQL."""
    if metafunc.definition.get_closest_marker("both_engines") and "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def engine(request):
    """The database engine of this test's ``install``: SQLite unless the test is marked ``both_engines``."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(engine, request):
    """For a test run on PostgreSQL, the URL of an emptied, migrated PostgreSQL database; "" on SQLite."""
    if engine != "postgresql":
        return ""
    return request.getfixturevalue("postgres_cluster").emptied_database()


@pytest.fixture
def install(tmp_path, database_url):
    """An install with an empty, migrated database (SQLite, or PostgreSQL under ``both_engines``) and no
    Asterisk."""
    inst = Install.create(tmp_path / "home", manage_asterisk=False, dahdi_root=tmp_path / "etc" / "dahdi",
                          modprobe_dir=tmp_path / "etc" / "modprobe.d", dahdi_cfg_command="",
                          database_url=database_url)
    inst.open()
    yield inst
    close_database()  # before the next test empties the PostgreSQL database


@pytest.fixture(scope="session")
def rootfs():
    if os.geteuid() != 0:
        pytest.fail("lab tests need root (chroot and mount namespaces): run them as root, as CI does")
    from lab import rootfs as rootfs_mod
    return rootfs_mod.build()


@dataclass
class Pbx:
    install: Install
    instance: object

    def apply(self, expect_ok: bool = True) -> apply.ApplyResult:
        result = apply.apply(service.snapshot(), self.install.facts(), self.install.target(), user="test")
        if expect_ok:
            assert result.ok, result.error + "\n" + "\n".join(map(str, result.steps))
        return result

    def cli(self, command: str) -> str:
        return self.instance.cli(command)


@pytest.fixture
def pbx(tmp_path, rootfs):
    from lab.pbx import start_pbx
    install, instance = start_pbx(tmp_path / "pbx-home", rootfs)
    try:
        yield Pbx(install, instance)
    finally:
        instance.stop()
        close_database()


def wait_reachable(pbx: Pbx, numbers: list[str], timeout: float = 30) -> None:
    """Until the pbx has qualified each of these phones (its endpoint no longer Unavailable): what a queue
    needs before it offers the phone a call.  A phone registering on an extension Asterisk met after it
    started is qualified within pjsip.conf's max_initial_qualify_time, not at once."""
    deadline = time.monotonic() + timeout
    while True:
        out = pbx.cli("pjsip show endpoints")
        states = dict(re.findall(r"^\s*Endpoint:\s+([^\s/]+)\S*\s+(.+?)\s{2,}", out, re.MULTILINE))
        if all(states.get(n, "Unavailable") != "Unavailable" for n in numbers):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"phones not reachable from the pbx after {timeout} s: {states}")
        time.sleep(0.2)


@pytest.fixture
def carrier(pbx, rootfs):
    """Start the carrier; it registers every extension stored in the pbx's database."""
    from lab.carrier import Phone, start_carrier
    started = []

    def make(trunk_accounts: list[tuple[str, str]] = ()):
        phones = [Phone(e.number, e.password) for e in service.list_objects("extension")]
        c = start_carrier(pbx.instance.sip_port, phones, rootfs, [Phone(u, p) for u, p in trunk_accounts])
        started.append(c)
        if phones:
            c.wait_registered([p.number for p in phones])
            wait_reachable(pbx, [p.number for p in phones])
        return c

    yield make
    for c in started:
        c.stop()
