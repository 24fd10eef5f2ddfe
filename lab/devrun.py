"""``make run``: the appliance on a development machine.

Starts the lab's Debian Asterisk on the configuration Linebox generates
from ``.run/home`` (kept between runs), the event collector as the appliance
runs it (``linebox collect`` in its own process, restarted if it dies, as
systemd does with ``linebox-collector.service``), so that call records and
reports fill as calls are made, then the web console under the production
WSGI server on 127.0.0.1, and prints where to go and how to log in.  Ctrl-C
(or SIGTERM) stops the console, the collector and Asterisk, by PID.  If Asterisk dies, make run
shows its last lines, stops the rest the same way and exits with status 1 (it does not restart it).

What phones and tools are set up against stays put from run to run, as on a
box: the SIP and AMI ports are chosen at the first run (5060 and 5038 when
free) and kept in ``.run/home/make-run.json``; a kept port that something else
holds stops ``make run`` with the name of that process, rather than moving the
phones' port without a word.  The configuration generations live in
``.run/home/asterisk``, so their numbering and rollback history go on.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from appliance.access import accounts
from appliance.model.database import close_database
from appliance.services import collector as collector_service
from lab import rootfs
from lab.instance import free_port
from lab.pbx import start_pbx

HOME = Path(os.environ.get("LINEBOX_RUN_HOME", ".run/home")).resolve()
PORTS_FILE = HOME / "make-run.json"
# what phones and AMI clients expect when nothing says otherwise; SIP is UDP only (pjsip.conf), AMI TCP
PREFERRED = {"sip_port": 5060, "ami_port": 5038}
KINDS = {"sip_port": ("SIP", socket.SOCK_DGRAM), "ami_port": ("AMI", socket.SOCK_STREAM)}


class PortBusy(Exception):
    """A kept port something else holds: make run stops and says who."""


def _free(port: int, kind: int) -> bool:
    """Whether Asterisk could bind ``port`` on 127.0.0.1 now (AMI's listener sets SO_REUSEADDR, as here, so
    the previous run's closed AMI connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def holder(port: int, kind: int) -> str:
    """Which process holds a local ``port``: name, PID and command line, for the message that says so."""
    for conn in psutil.net_connections("udp" if kind == socket.SOCK_DGRAM else "tcp"):
        if not conn.laddr or conn.laddr.port != port:
            continue
        if kind == socket.SOCK_STREAM and conn.status != psutil.CONN_LISTEN:
            continue
        if conn.pid is None:
            return "a process this user cannot see (run make run as root)"
        try:
            process = psutil.Process(conn.pid)
            return f"{process.name()} (pid {conn.pid}: {' '.join(process.cmdline())[:100]})"
        except psutil.Error:
            return f"pid {conn.pid}"
    return "a process that could not be found (it may have just ended: try again)"


def kept_ports() -> dict[str, int]:
    """The SIP and AMI ports of this home: those kept from the first run, or chosen now and kept.

    Phones registered to 127.0.0.1:<sip_port> and tools using AMI keep working only if the ports never
    move, so a kept port that is busy raises ``PortBusy`` naming the process that holds it."""
    if PORTS_FILE.exists():
        try:
            ports = {name: int(json.loads(PORTS_FILE.read_text())[name]) for name in KINDS}
        except (ValueError, KeyError, TypeError) as error:
            raise PortBusy(f"{PORTS_FILE}: unreadable ({error}); it must hold "
                           '{"sip_port": N, "ami_port": N}: fix it, or delete it to choose new ports') from None
        for name, (label, kind) in KINDS.items():
            if not _free(ports[name], kind):
                transport = "UDP" if kind == socket.SOCK_DGRAM else "TCP"
                raise PortBusy(
                    f"the {label} port this install keeps, 127.0.0.1:{ports[name]} ({transport}), is in use by "
                    f"{holder(ports[name], kind)}.\n"
                    f"make run does not move it, so that phones and tools set up for it keep working. Stop that "
                    f"process, or put another {name} in {PORTS_FILE} (and change the phones to match).")
        return ports
    ports = {}
    for name, (_label, kind) in KINDS.items():
        preferred = PREFERRED[name]
        ports[name] = preferred if _free(preferred, kind) and preferred not in ports.values() else free_port(kind)
    HOME.mkdir(parents=True, exist_ok=True)
    PORTS_FILE.write_text(json.dumps(ports, indent=1) + "\n")
    return ports


def linebox_command() -> str:
    """The ``linebox`` command for this home, by absolute paths: the venv's bin is not on the user's PATH."""
    script = Path(sys.prefix) / "bin" / "linebox"
    command = str(script) if script.exists() else f"{sys.executable} -m appliance.cli"
    return f"LINEBOX_HOME={HOME} {command}"


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


# The appliance's services write with UMask=0027 (ansible/roles/linebox/files/*.service): the database, the
# generations (pjsip.conf holds the SIP passwords, manager.conf the AMI secrets) readable by their owner and
# group only.  make run writes the same way.
UMASK = 0o027


def keep_private(home: Path) -> None:
    """Take others' access away from what earlier runs (or a umask of 022) left readable in ``home``."""
    if not home.exists():
        return
    for path in [home, *home.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        if mode & 0o007:
            path.chmod(mode & 0o7770)


def main() -> int:
    from appliance.services.http_server import make_server
    from appliance.web.app import create_app

    os.umask(UMASK)
    keep_private(HOME)
    try:
        ports = kept_ports()
    except PortBusy as error:
        print(f"make run: {error}", file=sys.stderr)
        return 1
    root = rootfs.build()
    install, pbx = start_pbx(HOME, root, keep=True, **ports)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # from here on, a stop request always goes through the finally
        signal.signal(sig, lambda *_: stop.set())
    collector = None
    server = None
    try:
        password = accounts.ensure_first_admin()
        collector = _start_collector()
        app = create_app(install)
        port = _port(int(os.environ.get("LINEBOX_WEB_PORT", "8080")))
        server = make_server(app, "127.0.0.1", port)
        threading.Thread(target=server.run, daemon=True).start()
        linebox = linebox_command()
        live = install.target().live_generation()
        print()
        print(f"Linebox is running (Asterisk {rootfs.asterisk_version(root)}, pid {pbx.pid}).")
        print(f"  Web console:  http://127.0.0.1:{port}/")
        if password:
            print(f"  First login:  admin / {password}   (you will be asked to change it)")
        else:
            print(f"  Log in with your admin password (forgotten? {linebox} reset-admin)")
        print(f"  SIP:          127.0.0.1:{pbx.sip_port} (UDP)   AMI: 127.0.0.1:{pbx.ami_port}  (kept from run to run)")
        print(f"  Config:       generation {live.name if live else 'none'} live")
        print(f"  Collector:    pid {collector.pid} (call records and reports fill as calls are made)")
        print(f"  CLI:          {linebox} status")
        print(f"                (in another shell: alias linebox='{linebox}', then linebox --help)")
        print("Press Ctrl-C to stop.")
        sys.stdout.flush()
        while not stop.is_set() and pbx.is_running():
            if collector.poll() is not None:
                print(f"the collector exited ({collector.returncode}): starting it again", file=sys.stderr)
                collector = _start_collector()
            stop.wait(1)
        if not pbx.is_running():
            # Not restarted: make run is a developer's terminal, where a crash should stay on the screen with
            # its cause rather than scroll away in a restart loop (a box's systemd unit restarts Asterisk).
            print(f"Asterisk stopped unexpectedly (exit status {pbx.process.returncode}); its last lines:\n"
                  + pbx.console_tail(), file=sys.stderr)
            print("make run stops everything: run make run again to start afresh.", file=sys.stderr)
            return 1
    finally:
        print("stopping the console, the collector and Asterisk ...")
        # The console first, on every way out: its cheroot worker threads are not daemons, so a console left
        # open kept the process alive after main() returned, answering requests with SIGTERM only setting
        # ``stop`` that nothing waited on any more.
        if server is not None:
            server.close()
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C during the clean-up ends it at once
            signal.signal(sig, signal.SIG_DFL)
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
