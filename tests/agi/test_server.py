"""The FastAGI server over real TCP, spoken to as Asterisk speaks (environment, then replies to commands)."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from appliance.agi import caller_name
from appliance.agi.protocol import quote
from appliance.agi.server import health_check
from appliance.phonebook import contacts as phonebook
from appliance.services.agi import make_server
from appliance.site import service


@pytest.fixture
def agi_server(install):
    server = make_server("127.0.0.1", 0).start()
    yield server
    server.close()


def call(server, script: str = "caller-name", callerid: str = "+442079460018", name: str = "",
         answer: bytes = b"200 result=1\n") -> list[str]:
    """Connect like Asterisk's AGI(); return the commands the server sent before it hung up."""
    env = (f"agi_network: yes\nagi_network_script: {script}\nagi_request: agi://127.0.0.1/{script}\n"
           f"agi_channel: PJSIP/telco-00000001\nagi_uniqueid: 1700000000.1\nagi_callerid: {callerid}\n"
           f"agi_calleridname: {name}\n\n")
    commands = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(env.encode())
        reader = sock.makefile("rb")
        while line := reader.readline():
            commands.append(line.decode().rstrip("\n"))
            sock.sendall(answer)
    return commands


def test_a_caller_in_the_phonebook_is_named(agi_server, caplog):
    anna = phonebook.create_contact({"name": "Anna Berg", "company": "Acme", "numbers": ["+44 20 7946 0018"]}, "t")
    with caplog.at_level(logging.INFO, logger="linebox.agi.caller-name"):
        assert call(agi_server) == ['SET VARIABLE CALLERID(name) "Anna Berg (Acme)"',
                                    f'SET VARIABLE LINEBOX_CONTACT_ID "{anna["id"]}"']
    record = next(r for r in caplog.records if getattr(r, "LINEBOX_EVENT", "") == "caller-name")
    fields = {k: v for k, v in vars(record).items() if k.startswith("LINEBOX_")}
    assert fields["LINEBOX_RESULT"] == "match" and fields["LINEBOX_CALLER"] == "+442079460018"
    assert fields["LINEBOX_CONTACT_ID"] == str(anna["id"]) and fields["LINEBOX_UNIQUEID"] == "1700000000.1"


def test_the_site_country_code_matches_the_national_form(agi_server):
    phonebook.create_contact({"name": "Anna Berg", "numbers": ["+44 20 7946 0018"]}, "t")
    assert call(agi_server, callerid="02079460018") == []
    service.save_settings({"country_code": "44"}, user="t")
    assert call(agi_server, callerid="02079460018")[0] == 'SET VARIABLE CALLERID(name) "Anna Berg"'


def test_unknown_callers_anonymous_calls_and_lookup_off_leave_the_call_alone(agi_server):
    phonebook.create_contact({"name": "Anna Berg", "numbers": ["+44 20 7946 0018"]}, "t")
    assert call(agi_server, callerid="+15550001111") == []
    assert call(agi_server, callerid="") == []
    assert call(agi_server, callerid="anonymous") == []
    service.save_settings({"caller_name_lookup": False}, user="t")
    assert call(agi_server) == []


def test_a_slow_lookup_is_given_up_within_the_bound(agi_server, monkeypatch):
    def slow(number):
        time.sleep(3)
        return True, {"id": 1, "name": "Too Late", "company": ""}
    monkeypatch.setattr(caller_name, "find", slow)
    started = time.monotonic()
    assert call(agi_server) == []
    assert time.monotonic() - started < caller_name.LOOKUP_SECONDS + 1


def test_database_trouble_leaves_the_call_alone(agi_server, monkeypatch):
    def broken(number):
        raise OSError("unable to open database file")
    monkeypatch.setattr(caller_name, "find", broken)
    assert call(agi_server) == []


def test_names_are_quoted_for_the_agi_command_line(agi_server):
    phonebook.create_contact({"name": 'Ann "The Boss" O\\Neil', "numbers": ["+44 20 7946 0018"]}, "t")
    assert call(agi_server)[0] == r'SET VARIABLE CALLERID(name) "Ann \"The Boss\" O\\Neil"'
    assert quote("two\nlines") == '"twolines"'


def test_health_check_unknown_scripts_and_broken_peers(agi_server):
    assert health_check("127.0.0.1", agi_server.port)
    assert call(agi_server, script="no-such-script") == []
    with socket.create_connection(("127.0.0.1", agi_server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert sock.makefile("rb").readline() == b""  # not AGI: closed at once
    assert health_check("127.0.0.1", agi_server.port)  # and still serving


def test_many_calls_at_once_are_served_in_parallel(agi_server):
    from concurrent.futures import ThreadPoolExecutor
    phonebook.create_contact({"name": "Anna Berg", "numbers": ["+44 20 7946 0018"]}, "t")
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: call(agi_server), range(40)))
    assert all(r and r[0] == 'SET VARIABLE CALLERID(name) "Anna Berg"' for r in results)
