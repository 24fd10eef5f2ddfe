"""Every page of the console in Chinese, for every role: a crawl of the Flask URL map in one browser.

Each role's user has chosen zh (admin, supervisor, technician, agent).  The crawl visits every GET route
of the console without arguments, and one page of each route with arguments (each kind's list, form, edit
and delete page for an object of that kind, a contact, a user, a backup's preview), and reads each page as
its reader sees it: no English word is left but names, units, standards and what one types (the allow-lists
of test_languages_browser.py).  A route that is not a page (the REST API, files, streams, CSV and SVG) is
named in ``NOT_PAGES`` with why; a new route is crawled or named there, or this test fails.  Each role then
switches to English in the header and back.  Screenshots: test-artifacts/screenshots/crawl-<role>-*.png.
"""

from __future__ import annotations

import datetime
import re
import secrets
import socket
import time

import pytest

from appliance.access import accounts
from appliance.billing import rates_csv
from appliance.config_file import import_text
from appliance.gateways import service as gateways
from appliance.model.models import CallRecord
from appliance.phonebook import contacts
from appliance.provisioning import apply as apply_mod
from appliance.site import service
from appliance.site.kinds import KINDS
from appliance.site.schemas import TONE_ZONES
from appliance.support import backup
from appliance.web.app import create_app
from tests.browser.conftest import DESKTOP, SCREENSHOTS, login, shot
from tests.browser.test_languages_browser import VISIBLE_TEXT as READER_TEXT
from tests.browser.test_languages_browser import english_words

pytestmark = pytest.mark.timeout(420)

PASSWORD = "a long password for the crawl"
USERS = {"admin": "admin", "supervisor": "wang", "technician": "zhao", "agent": "li"}
# Routes that are not pages a person reads, by endpoint (or blueprint, ending in "."), with why.
NOT_PAGES = {
    "api.": "the REST API answers JSON (its messages: tests/api/test_api_language.py)",
    "static": "style sheets, scripts and images",
    "views.favicon": "an image",
    "gateways.provision.": "configuration files for the gateways themselves",
    "callcenter.agent_stream": "an event stream, read by the agent page's script",
    "callcenter.agent_history": "JSON read by the agent page's script (the caller's history)",
    "wallboard.stream": "an event stream, read by the wallboard's script",
    "callcenter.reports_csv": "a CSV download",
    "callcenter.robot_transcripts_csv": "a CSV download",
    "contacts.export_csv": "a CSV download",
    "pages.extensions_export": "a CSV download",
    "callcenter.reports_chart": "an SVG image shown on the reports page",
    "callcenter.sound_file": "a sound file",
    "recordings.play": "a recording's sound file",
    "rates.export_csv": "a CSV download",
    "costs.export_csv": "a CSV download",
    "callrecords.export_csv": "a CSV download",
    "costs.chart": "an SVG image shown on the costs page",
}
# names of this test's data that are words (the users, who made the site, this machine, a device's own name)
DATA_NAMES = {"admin", "wang", "zhao", "li", "test", "system", *socket.gethostname().split(".")}
# names of products and the labels of a gateway's own (English) web page, read there as written
PRODUCTS = {"Grandstream", "Cisco", "SPA", "Yeastar", "Generic", "Config", "Upgrade", "via", "Server", "Path",
            "Profile", "Rule",
            "PocketSphinx", "pocketsphinx", "Vosk", "vosk", "pip",  # the voice robots' recognisers, the installer
            "Kamailio"}  # the SIP edge of a multi-node site (the settings page's hint)
# protocols and formats, written so in Chinese too
STANDARDS = {"TLS", "SRTP", "PEM", "CA", "YAML", "PRI", "FastAGI", "RTP", "UDP", "DHCP", "HTTP", "HTTPS", "MAC", "ID",
             "AudioSocket",  # the voice robot's port (Asterisk's protocol name)
             "SVG", "IANA", "CNY", "USD", "EUR", "Excel",  # IANA time zones, ISO 4217 currencies, the spreadsheet
             "CRM", "JSON", "POST", "HMAC-SHA256", "HMAC", "SHA256",  # the CRM page's webhook signature
             "Webhook",  # the name the CRMs use, in Chinese too
             "Debian"}  # the system whose trusted certificates a TLS trunk uses by default
