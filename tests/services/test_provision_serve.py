"""``linebox provision-serve`` for real: the gateways' provisioning server as systemd runs it.

The test plays systemd as for the console (``NOTIFY_SOCKET``, ``WATCHDOG_USEC``), sets the port the
way ``/etc/linebox/provision.env`` does (``LINEBOX_PROVISION_PORT``), waits for ``READY=1``, fetches
an adopted gateway's file over plain HTTP (in its adoption window; the file carries its credential),
gets 404 for an unknown MAC (which then shows in the adoption list) and 403 for a wrong provisioning
password, counts watchdog pings (each one a real
request to ``/-/alive``), and stops the service with SIGTERM: ``STOPPING=1`` and exit 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from appliance.gateways import service as gateways
from appliance.install import Install
from appliance.model.database import close_database
from appliance.model.models import Gateway
from appliance.site import service
from hardware import gateways as catalogue
from tests.services.test_serve import ROOT, FakeSystemd, _free_port, _stop, home  # noqa: F401  (fixture)

MAC = "000b82aa0102"


def _fetch(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "Grandstream HT802"}),
                                    timeout=10) as response:
            return response.status, response.read().decode(), response.headers.get("Cache-Control", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers.get("Cache-Control", "")


def _adopt_ht802(folder: Path) -> str:
    Install.load(folder).open()
    try:
        service.save_object("extension", {"number": "100", "name": "Lobby"}, "test", create=True)
        gateways.adopt(MAC, "ht802", "test", name="Lobby ATA")
        gateways.bind_fxs(MAC, 1, "100", "test")
        return service.get_object("extension", "100").password
    finally:
        close_database()


def _credential(folder: Path) -> str:
    Install.load(folder).open()
    try:
        return Gateway.get(Gateway.mac == MAC).credential
    finally:
        close_database()


def test_provision_serve_serves_adopted_macs_logs_unknown_ones_and_stops_on_sigterm(home, tmp_path):  # noqa: F811
    password = _adopt_ht802(home)
    port = _free_port()
    systemd = FakeSystemd(tmp_path / "notify.sock")
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "LISTEN_PID", "LISTEN_FDS")}
    env.update(NOTIFY_SOCKET=str(systemd.path), WATCHDOG_USEC="1000000", PYTHONUNBUFFERED="1",
               LINEBOX_PROVISION_ADDRESS="127.0.0.1", LINEBOX_PROVISION_PORT=str(port))  # as provision.env sets them
    log = tmp_path / "provision.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "--home", str(home), "provision-serve"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        systemd.wait_for("READY=1", 30, proc)
        assert f"STATUS=serving the provisioning server on http://127.0.0.1:{port}" in "\n".join(systemd.messages)

        status, body, cache = _fetch(f"http://127.0.0.1:{port}/provision/cfg{MAC}.xml")
        assert (status, cache) == (200, "no-store")
        parsed = catalogue.parse(catalogue.get_model("ht802"), body)
        assert (parsed.port(1).user_id, parsed.port(1).password) == ("100", password)
        assert parsed.provisioning_url == f"http://127.0.0.1:{port}/provision/{_credential(home)}"
        assert _fetch(f"http://127.0.0.1:{port}/provision/cfg{MAC}.xml")[0] == 403  # the window is used

        status, body, cache = _fetch(f"http://127.0.0.1:{port}/provision/cfg000b82bb0304.xml")
        assert (status, cache) == (404, "no-store") and password not in body
        assert _fetch(f"http://127.0.0.1:{port}/login")[0] == 404  # nothing of the console here

        systemd.wait_for("WATCHDOG=1", 5, proc)
        systemd.wait_for("WATCHDOG=1", 5, proc)
        assert _stop(proc, systemd) < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        systemd.close()

    Install.load(home).open()
    try:
        assert [u["mac"] for u in gateways.unknown_devices()] == ["000b82bb0304"]
        assert gateways.unknown_devices()[0]["user_agent"] == "Grandstream HT802"
    finally:
        close_database()
    text = log.read_text()
    assert "provisioning server listening on" in text and "refused (404)" in text and "Traceback" not in text


def test_provision_serve_refuses_a_wrong_password_and_fails_cleanly_on_a_taken_port(home, tmp_path):  # noqa: F811
    _adopt_ht802(home)
    Install.load(home).open()
    try:
        gateways.set_provisioning_password("prov-secret-123456", "test")
        gateways.close_adoption_window(MAC, "test")
    finally:
        close_database()
    port = _free_port()
    systemd = FakeSystemd(tmp_path / "notify.sock")
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "LISTEN_PID", "LISTEN_FDS")}
    env.update(NOTIFY_SOCKET=str(systemd.path))
    command = [sys.executable, "-m", "appliance.cli", "--home", str(home), "provision-serve", "--address",
               "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        systemd.wait_for("READY=1", 30, proc)
        assert _fetch(f"http://127.0.0.1:{port}/provision/wrong-secret-1234/cfg{MAC}.xml")[0] == 403
        status, body, _ = _fetch(f"http://127.0.0.1:{port}/provision/prov-secret-123456/cfg{MAC}.xml")
        assert status == 200  # the install's older shared password still works; the file moves it to its own
        url = catalogue.parse(catalogue.get_model("ht802"), body).provisioning_url
        assert url == f"http://127.0.0.1:{port}/provision/{_credential(home)}"

        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and "cannot start the provisioning server" in second.stderr
        assert "Traceback" not in second.stderr
        _stop(proc, systemd)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        systemd.close()
