"""The extension list says whether each phone is registered, and where, from the lab's real Asterisk 22.

The carrier plays the phones: it registers every extension stored when it starts. An extension added
after has no phone (not registered); a phone that stops answering Asterisk's qualify is unreachable.
"""

from __future__ import annotations

import re
import signal
import time

import pytest
import requests

from appliance.access import accounts
from appliance.services.http_server import make_server
from appliance.web.app import create_app
from tests.lab.helpers import add

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PASSWORD = "correct horse battery"


def registration_cells(session: requests.Session, url: str) -> dict[str, tuple[str, str]]:
    """Each extension row of the list: number -> (state, addresses)."""
    page = session.get(f"{url}/extensions/").text
    out = {}
    for key, state, cell in re.findall(r'<tr data-key="(\d+)">.*?<td class="registration" data-state="([^"]+)"'
                                       r'[^>]*>(.*?)</td>', page, re.S):
        addresses = ", ".join(re.findall(r'<span class="address">([^<]+)</span>', cell))
        out[key] = (state, addresses)
    return out


def test_the_extension_list_shows_each_phones_registration(pbx, carrier):
    add("extension", number="100", name="Alice")
    add("extension", number="101", name="Bob")
    pbx.apply()
    phones = carrier()  # registers 100 and 101
    add("extension", number="102", name="No phone yet")
    pbx.apply()

    accounts.ensure_first_admin()
    accounts.set_password("admin", PASSWORD, actor="test")
    server = make_server(create_app(pbx.install), "127.0.0.1", 0)
    server.start()
    try:
        session = requests.Session()
        token = TOKEN.search(session.get(f"{server.url}/login").text).group(1)
        session.post(f"{server.url}/login", data={"csrf_token": token, "username": "admin", "password": PASSWORD})

        phone_at = f"127.0.0.1:{phones.phones_port}"  # the carrier's phones transport, the contact's address
        cells = registration_cells(session, server.url)
        assert cells == {"100": ("registered", phone_at), "101": ("registered", phone_at),
                         "102": ("not registered", "")}, cells

        # the phones stop answering (frozen, not unregistered): Asterisk's next qualify finds them unreachable
        phones.instance.process.send_signal(signal.SIGSTOP)
        try:
            pbx.cli("pjsip qualify 100")
            deadline = time.monotonic() + 20
            while (cells := registration_cells(session, server.url))["100"][0] != "unreachable":
                assert time.monotonic() < deadline, f"100 never shown unreachable: {cells}"
                time.sleep(0.5)
            assert cells["100"] == ("unreachable", phone_at)
        finally:
            phones.instance.process.send_signal(signal.SIGCONT)
    finally:
        server.close()
        accounts.throttle.clear()
