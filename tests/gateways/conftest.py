"""Gateway tests: the provisioning server and the console, each a real cheroot WSGI server on a free port."""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from appliance.services.http_server import make_server
from appliance.web import provisioning as provision
from appliance.web.app import create_app
from tests.web.conftest import FromAddress


@dataclass
class Fetched:
    status: int
    body: str
    content_type: str
    cache_control: str = ""
    retry_after: str = ""


def http_get(url: str, user_agent: str = "Grandstream HT802 test", password: str | None = None,
             context: ssl.SSLContext | None = None, source: str | None = None) -> Fetched:
    """GET ``url`` as a device would; ``source``: the local address to connect from (another device)."""
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    if password is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"x:{password}".encode()).decode())
    if source is not None:
        opener = urllib.request.build_opener(FromAddress(source))
    else:
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=10) as response:
            return Fetched(response.status, response.read().decode(), response.headers.get("Content-Type", ""),
                           response.headers.get("Cache-Control", ""), response.headers.get("Retry-After", ""))
    except urllib.error.HTTPError as error:
        return Fetched(error.code, error.read().decode(), error.headers.get("Content-Type", ""),
                       error.headers.get("Cache-Control", ""), error.headers.get("Retry-After", ""))


@pytest.fixture
def served(install):
    """The console app for ``install``, served on 127.0.0.1; yields its base URL."""
    server = make_server(create_app(install), "127.0.0.1", 0)
    server.start()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def provisioning_server(install):
    """The provisioning server's app (plain HTTP, provisioning routes only) on 127.0.0.1; yields its base URL."""
    server = make_server(provision.create_app(install), "127.0.0.1", 0)
    server.start()
    try:
        yield server.url
    finally:
        server.close()
