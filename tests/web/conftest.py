"""The console served for real: cheroot on a free 127.0.0.1 port, driven over HTTP with a cookie jar.

No Asterisk runs for these tests; AMI is pointed at a port nothing listens
on, so the status page must say Asterisk is not reachable (other Asterisk
instances on this machine, e.g. the lab's, must not answer by accident).
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message

import pytest

from appliance.access import accounts
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app

TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Response:
    status: int
    url: str
    headers: Message
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def csrf_token(self) -> str:
        match = TOKEN_RE.search(self.body)
        assert match, f"no CSRF token in page {self.url}"
        return match.group(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class FromAddress(urllib.request.HTTPHandler):
    """Connect from a chosen local address (any 127.x.y.z works on Linux): another machine on the LAN."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def http_open(self, req):
        return self.do_open(functools.partial(http.client.HTTPConnection, source_address=(self.source, 0)), req)


@dataclass
class Browser:
    """A cookie-keeping HTTP client that reports redirects instead of following them unless asked.

    ``source``: the local address it connects from (default 127.0.0.1)."""

    base: str
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)
    source: str | None = None
    languages: str | None = None  # the Accept-Language header, as a browser set to those languages sends it

    def __post_init__(self):
        handlers: list = [urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()]
        if self.source:
            handlers.append(FromAddress(self.source))
        self.opener = urllib.request.build_opener(*handlers)

    def request(self, method: str, path: str, data: dict | None = None, follow: bool = False) -> Response:
        url = urllib.parse.urljoin(self.base, path)
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, method=method)
        if self.languages:
            req.add_header("Accept-Language", self.languages)
        try:
            with self.opener.open(req, timeout=15) as resp:
                response = Response(resp.status, url, resp.headers, resp.read().decode())
        except urllib.error.HTTPError as error:
            response = Response(error.code, url, error.headers, error.read().decode())
        if follow and response.status in (301, 302, 303, 307, 308):
            return self.request("GET", response.location, follow=True)
        return response

    def get(self, path: str, follow: bool = False) -> Response:
        return self.request("GET", path, follow=follow)

    def submit(self, path: str, fields: dict, follow: bool = False, form_page: str | None = None) -> Response:
        """POST a form the way a browser does: first load the page for its CSRF token."""
        token = self.get(form_page or path, follow=True).csrf_token()
        return self.request("POST", path, {"csrf_token": token, **fields}, follow=follow)

    def login(self, username: str, password: str, follow: bool = False) -> Response:
        return self.submit("/login", {"username": username, "password": password}, follow=follow)


@dataclass
class Console:
    url: str
    app: object
    one_time_password: str

    def browser(self, source: str | None = None, languages: str | None = None) -> Browser:
        return Browser(self.url, source=source, languages=languages)


@pytest.fixture
def console(install):
    """A served console for a fresh install with a first admin (one-time password) and two extensions."""
    service.save_settings({"ami_port": free_port()}, "test")
    for number in ("100", "101"):
        service.save_object("extension", {"number": number, "name": f"Desk {number}"}, "test", create=True)
    accounts.throttle.clear()
    password = accounts.ensure_first_admin()
    app = create_app(install)

    @app.route("/test-boom")
    def _boom():
        raise RuntimeError("secret internal detail")

    server = make_server(app, "127.0.0.1", 0)
    server.start()
    try:
        yield Console(server.url, app, password)
    finally:
        server.close()
        accounts.throttle.clear()


@pytest.fixture
def admin_password(console) -> str:
    """Replace the one-time password so tests can start from a normal login."""
    password = "correct horse battery"
    accounts.set_password("admin", password, actor="test")
    return password