# language codes as a setting's hint names them (zh, en)
LANGUAGE_CODES = {"zh", "en"}
# what one chooses or types as DAHDI names them: tone zones, a span's side and switch type
SYNTAX = {*TONE_ZONES, *LANGUAGE_CODES, "cpe", "network", "euroisdn", "national", "dms100", "ni1", "qsig",
          "number",  # a CRM address template's {number}
          "t"}  # the call trace's key for "no key" (its Keys field: 1,2 or t), as Asterisk names a timeout
# The page as its reader sees it, less quoted English and code (test_languages_browser.VISIBLE_TEXT) and less
# the values the audit log stores (<del>, <ins>: a change's before and after, as they were typed)
VISIBLE_TEXT = READER_TEXT.replace("'[lang=en], code'", "'[lang=en], code, del, ins'")

SITE = """
linebox: 1
settings:
  cluster_edge: 192.0.2.100
cluster_nodes:
- {name: node-1, address: 192.0.2.101, standby: node-2, queues: ['500']}
- {name: node-2, address: 192.0.2.102, standby: node-1}
trunks:
- {name: carrier-1, host: 203.0.113.5, codecs: [alaw], match: [203.0.113.5]}
voicemail_boxes:
- {number: '700', name: 总机信箱}
ring_groups:
- {number: '600', name: 前台, members: ['100', '101'], fallback: 'voicemail:700'}
moh_classes:
- {name: moh-1, directory: /var/lib/linebox/moh/moh-1}
announcements:
- {name: ann-1, sound: custom/closed, destination: 'voicemail:700'}
queues:
- number: '500'
  name: 客服
  members: [{extension: '100'}]
ivrs:
- name: ivr-1
  greeting: custom/welcome
  options: [{digit: '1', destination: 'queue:500'}]
robots:
- name: robot-1
  language: zh
  handover: 'queue:500'
  entries: [{questions: 营业时间; 几点开门, answer: 我们周一至周五九点到六点营业。}]
time_conditions:
- name: tc-1
  timezone: Asia/Shanghai
  ranges: [{days: mon-fri, start: '09:00', end: '18:00'}]
  open_destination: 'queue:500'
  closed_destination: 'voicemail:700'
inbound_routes:
- {name: in-1, did: '01012345678', destination: 'timecondition:tc-1'}
outbound_routes:
- name: out-1
  position: 10
  patterns: [{match: _0XXXXXXXXXX}]
  trunks: [carrier-1]
"""


@pytest.fixture
def chinese_site(served, install):
    """A site with one object of each kind, a contact, a gateway and an unknown device, an applied generation,
    a backup waiting for its preview, and one user of each role, all of them reading Chinese."""
    import_text(SITE, "test")
    service.save_object("extension", {"number": "102", "name": "102"}, "test", create=True)
    service.save_object("dahdi_trunk", {"name": "telco-1", "group": 1}, "test", create=True)
    service.save_object("span", {"span": 1, "card": "pci:0000:04:00.0", "trunk": "telco-1"}, "test", create=True)
    service.save_object("analog_port", {"channel": 40, "kind": "fxs", "extension": "102", "card": "pci:0000:03:00.0",
                                        "port": 1}, "test", create=True)
    contact = contacts.create_contact({"name": "张伟", "numbers": ["13800138000"]}, "test")
    gateways.adopt("000b82aabbcc", "ht802", "test", name="大厅", address="192.0.2.20")
    gateways.provisioning_file("cfg000b82112233.xml", "192.0.2.1", address="192.0.2.30",
                               user_agent="Grandstream HT802")
    result = apply_mod.apply(service.snapshot(), install.facts(), install.target(), user="test")
    assert result.ok, result.error
    token = secrets.token_hex(16)
    uploads = backup.rollback_folder(install) / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    backup.create_backup(install, uploads / f"{token}.tar.gz")
    for role, username in USERS.items():
        if username == "admin":
            accounts.set_password("admin", PASSWORD, actor="test")
        else:
            accounts.create_user(username, PASSWORD, role, "test")
        accounts.set_language(username, "zh_CN", actor="test")
    keys = {kind.plural.replace("_", "-"): str(getattr(service.list_objects(kind.name)[0], kind.key))
            for kind in KINDS.values()}
    table = b"prefix,class,per_minute,increment,free_minutes\n,mobile,0.12,60/60,100\n8613,,0.10,6/6,0\n"
    rates_csv.import_bytes("carrier-1", table, datetime.date(2026, 1, 1), "test")
    CallRecord.create(uniqueid="1765000000.1", sequence=0, linkedid="1765000000.1", start="2026-12-07 09:30:00",
                      src="13800138000", dst="500", disposition="ANSWERED", billsec=65, duration=80, lastapp="Queue")
    return served, {"keys": keys, "contact_id": contact["id"], "username": "li", "token": token,
                    "name": "carrier-1", "linkedid": "1765000000.1"}


