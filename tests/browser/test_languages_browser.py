"""The console in Chinese in a real browser: a user whose language is zh sees the header, the navigation and
every translated page in Chinese (no English word but names and units), switches to English in the header,
and back; the login page follows the browser's language.  Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest

from appliance.access import accounts
from appliance.site import service
from appliance.site.kinds import KINDS
from tests.browser.conftest import ADMIN_PASSWORD, DESKTOP, login, shot

pytestmark = pytest.mark.timeout(180)

# Words a Chinese page may hold in Latin letters: names (the product, the software it runs, the test data,
# the user, the language switch's "English") and units or standards read as they are in Chinese too.
NAMES = {"Linebox", "Asterisk", "DAHDI", "Desk", "admin", "li", "English",
         "PocketSphinx", "pocketsphinx", "Vosk", "vosk", "pip"}  # the voice robots' recognisers, their installer
UNITS = {"CSV", "CPU", "FXO", "FXS", "PIN", "SIP", "B", "KiB", "MiB", "GiB", "TiB", "min", "MB", "kHz",
         "WAV", "MP3", "OGG", "FLAC"}
# standards and codecs, named as they are in Chinese too
STANDARDS = {"AMI", "CAS", "CCS", "ESF", "EuroISDN", "Q.SIG", "National ISDN-1", "National ISDN-2", "LBO", "CPE",
             "DID", "IP", "UTC", "ulaw", "alaw", "gsm", "opus", "API",
             "TLS", "UDP", "SRTP", "CA", "PEM",  # transports, media encryption, certificates
             "CRM",  # the company's customer system (its menu entry), named so in Chinese too
             "Debian"}  # the system whose trusted certificates a TLS trunk uses by default
# what one types, quoted in the hints as it is typed: destinations, a dial pattern's parts, days
SYNTAX = {"hangup", "match", "strip", "prepend", "mon-fri", "sat", "N",
          "yes", "no", "never", "always",  # values a CSV file holds
          "en", "zh"}  # language codes (a speech model's language)
WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_'’.:/|=-]*(?: ISDN-[12])?")


# The text of the page as a reader sees it, less what the page marks as quoted English (lang="en": a system
# error quoted as the system gave it, such as the status page's "Connection refused" from the socket) or as
# code (<code>: a CSV file's column names, a command).
VISIBLE_TEXT = """() => {
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll('[lang=en], code').forEach(element => element.remove());
    document.body.appendChild(copy); copy.style.display = 'block';
    const text = copy.innerText; copy.remove(); return text;
}"""


def english_words(text: str) -> list[str]:
    """Latin-letter words that are neither names, units, standards nor syntax (a token holding _ : / | = or a
    digit is typed syntax too: open_network, queue:500, custom/welcome, key=value, _9NXXXXXX, g722)."""
    words = set()
    for match in WORD.finditer(text):
        token = match.group()
        if token.endswith(":") and text[match.end():match.end() + 1].isspace() or match.end() == len(text):
            token = token.rstrip(":")  # a word ending a phrase ("Note: ..."), not "ivr:名称"
        token = token.rstrip(".")
        if (token in NAMES | UNITS | STANDARDS | SYNTAX or re.search(r"[_:/|=0-9]", token)
                or not re.search("[A-Za-z]", token)):
            continue
        words.add(token)
    return sorted(words)


def translated_pages() -> list[str]:
    """Every page translated so far (tests/unit/test_i18n_catalog.py's TRANSLATED): status, each kind's
    list and new-object form, an edit form, a delete confirmation."""
    slugs = [kind.plural.replace("_", "-") for kind in KINDS.values()]
    return ["/", *(f"/{slug}/" for slug in slugs), *(f"/{slug}/new" for slug in slugs),
            "/extensions/edit/100", "/queues/edit/500", "/extensions/delete/100", "/users", "/users/li/delete",
            "/extensions/import", "/bans", "/recordings", "/sounds", "/contacts", "/contacts/new", "/contacts/import"]


@pytest.fixture
def chinese_admin(served):
    accounts.set_password("admin", ADMIN_PASSWORD, actor="test")
    accounts.set_language("admin", "zh_CN", actor="test")
    accounts.create_user("li", "another long password", "agent", "test")
    service.save_object("queue", {"number": "500", "name": "Desk", "members": [{"extension": "100"}]},
                        "test", create=True)
    return served


def _h1(page) -> str:
    return page.inner_text("main h1")


def test_a_chinese_user_sees_the_console_in_chinese_switches_to_english_and_back(chromium, chinese_admin):
    served = chinese_admin
    context = chromium.new_context(viewport=DESKTOP, locale="en-US")  # an English browser: the user's choice wins
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        login(page, served, "admin", ADMIN_PASSWORD)
        page.wait_for_url(served.at("/"))
        assert page.get_attribute("html", "lang") == "zh-CN"
        assert _h1(page) == "系统状态"
        nav = page.inner_text("nav.sidenav")
        for word in ("分机", "振铃组", "语音信箱", "队列", "语音导航", "中继", "呼入路由", "呼出路由", "通讯录", "报表",
                     "审计日志", "用户", "设置"):
            assert word in nav, word
        assert english_words(nav) == ["DAHDI"] or english_words(nav) == []
        assert english_words(page.inner_text("header.topbar")) == [], page.inner_text("header.topbar")
        shot(page, "70-zh-status")

        found = {}
        for path in translated_pages():
            page.goto(served.at(path))
            words = english_words(page.evaluate(VISIBLE_TEXT))
            if words:
                found[path] = words
        page.goto(served.at("/extensions/"))
        shot(page, "71-zh-extensions")
        page.goto(served.at("/queues/"))
        assert page.locator("#objects th").all_inner_texts()[:2] == ["号码", "名称"]
        shot(page, "72-zh-queues")
        assert found == {}, f"English on Chinese pages: {found}"

        page.goto(served.at("/extensions/"))
        page.click("header form.language button[value=en]")
        page.wait_for_function("document.documentElement.lang === 'en'")
        assert page.url == served.at("/extensions/") and _h1(page) == "Extensions"
        assert "Inbound routes" in page.inner_text("nav.sidenav") and "New extension" in page.inner_text("main")
        shot(page, "73-en-after-switch")

        page.click("header form.language button[value=zh_CN]")
        page.wait_for_function("document.documentElement.lang === 'zh-CN'")
        assert _h1(page) == "分机" and "新建分机" in page.inner_text("main")
    finally:
        context.close()


def test_the_login_page_follows_a_chinese_browser(chromium, served):
    context = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(served.at("/login"))
        assert _h1(page) == "登录" and page.inner_text("label[for=username]") == "用户名"
        assert english_words(page.inner_text("body")) == []
        shot(page, "74-zh-login")
        page.click("header form.language button[value=en]")
        page.wait_for_function("document.documentElement.lang === 'en'")
        assert _h1(page) == "Log in"
    finally:
        context.close()
