"""The extension list's registration column: one AMI question per page, "unknown" without Asterisk.

The lab test (tests/lab/test_console_registration.py) reads real phones' contacts from Asterisk 22; here
AMI is either absent (nothing listens on its port) or a stand-in that answers ``PJSIPShowContacts`` as
Asterisk does and counts the actions it is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.site import service
from tests.web.test_pages import login


def registrations(body: str) -> dict[str, tuple[str, str, str]]:
    """number -> (state, addresses, reason) of each row."""
    out = {}
    for key, state, title, cell in re.findall(
            r'<tr data-key="(\d+)">.*?<td class="registration" data-state="([^"]+)"(?: title="([^"]*)")?>(.*?)</td>',
            body, re.S):
        out[key] = (state, ", ".join(re.findall(r'<span class="address">([^<]+)</span>', cell)), title)
    return out


@dataclass
class Event:
    headers: dict


class FakeAmi:
    """Answers PJSIPShowContacts with ContactList events, as Asterisk 22 does, and counts every action."""

    actions: list[str] = []
    contacts = [("100", "sip:100@192.0.2.10:5062;transport=udp", "Reachable"),
                ("101", "sip:101@192.0.2.11:5060", "Unreachable"),
                ("102", "sip:102@[2001:db8::5]:5060;ob", "NonQualified"),
                ("102", "sip:102@192.0.2.12:5060", "Unreachable")]

    def __init__(self):
        self.handlers: dict[str, list] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def on_event(self, name, callback):
        self.handlers.setdefault(name, []).append(callback)

    def action(self, name, **fields):
        FakeAmi.actions.append(name)
        assert name == "PJSIPShowContacts"
        for aor, uri, status in self.contacts:
            for callback in self.handlers.get("ContactList", []):
                callback(Event({"ActionID": fields["ActionID"], "ObjectName": f"{aor};@0a1b2c", "Uri": uri,
                                "Status": status, "RoundtripUsec": "512"}), None)
        for callback in self.handlers.get("ContactListComplete", []):
            callback(Event({"ActionID": fields["ActionID"]}), None)


def test_without_asterisk_every_phone_is_unknown_and_the_list_opens(console, admin_password):
    browser = login(console, "admin")
    response = browser.get("/extensions/")
    assert response.status == 200
    rows = registrations(response.body)
    assert set(rows) == {"100", "101"}
    for state, addresses, reason in rows.values():
        assert (state, addresses) == ("unknown", "")
        assert reason.startswith("Asterisk could not be asked")  # said quietly on the cell, not as an error
    assert 'role="alert"' not in response.body and 'class="flash error"' not in response.body


def test_one_ami_question_per_page_whatever_the_rows(console, admin_password, install, monkeypatch):
    for number in range(102, 160):
        service.save_object("extension", {"number": str(number), "name": f"Desk {number}"}, "test", create=True)
    FakeAmi.actions = []
    monkeypatch.setattr(install, "connect_ami", lambda timeout=30, user=None: FakeAmi())
    browser = login(console, "admin")
    rows = registrations(browser.get("/extensions/").body)
    assert len(rows) == 50 and FakeAmi.actions == ["PJSIPShowContacts"]
    assert rows["100"][:2] == ("registered", "192.0.2.10:5062")
    assert rows["101"][:2] == ("unreachable", "192.0.2.11:5060")
    assert rows["102"][:2] == ("registered", "[2001:db8::5]:5060")  # one contact answering is enough
    assert rows["103"][:2] == ("not registered", "")
    assert browser.get("/trunks/").status == 200 and FakeAmi.actions == ["PJSIPShowContacts"]  # other lists: none