def crawl_paths(app, values: dict) -> tuple[list[str], set[str]]:
    """The console's pages from its URL map: (paths to visit, endpoints that are not pages)."""
    paths, skipped, unfilled = [], set(), []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()):
            continue
        if any(rule.endpoint == name or (name.endswith(".") and rule.endpoint.startswith(name))
               for name in NOT_PAGES):
            skipped.add(rule.endpoint)
            continue
        arguments = set(rule.arguments)
        if not arguments:
            paths.append(rule.rule)
        elif arguments <= {"slug", "key"}:
            for slug, key in sorted(values["keys"].items()):
                paths.append(app.url_map.bind("").build(rule.endpoint, {"slug": slug, "key": key}
                                                        if "key" in arguments else {"slug": slug}))
        elif arguments <= {"contact_id", "username", "token", "name", "linkedid"}:
            paths.append(app.url_map.bind("").build(rule.endpoint, {a: values[a] for a in arguments}))
        else:
            unfilled.append(rule.rule)
    assert unfilled == [], "a new route with arguments: give this crawl a value for it, or name it in NOT_PAGES"
    return paths, skipped


def _english(page) -> list[str]:
    allowed = DATA_NAMES | PRODUCTS | STANDARDS | SYNTAX
    return [word for word in english_words(page.evaluate(VISIBLE_TEXT)) if word not in allowed]


def test_every_page_reads_in_chinese_for_every_role(chromium, chinese_site, install):
    served, values = chinese_site
    paths, skipped = crawl_paths(create_app(install), values)
    assert len(paths) > 60 and "/audit" in paths and "/wallboard" in paths and "/agent" in paths
    assert {"api.extension_list", "wallboard.stream", "callcenter.reports_csv"} <= skipped
    found: dict[str, list[str]] = {}
    failed: dict[str, int] = {}
    started = time.monotonic()
    for old in SCREENSHOTS.glob("crawl-*.png"):  # this run's pages only
        old.unlink()
    for role, username in USERS.items():
        context = chromium.new_context(viewport=DESKTOP, locale="en-US")  # an English browser: the choice wins
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            login(page, served, username, PASSWORD)
            page.wait_for_url(served.at("/"))
            for number, path in enumerate(paths):
                response = page.goto(served.at(path))
                assert response is not None
                if response.status >= 500:
                    failed[f"{role} {path}"] = response.status
                    continue
                assert page.get_attribute("html", "lang") == "zh-CN", (role, path)
                words = _english(page)
                if words:
                    found[f"{role} {path}"] = words
                name = re.sub(r"[^a-z0-9]+", "-", path.replace(values["token"], "").lower()).strip("-") or "status"
                if role == "admin":
                    shot(page, f"crawl-{role}-{number:02d}-{name}")
                elif response.status == 200:
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SCREENSHOTS / f"crawl-{role}-{number:02d}-{name}.png"))
            # the switch in the header: English, then Chinese again, on the role's start page
            page.goto(served.at("/"))
            page.click("header form.language button[value=en]")
            page.wait_for_function("document.documentElement.lang === 'en'")
            assert not re.search("[\u4e00-\u9fff]", page.inner_text("main h1")), (role, page.inner_text("main h1"))
            page.click("header form.language button[value=zh_CN]")
            page.wait_for_function("document.documentElement.lang === 'zh-CN'")
            assert re.search("[\u4e00-\u9fff]", page.inner_text("main h1")), role
        finally:
            context.close()
    report = "\n".join(f"{where}: {' '.join(words)}" for where, words in found.items())
    (SCREENSHOTS.parent / "crawl-english-words.txt").write_text(report + "\n")
    assert failed == {}, f"pages that failed: {failed}"
    assert found == {}, f"English on Chinese pages (all in {SCREENSHOTS.parent}/crawl-english-words.txt):\n{report}"
    print(f"crawled {len(paths)} pages for {len(USERS)} roles in {time.monotonic() - started:.0f} s")
