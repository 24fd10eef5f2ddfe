"""Console and API timings with 10,000 extensions, through the real server over loopback HTTP.

Pages: status (dashboard), the extension list, a search, and an extension's edit page: p50 and
p95 of 60 requests each, logged in as the admin.  API: listing 50 extensions per page, and
creating 100 extensions one request at a time (requests per second; each save checks only what it
can break, ``appliance.site.impact``).  Goals: page p95 under 100 ms, API create well above 20/s.
The machine's load average at the start is recorded: other work on a shared 2-core box skews the figures.
Figures go to ``benchmarks/results/web.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from appliance.access import accounts, apitokens
from appliance.install import Install
from appliance.model.database import close_database
from appliance.services.http_server import make_server
from appliance.site import service
from appliance.web.app import create_app
from benchmarks.sites import big_site, save_figures
from tests.web.conftest import Browser


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1)}


def main() -> dict:
    figures: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "extensions": 10_000,
                     "load_average_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        install = Install.create(Path(tmp) / "home", manage_asterisk=False)
        install.open()
        site = big_site()
        site.settings = service.load_settings()
        service.replace_site(site, "bench")
        accounts.ensure_first_admin()
        accounts.set_password("admin", "bench password 1", actor="bench")
        token = apitokens.create_token("admin", "bench", "bench")
        server = make_server(create_app(install), "127.0.0.1", 0)
        server.start()
        try:
            browser = Browser(server.url)
            browser.login("admin", "bench password 1")
            for name, path in (("dashboard", "/"), ("extension_list", "/extensions/"),
                               ("extension_search", "/extensions/?q=User%2077"),
                               ("extension_edit", "/extensions/edit/15000")):
                samples = []
                for _ in range(60):
                    start = time.perf_counter()
                    response = browser.get(path)
                    samples.append(time.perf_counter() - start)
                    assert response.status == 200, (path, response.status)
                figures[name] = percentiles(samples)

            def api(method: str, path: str, body: dict | None = None) -> int:
                data = json.dumps(body).encode() if body is not None else None
                request = urllib.request.Request(f"{server.url}{path}", data=data, method=method, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=30) as resp:
                    resp.read()
                    return resp.status

            start = time.perf_counter()
            for i in range(50):
                api("GET", f"/api/v1/extensions?limit=50&offset={i * 50}")
            figures["api_list_per_s"] = round(50 / (time.perf_counter() - start), 1)
            start = time.perf_counter()
            for i in range(100):
                assert api("POST", "/api/v1/extensions", {"number": str(30000 + i), "name": f"API {i}"}) == 201
            figures["api_create_per_s"] = round(100 / (time.perf_counter() - start), 1)
        finally:
            server.close()
            close_database()
    figures["goals"] = {"page_p95_ms": 100, "api_create_per_s": 20}
    save_figures("web", figures)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:20} {value}")
