"""The pieces of the services: the TLS server's resilience, sd_notify's fallback, init-system, boot apply."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import stat
import sys
import threading
import time
import urllib.request

import pytest
from flask import Flask

from appliance.install import Install
from appliance.services import boot, journal, notify, system, tls
from appliance.services.http_server import make_server


@pytest.fixture
def tls_files(tmp_path):
    return tls.ensure(tmp_path / "tls")


@pytest.fixture
def tls_server(tls_files):
    app = Flask("probe")
    app.add_url_rule("/", "index", lambda: "hello")
    before = set(threading.enumerate())
    server = make_server(app, "127.0.0.1", 0, certificate=tls_files.certificate, private_key=tls_files.private_key)
    server.start()
    yield server
    server.close()
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]


def _https_get(server, cafile, timeout=5) -> bytes:
    context = ssl.create_default_context(cafile=str(cafile))
    with urllib.request.urlopen(server.url + "/", context=context, timeout=timeout) as response:
        assert response.headers["Server"] == "Linebox"
        return response.read()


def test_certificate_is_made_once_with_a_private_key(tmp_path):
    first = tls.ensure(tmp_path / "tls", hostname="pbx.example.lan")
    assert first.created
    assert stat.S_IMODE(first.private_key.stat().st_mode) == 0o600
    assert "CN=pbx.example.lan" in tls.describe(first.certificate)
    again = tls.ensure(tmp_path / "tls")
    assert not again.created and again.certificate.read_bytes() == first.certificate.read_bytes()
    first.private_key.unlink()  # half of an admin's replacement: refuse, never overwrite the other half
    with pytest.raises(FileNotFoundError, match="key.pem"):
        tls.ensure(tmp_path / "tls")


def test_tls_server_answers_with_a_verified_certificate(tls_server, tls_files):
    assert tls_server.url.startswith("https://127.0.0.1:")
    assert _https_get(tls_server, tls_files.certificate) == b"hello"
    assert tls_server.check()


def test_silent_clients_do_not_stall_the_tls_server(tls_server, tls_files):
    """Connections that never send a ClientHello hold neither the accept loop nor a worker thread."""
    silent = [socket.create_connection(("127.0.0.1", tls_server.port)) for _ in range(8)]  # more than the threads
    try:
        time.sleep(0.2)
        start = time.monotonic()
        assert _https_get(tls_server, tls_files.certificate, timeout=3) == b"hello"
        assert time.monotonic() - start < 2
    finally:
        for s in silent:
            s.close()


def test_plain_http_on_the_tls_port_is_told_to_use_https(tls_server, tls_files):
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400") and b"HTTPS only" in answer
    assert _https_get(tls_server, tls_files.certificate) == b"hello"


@pytest.mark.parametrize("abstract", [False, True])
def test_notify_fallback_writes_the_datagram_itself(tmp_path, monkeypatch, abstract):
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = f"@linebox-test-{os.getpid()}" if abstract else str(tmp_path / "notify")
    receiver.bind("\0" + address[1:] if abstract else address)
    receiver.settimeout(2)
    monkeypatch.setattr(notify, "_daemon", None)
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    try:
        assert notify.notify("READY=1", "STATUS=hello")
        assert receiver.recv(1024) == b"READY=1\nSTATUS=hello"
    finally:
        receiver.close()
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not notify.notify("READY=1")


def test_watchdog_interval_and_pings(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert notify.watchdog_interval() == 15
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert notify.watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")

    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(tmp_path / "notify"))
    receiver.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    healthy = [True]
    dog = notify.Watchdog(lambda: healthy[0], 0.05).start()
    try:
        assert receiver.recv(64) == b"WATCHDOG=1"
        healthy[0] = False
        time.sleep(0.2)
        pings = dog.pings
        time.sleep(0.2)
        assert dog.pings == pings  # an unhealthy service is not pinged: systemd will restart it
    finally:
        dog.stop()
        receiver.close()


def test_journal_setup(monkeypatch, capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
        assert type(journal.setup("linebox-test")).__name__ == "StreamHandler"
        monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
        monkeypatch.setitem(sys.modules, "systemd.journal", None)  # python-systemd missing: priority prefixes
        journal.setup("linebox-test")
        logging.getLogger("probe").warning("two\nlines")
        assert capsys.readouterr().err == "<4>probe: two\n<4>lines\n"
    finally:
        root.handlers[:], root.level = saved


def _modes(home):
    return {str(p.relative_to(home)): stat.S_IMODE(p.lstat().st_mode) for p in [home, *home.rglob("*")]
            if not p.is_symlink()}


def test_init_system_makes_a_complete_install_once(tmp_path):
    home, password_file = tmp_path / "lib" / "linebox", tmp_path / "root" / "first-login.txt"
    lines: list[str] = []
    report = system.init_system(home, user=None, asterisk_group=None, password_file=password_file, say=lines.append)
    assert report.changed and report.password
    assert report.password in password_file.read_text()
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600

    install = Install.load(home)
    live = home / "asterisk" / "live"
    assert install.asterisk_directories["astetcdir"] == str(live)
    assert f"astetcdir => {live}" in (live / "asterisk.conf").read_text()
    modes = _modes(home)
    assert modes["."] == 0o751 and modes["tls"] == 0o700 and modes["tls/key.pem"] == 0o600
    assert modes["asterisk"] == 0o2750 and modes["linebox.db"] & 0o007 == 0
    assert all(m & 0o007 == 0 for name, m in modes.items() if name.startswith("asterisk/"))

    lines.clear()
    again = system.init_system(home, user=None, asterisk_group=None, password_file=password_file, say=lines.append)
    assert not again.changed and lines == [f"{system.NOTHING_TO_DO}: {home} is initialised"]
    assert report.password in password_file.read_text()  # the one-time password is not replaced


def test_init_system_gives_the_install_to_the_service_user(tmp_path):
    import grp
    import pwd
    home = tmp_path / "linebox"
    system.init_system(home, user="nobody", asterisk_group="nogroup", password_file=tmp_path / "pw", say=print)
    nobody, nogroup = pwd.getpwnam("nobody"), grp.getgrnam("nogroup").gr_gid
    generation = (home / "asterisk" / "live").resolve()
    assert home.stat().st_uid == nobody.pw_uid and (home / "linebox.db").stat().st_uid == nobody.pw_uid
    assert (generation / "pjsip.conf").stat().st_gid == nogroup
    assert (tmp_path / "pw").stat().st_uid == 0
    with pytest.raises(system.InitError, match="no user"):
        system.init_system(home, user="no-such-user-here", asterisk_group=None, password_file=tmp_path / "pw")


def test_boot_renders_a_live_generation_only_when_none_is_live(tmp_path):
    home = tmp_path / "linebox"
    system.init_system(home, user=None, asterisk_group=None, password_file=tmp_path / "pw", say=lambda _: None)
    live = home / "asterisk" / "live"
    first = live.resolve()
    assert boot.main(["--home", str(home)]) == 0
    assert live.resolve() == first  # kept: the last generation Asterisk accepted
    live.unlink()
    assert boot.main(["--home", str(home)]) == 0
    assert live.resolve() != first and (live / "asterisk.conf").is_file()
    assert boot.main(["--home", str(tmp_path / "none")]) == 1
