"""Headless Chromium (Debian's ``chromium`` package) driven by Playwright against the console under cheroot.

Playwright is told to use the system browser (``executable_path``); it never
downloads one (do not run ``playwright install``).  Each test gets a fresh
install (no Asterisk: apply writes generations and says Asterisk is not
managed), a console served on a free port, and a 1366×768 browser page.
Screenshots go to ``test-artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.access import accounts
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app

CHROMIUM = os.environ.get("LINEBOX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}
ADMIN_PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def chromium():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Served:
    url: str
    one_time_password: str

    def at(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def served(install):
    """The console for a fresh install with a first admin (one-time password) and two extensions."""
    service.save_settings({"ami_port": _free_port()}, "test")  # nothing answers: no other Asterisk by accident
    for number in ("100", "101"):
        service.save_object("extension", {"number": number, "name": f"Desk {number}"}, "test", create=True)
    accounts.throttle.clear()
    password = accounts.ensure_first_admin()
    server = make_server(create_app(install), "127.0.0.1", 0)
    server.start()
    try:
        yield Served(server.url, password)
    finally:
        server.close()
        accounts.throttle.clear()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def shot(page, name: str) -> Path:
    """A full-page screenshot kept as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, served: Served, username: str, password: str) -> None:
    page.goto(served.at("/login"))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("main button[type=submit]")


@pytest.fixture
def admin_page(page, served):
    """A page logged in as admin (the one-time password already replaced)."""
    accounts.set_password("admin", ADMIN_PASSWORD, actor="test")
    login(page, served, "admin", ADMIN_PASSWORD)
    page.wait_for_url(served.at("/"))
    return page
