"""What the console calls things: every title, heading, column, label, button and choice a user reads is words.

A label derived from an identifier reads "Ivr menu main", "Dahdi trunks", "Moh class" or "Wrapup seconds";
this walks every kind's list, new, edit and delete pages and every page of the navigation, with one object
of each kind stored, and fails on an identifier (snake_case) or an acronym cased as a word.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from appliance.site import kinds, service
from appliance.site.kinds import KINDS
from appliance.web import objectforms
from appliance.web.pages.common import SLUG_OF
from appliance.web.roles import NAVIGATION

# one valid object of every kind, each pointing at the others as a real site does
OBJECTS = [
    ("extension", {"number": "102", "name": "Desk 102"}),
    ("trunk", {"name": "telco", "host": "192.0.2.1"}),
    ("voicemail_box", {"number": "800", "name": "Sales box"}),
    ("ring_group", {"number": "600", "name": "Sales", "members": ["100"]}),
    ("moh_class", {"name": "calm", "directory": "/var/lib/moh"}),
    ("announcement", {"name": "welcome", "sound": "hello-world"}),
    ("queue", {"number": "500", "name": "Orders", "members": [{"extension": "100"}], "recording": "always"}),
    ("ivr", {"name": "main", "greeting": "hello-world", "options": [{"digit": "1", "destination": "queue:500"}]}),
    ("robot", {"name": "faq", "handover": "queue:500", "entries": [
        {"questions": "what are your opening hours; when are you open", "answer": "Nine to five.", "then": ""}]}),
    ("time_condition", {"name": "hours", "ranges": [{"days": "mon-fri", "start": "09:00", "end": "17:00"}],
                        "open_destination": "ivr:main", "closed_destination": "voicemail:800"}),
    ("dahdi_trunk", {"name": "pstn", "group": 1, "hunting": "round_robin_ascending"}),
    ("analog_port", {"channel": 1, "kind": "fxo", "trunk": "pstn"}),
    ("span", {"span": 1, "source": "loc", "loc": "1:0", "trunk": "pstn"}),
    ("inbound_route", {"name": "main-number", "did": "4001234567", "destination": "timecondition:hours"}),
    ("outbound_route", {"name": "national", "patterns": [{"match": "_0X."}], "trunks": ["telco"]}),
    ("cluster_node", {"name": "node-1", "address": "192.0.2.50", "standby": "node-2", "queues": ["500"]}),
]

SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")
# acronyms written as words ("Ivr"), or in lower case where they are not English words ("dahdi")
MISCASED = re.compile(r"\b(Ivr|Dahdi|Moh|Sip|Did|Cid|Pin|Dtmf|Ami|Agi|Rtp|Fxs|Fxo|Pri|Crc4|Lbo|Cdr|Id|Csv|Api|"
                      r"ivr|dahdi|moh|cid|dtmf|fxs|fxo|pjsip|crc4|lbo)\b")
READ_TAGS = {"title", "h1", "h2", "h3", "th", "label", "button", "dt", "legend", "option", "a"}


class Reader(HTMLParser):
    """The texts a user reads as names (titles, headings, column heads, labels, buttons, links, choices),
    and the table cells apart: a cell shows what the user stored."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.texts: list[tuple[str, str]] = []  # (tag, text)
        self.options: list[tuple[str, str, str]] = []  # (select id, value, text)
        self.rows: list[list[str]] = []  # the cells of each table row
        self._select = ""
        self._option = ""

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "select":
            self._select = attributes.get("id") or ""
        elif tag == "option":
            self._option = attributes.get("value") or ""
        elif tag == "tr":
            self.rows.append([])
        elif tag == "td" and self.rows:
            self.rows[-1].append("")
        if tag not in ("input", "meta", "link", "br", "img", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass
        if tag == "select":
            self._select = ""

    def handle_data(self, data):
        text = " ".join(data.split())
        if not text or not self.stack:
            return
        if "td" in self.stack and self.rows and self.rows[-1]:
            self.rows[-1][-1] = (self.rows[-1][-1] + " " + text).strip()
        if {"code", "script", "style", "td", "textarea", "pre"} & set(self.stack):
            return  # values (a destination, a pattern, a cell) are what the user stored, not names
        inner = next((t for t in reversed(self.stack) if t in READ_TAGS), None)
        if inner == "option":
            self.options.append((self._select, self._option, text))
        if inner:
            self.texts.append((inner, text))


def read(body: str) -> Reader:
    reader = Reader()
    reader.feed(body)
    return reader


def problems_in(path: str, body: str, select_fields: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    reader = read(body)
    out = [f"{path}: <{tag}> {text!r}" for tag, text in reader.texts
           if SNAKE.search(text) or MISCASED.search(text)]
    for select, value, text in reader.options:
        if select in (select_fields or {}) and value in select_fields[select] and not re.match(r"[A-Z0-9]", text):
            out.append(f"{path}: choice {value!r} of {select} reads {text!r}")  # "ringall", "on_demand"
    return out


@pytest.fixture
def site(console):
    for kind, data in OBJECTS:
        service.save_object(kind, data, "test", create=True)
    assert {kind for kind, _ in OBJECTS} == set(KINDS), "every kind has an object in this test"


def test_every_kind_and_field_has_a_written_label():
    """No label is derived from an identifier: each field of each kind is named in the one table."""
    unnamed = [f"{kind}.{name}" for kind, k in KINDS.items() for name in k.schema.model_fields
               if (kind, name) not in kinds.FIELD_LABELS_OF_KIND and name not in kinds.FIELD_LABELS]
    assert unnamed == []


def test_every_object_page_and_every_console_page_reads_as_words(console, admin_password, site):
    browser = console.browser()
    browser.login("admin", admin_password)
    found = []
    for kind, data in OBJECTS:
        k = KINDS[kind]
        slug = SLUG_OF[kind]
        key = str(data[k.key])
        selects = {f.name: f.choices for f in objectforms.form_fields(kind) if f.widget == "select"}
        for path in (f"/{slug}/", f"/{slug}/new", f"/{slug}/edit/{key}", f"/{slug}/delete/{key}"):
            response = browser.get(path)
            assert response.status == 200, path
            found += problems_in(path, response.body, selects)
        # the list shows each column by its label, and each stored choice as its form calls it
        listing = read(browser.get(f"/{slug}/").body)
        columns = objectforms.list_columns(kind)
        heads = [text for tag, text in listing.texts if tag == "th"]
        assert heads[:len(columns)] == [f.label for f in columns]
        row = next(r for r in listing.rows if r)
        for f, cell in zip(columns, row, strict=False):
            if f.widget == "select":
                found += [f"/{slug}/: {f.name} cell reads {cell!r}"] if not re.match(r"[A-Z0-9]", cell) else []
    for _title, items in NAVIGATION:
        for item in items:
            with console.app.test_request_context():
                path = item.url
            response = browser.get(path)
            assert response.status == 200, path
            found += problems_in(path, response.body)
    assert found == [], "\n".join(found)


def test_the_titles_say_what_the_issue_saw_in_words(console, admin_password, site):
    """The pages named in the report: "IVR menus", "IVR menu main", "DAHDI trunks", the queue's wrap-up."""
    browser = console.browser()
    browser.login("admin", admin_password)
    titles = {path: read(browser.get(path).body) for path in
              ("/ivrs/", "/ivrs/edit/main", "/dahdi-trunks/", "/queues/edit/500", "/moh-classes/")}
    title = {path: next(text for tag, text in r.texts if tag == "title") for path, r in titles.items()}
    assert title["/ivrs/"] == "IVR menus · Linebox"
    assert title["/ivrs/edit/main"] == "IVR menu main · Linebox"
    assert title["/dahdi-trunks/"] == "DAHDI trunks · Linebox"
    assert title["/moh-classes/"] == "Music-on-hold classes · Linebox"
    labels = [text for tag, text in titles["/queues/edit/500"].texts if tag == "label"]
    assert "Wrap-up time (seconds)" in labels and "Music on hold class" in labels
    nav = [text for tag, text in titles["/ivrs/"].texts if tag == "a"]
    assert "IVR menus" in nav and "DAHDI trunks" in nav and "Music on hold" in nav

