"""``make run``: the appliance on a development machine.

Starts the lab's Debian Asterisk on the configuration Linebox generates
from ``.run/home`` (kept between runs), the event collector as the appliance
runs it (``linebox collect`` in its own process, restarted if it dies, as
systemd does with ``linebox-collector.service``), so that call records and
reports fill as calls are made, then the web console under the production
WSGI server on 127.0.0.1, and prints where to go and how to log in.  Ctrl-C
(or SIGTERM) stops the console, the collector and Asterisk, by PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from appliance.access import accounts
from appliance.model.database import close_database
from appliance.services import collector as collector_service
from lab import rootfs
from lab.pbx import start_pbx

HOME = Path(os.environ.get("LINEBOX_RUN_HOME", ".run/home")).resolve()


def _port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


def _start_collector() -> subprocess.Popen:
    """``linebox collect`` on this home, in its own session: Ctrl-C reaches ``make run`` alone, which stops it."""
    return subprocess.Popen([sys.executable, "-m", "appliance.cli", "collect"],
                            env={**os.environ, "LINEBOX_HOME": str(HOME)}, start_new_session=True)


def _stop(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


def main() -> int:
    from appliance.services.http_server import make_server
    from appliance.web.app import create_app

    root = rootfs.build()
    install, pbx = start_pbx(HOME, root)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # from here on, a stop request always goes through the finally
        signal.signal(sig, lambda *_: stop.set())
    collector = None
    try:
        password = accounts.ensure_first_admin()
        collector = _start_collector()
        app = create_app(install)
        port = _port(int(os.environ.get("LINEBOX_WEB_PORT", "8080")))
        server = make_server(app, "127.0.0.1", port)
        threading.Thread(target=server.run, daemon=True).start()
        print()
        print(f"Linebox is running (Asterisk {rootfs.asterisk_version(root)}, pid {pbx.pid}).")
        print(f"  Web console:  http://127.0.0.1:{port}/")
        if password:
            print(f"  First login:  admin / {password}   (you will be asked to change it)")
        else:
            print("  Log in with your admin password (forgotten? LINEBOX_HOME=.run/home linebox reset-admin)")
        print(f"  SIP:          127.0.0.1:{pbx.sip_port} (UDP)   AMI: 127.0.0.1:{pbx.ami_port}")
        print(f"  Collector:    pid {collector.pid} (call records and reports fill as calls are made)")
        print(f"  CLI:          LINEBOX_HOME={HOME} .venv/bin/linebox status")
        print("Press Ctrl-C to stop.")
        sys.stdout.flush()
        while not stop.is_set() and pbx.is_running():
            if collector.poll() is not None:
                print(f"the collector exited ({collector.returncode}): starting it again", file=sys.stderr)
                collector = _start_collector()
            stop.wait(1)
        if not pbx.is_running():
            print("Asterisk stopped unexpectedly:\n" + pbx.console_tail(), file=sys.stderr)
            return 1
        server.close()
    finally:
        print("stopping the collector, Asterisk and the console ...")
        if collector is not None:
            _stop(collector)
        # Asterisk writes the records of the calls it ends as it stops, and its folder goes with this run:
        # one last round copies them first (a box keeps /var/log/asterisk and collects them after boot).
        pbx.stop(remove=False)
        try:
            print(collector_service.collect_once(install))
        finally:
            pbx.remove()
            close_database()
    return 0


if __name__ == "__main__":
    sys.exit(main())
