"""``linebox serve --http-port``: the real service also listens for plain HTTP and sends it to HTTPS."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys

from tests.services.test_serve import ROOT, FakeSystemd, _free_port, _get, _stop, home  # noqa: F401  (fixture)


def test_serve_redirects_plain_http_to_https(home, tmp_path):  # noqa: F811
    port, http_port = _free_port(), _free_port()
    systemd = FakeSystemd(tmp_path / "notify.sock")
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "LISTEN_PID", "LISTEN_FDS")}
    env.update(NOTIFY_SOCKET=str(systemd.path), LINEBOX_WEB_HTTP_PORT=str(http_port))  # as web.env sets it
    with open(tmp_path / "serve.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "--home", str(home), "serve", "--address",
                                 "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        systemd.wait_for("READY=1", 30, proc)
        connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        connection.request("GET", "/extensions/?q=1", headers={"Host": "pbx.lan"})
        response = connection.getresponse()
        assert response.status == 301
        assert response.getheader("Location") == f"https://pbx.lan:{port}/extensions/?q=1"
        connection.close()
        status, _ = _get(f"https://127.0.0.1:{port}/login", home / "tls" / "cert.pem")
        assert status == 200
        _stop(proc, systemd)
        assert "redirects to HTTPS" in (tmp_path / "serve.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        systemd.close()
