"""Status gathering (parsing AMI answers, surviving failures) and the console server's start/close."""

from __future__ import annotations

import socket
import threading
import urllib.request

import pytest
from flask import Flask

from appliance.asterisk.ami import AmiError
from appliance.services.http_server import make_server
from appliance.support import status

VERSION = "Asterisk 22.5.2~dfsg+~cs6.15.60671435-1 built by debian @ debian on a x86_64 running Linux"
UPTIME = "System uptime: 2 hours, 5 minutes, 3 seconds\nLast reload: 12 minutes, 1 second"


class StubAmi:
    """Stands in for AMI answers only; the real AMI path is covered by the lab tests."""

    def __init__(self, answers: dict[str, str] | None = None, error: Exception | None = None):
        self.answers, self.error = answers or {}, error

    def __enter__(self):
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc):
        return None

    def command(self, text: str) -> str:
        return self.answers[text]


class StubInstall:
    def __init__(self, ami: StubAmi):
        self.ami = ami
        self.timeouts: list[float] = []
        self.users: list[str | None] = []

    def connect_ami(self, timeout: float = 30, user: str | None = None) -> StubAmi:
        self.timeouts.append(timeout)
        self.users.append(user)
        return self.ami


def test_asterisk_status_reads_version_uptime_and_calls():
    install = StubInstall(StubAmi({"core show version": VERSION, "core show uptime": UPTIME,
                                   "core show channels count": "1 active channel\n1 active call\n7 calls processed",
                                   "pjsip show endpoints like ^[a-z]": "", "pjsip show registrations": ""}))
    result = status.asterisk_status(install)
    assert result.reachable
    assert result.version == "22.5.2"
    assert result.uptime == "2 hours, 5 minutes, 3 seconds"
    assert result.active_calls == 1
    # the phones' contacts are read apart, as the user allowed PJSIPShowContacts; this stand-in answers no
    # AMI action, so they are unknown and the rest of the status stands
    assert install.timeouts == [3, 3] and install.users == [None, "linebox-status"]
    assert result.contacts == [] and result.contacts_error


@pytest.mark.parametrize("error", [AmiError("cannot reach AMI"), ConnectionResetError("reset"), KeyError("x")])
def test_asterisk_status_never_raises(error):
    result = status.asterisk_status(StubInstall(StubAmi(error=error)))
    assert not result.reachable and result.error


def test_host_figures(tmp_path):
    host = status.host_status(str(tmp_path))
    assert 0 < host.memory_used <= host.memory_total
    assert host.disk_total > 0 and host.uptime_seconds > 0


def test_human_units():
    assert status.human_bytes(512) == "512 B"
    assert status.human_bytes(3 * 1024**3) == "3.0 GiB"
    assert status.human_duration(59) == "0 min"
    assert status.human_duration(3 * 86400 + 2 * 3600 + 61) == "3 d 2 h 1 min"


def test_server_serves_in_a_thread_and_closes_completely():
    app = Flask("probe")
    app.add_url_rule("/", "index", lambda: "hello")
    before = set(threading.enumerate())
    server = make_server(app, "127.0.0.1", 0)
    thread = server.start()
    with urllib.request.urlopen(server.url + "/", timeout=5) as response:
        assert response.read() == b"hello"
    server.close()
    assert not thread.is_alive()
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass


def test_server_closes_without_having_run():
    server = make_server(Flask("probe"), "127.0.0.1", 0)
    server.close()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass
