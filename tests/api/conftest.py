"""The REST API served for real: cheroot on a free 127.0.0.1 port, called over HTTP with tokens.

No Asterisk runs here (the ``install`` fixture has ``manage_asterisk=False``): apply writes
generations and reports that Asterisk is not managed.  AMI points at a port nothing listens on.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message

import pytest

from appliance.access import accounts, apitokens
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app

PASSWORD = "a long test password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: Message  # case-insensitive
    text: str

    @property
    def json(self):
        return json.loads(self.text)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Client:
    """A small HTTP client for the API: JSON in, ``Reply`` out, never follows redirects."""

    base: str
    token: str | None = None
    headers: dict = field(default_factory=dict)
    opener: urllib.request.OpenerDirector | None = None

    def request(self, method: str, path: str, body=None, raw: bytes | None = None, headers: dict | None = None,
                token: str | None = None) -> Reply:
        url = urllib.parse.urljoin(self.base, path)
        all_headers = dict(self.headers)
        if token or self.token:
            all_headers["Authorization"] = f"Bearer {token or self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        all_headers.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        opener = self.opener or urllib.request.build_opener(_NoRedirect())
        try:
            with opener.open(req, timeout=30) as resp:
                return Reply(resp.status, resp.headers, resp.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers, error.read().decode())

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body=None, **kw) -> Reply:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body=None, **kw) -> Reply:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw) -> Reply:
        return self.request("DELETE", path, **kw)


@dataclass
class Api:
    url: str
    app: object
    tokens: dict[str, str]  # role -> token of a user with that role (username = role name)

    def client(self, role: str | None = "admin") -> Client:
        return Client(self.url, self.tokens[role] if role else None)


@pytest.fixture
def api(install):
    """A served console+API for a fresh install with one user and one token per role (username = role)."""
    service.save_settings({"ami_port": free_port()}, "test")
    accounts.throttle.clear()
    tokens = {}
    for role in accounts.ROLES:
        accounts.create_user(role, PASSWORD, role, "test")
        tokens[role] = apitokens.create_token(role, "tests", "test")
    app = create_app(install)
    server = make_server(app, "127.0.0.1", 0)
    server.start()
    try:
        yield Api(server.url, app, tokens)
    finally:
        server.close()
        accounts.throttle.clear()
