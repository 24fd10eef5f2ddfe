"""Start and stop Debian's Asterisk inside the lab root file system.

Each instance gets its own directories and loopback ports, so any number of
them (the appliance's "pbx", the "carrier" that plays the telephone company
and the phones, ...) run side by side.  Asterisk runs in a private mount
namespace (``unshare --mount``) holding its own /proc and /dev mounts inside
the root file system: when the process ends, for whatever reason, the kernel
drops those mounts with it, so a failed or killed test never leaves a mount
behind.  Processes are tracked and ended by PID only.

Asterisk also gets its own host name (a UTS namespace), the appliance's,
which the /etc/hosts it sees names, as the image's does: Asterisk looks its
own host name up for every call's RTCP when its RTP is bound to any address
(``ast_find_ourip``), and a name only DNS could answer would log a failed
lookup, and one of A.ROOT-SERVERS.NET, at every call on an offline box.  The
development machine's own name, unknown to the root file system, must not
leak in.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab import rootfs as rootfs_mod

LAB_DIR_IN_ROOT = "/var/lib/linebox-lab"
_counter = itertools.count()
_running: dict[int, AsteriskInstance] = {}

# the image's host name and /etc/hosts (image/build.py)
HOSTNAME = "linebox"
ETC_HOSTS = f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
_HOSTS_IN_ROOT = f"{LAB_DIR_IN_ROOT}/hosts"

_CHROOT_SCRIPT = (
    'set -e; R="$1"; shift; '
    'mount -t proc proc "$R/proc"; '
    'mount --rbind /dev "$R/dev"; '
    f'hostname {HOSTNAME}; '
    f'mount --bind "$R{_HOSTS_IN_ROOT}" "$R/etc/hosts"; '
    # host folders an instance keeps outside the root (``AsteriskInstance.binds``): --bind HOST INNER ...
    'while [ "$1" = --bind ]; do mount --bind "$2" "$R$3"; shift 3; done; '
    'exec chroot "$R" "$@"'
)
# private mount and UTS namespaces: the mounts and the host name vanish with the process
_UNSHARE = ["unshare", "--mount", "--uts", "--propagation", "private"]


def _write_hosts(rootfs: Path) -> None:
    """The /etc/hosts the lab's processes see (bind-mounted over the root file system's own)."""
    path = rootfs / _HOSTS_IN_ROOT.lstrip("/")
    if path.exists() and path.read_text() == ETC_HOSTS:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"hosts.{os.getpid()}")
    temporary.write_text(ETC_HOSTS)
    temporary.replace(path)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port that is free for both TCP and UDP right now."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port


def _bind_args(binds: tuple[tuple[Path, str], ...]) -> list[str]:
    return [arg for host, inner in binds for arg in ("--bind", str(host), inner)]


def in_root(rootfs: Path, argv: list[str], binds: tuple[tuple[Path, str], ...] = (),
            **kwargs) -> subprocess.CompletedProcess:
    """Run a command inside the root file system in throw-away mount and UTS namespaces (with ``binds``:
    host folders mounted at paths inside the root, for this command alone)."""
    _write_hosts(rootfs)
    return subprocess.run(
        [*_UNSHARE, "sh", "-c", _CHROOT_SCRIPT, "sh", str(rootfs), *_bind_args(binds), *argv],
        **kwargs,
    )


@dataclass
class AsteriskInstance:
    """One running Asterisk: its folders (host and in-root paths) and ports."""

    name: str
    rootfs: Path
    inner_dir: str  # the instance folder as Asterisk sees it, inside the root
    sip_port: int
    ami_port: int
    rtp_start: int
    rtp_end: int
    etc_inner: str
    conf_inner: str
    process: subprocess.Popen | None = None
    stdout_path: Path | None = None
    # Host folders Asterisk sees inside its instance folder, (host path, path inside the root): mounted in
    # its own mount namespace only, so they outlive the instance (``make run`` keeps its generations in its
    # home this way) and removing the instance folder never reaches them.
    binds: tuple[tuple[Path, str], ...] = ()
    # What stops with it (the pbx's in-process FastAGI server), run by ``stop`` in reverse order.
    cleanups: list[Callable[[], object]] = field(default_factory=list)

    @property
    def host_dir(self) -> Path:
        return self.rootfs / self.inner_dir.lstrip("/")

    def host_path(self, inner: str) -> Path:
        return self.rootfs / inner.lstrip("/")

    @property
    def etc_dir(self) -> Path:
        return self.host_path(self.etc_inner)

    @property
    def log_dir(self) -> Path:
        return self.host_dir / "log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def cli(self, command: str, timeout: float = 20) -> str:
        """Run one Asterisk CLI command against this instance (``asterisk -rx``)."""
        done = in_root(self.rootfs, ["asterisk", "-C", self.conf_inner, "-rx", command], binds=self.binds,
                       capture_output=True, text=True, timeout=timeout)
        return done.stdout

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_fully_booted(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise RuntimeError(f"Asterisk '{self.name}' exited during start-up:\n{self.console_tail()}")
            if (self.host_dir / "run" / "asterisk.ctl").exists():
                out = self.cli("core waitfullybooted", timeout=timeout)
                if "fully booted" in out.lower():
                    return
            time.sleep(0.2)
        raise TimeoutError(f"Asterisk '{self.name}' not fully booted after {timeout}s:\n{self.console_tail()}")

    def console_tail(self, lines: int = 40) -> str:
        if self.stdout_path and self.stdout_path.exists():
            return "\n".join(self.stdout_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 15, remove: bool = True) -> None:
        """Stop this Asterisk by its PID (gracefully, then by force) and remove its folder (unless ``remove``
        is false: what it wrote as it stopped, its last call records, can then be read before ``remove()``)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self.process is not None:
            _running.pop(self.process.pid, None)
        while self.cleanups:
            self.cleanups.pop()()
        if remove:
            self.remove()

    def remove(self) -> None:
        if not os.environ.get("LINEBOX_LAB_KEEP"):
            shutil.rmtree(self.host_dir, ignore_errors=True)


ASTERISK_OPTIONS = "\n[options]\nverbose = 3\nmaxcalls = 2000\ntransmit_silence = yes\n"


def own_asterisk_conf(instance: AsteriskInstance) -> str:
    lines = [f"; Written by the Linebox lab for instance {instance.name}", "[directories]"]
    lines += [f"{key} => {value}" for key, value in directories(instance).items()]
    return "\n".join(lines) + "\n" + ASTERISK_OPTIONS


def prepare(name: str, rootfs: Path | None = None, config: str = "own", *, folder: str | None = None,
            sip_port: int | None = None, ami_port: int | None = None,
            binds: dict[str, Path] | None = None) -> AsteriskInstance:
    """Create an instance's folders and pick free ports; does not start it.

    ``config="own"``: a hand-written config in the instance's ``etc`` folder
    (the carrier).  ``config="linebox"``: Asterisk reads Linebox's generated
    files through the ``config/live`` generation link (the appliance's pbx),
    including the ``asterisk.conf`` Linebox renders.

    ``folder`` names the instance folder (default: unique to this process and
    call), ``sip_port`` and ``ami_port`` fix the ports (default: free ones
    picked now), and ``binds`` maps sub-folders of the instance folder to host
    folders Asterisk sees there instead: what ``make run`` keeps from one run
    to the next.
    """
    root = rootfs or rootfs_mod.build()
    inner = f"{LAB_DIR_IN_ROOT}/{folder or f'{name}-{os.getpid()}-{next(_counter)}'}"
    host = root / inner.lstrip("/")
    if host.exists():
        shutil.rmtree(host)
    # res_crypto reads <astkeydir>/keys, as Debian's /var/lib/asterisk/keys
    for sub in ("etc", "cache", "db", "keys/keys", "spool", "run", "log", *(binds or {})):
        (host / sub).mkdir(parents=True)
    sip = sip_port or free_port(socket.SOCK_DGRAM)
    ami = ami_port or free_port()
    rtp_base = 10000 + (sip % 400) * 100
    etc = f"{inner}/etc" if config == "own" else f"{inner}/config/live"
    instance = AsteriskInstance(
        name=name, rootfs=root, inner_dir=inner, sip_port=sip, ami_port=ami,
        rtp_start=rtp_base, rtp_end=rtp_base + 98, etc_inner=etc, conf_inner=f"{etc}/asterisk.conf",
        binds=tuple((path, f"{inner}/{sub}") for sub, path in (binds or {}).items()),
    )
    if config == "own":
        (host / "etc" / "asterisk.conf").write_text(own_asterisk_conf(instance))
    return instance


def directories(instance: AsteriskInstance) -> dict[str, str]:
    """The ``[directories]`` of an instance, as Asterisk sees them inside the root."""
    d = instance.inner_dir
    return {
        "astcachedir": f"{d}/cache", "astetcdir": instance.etc_inner,
        "astmoddir": "/usr/lib/x86_64-linux-gnu/asterisk/modules", "astvarlibdir": "/var/lib/asterisk",
        "astdbdir": f"{d}/db", "astkeydir": f"{d}/keys", "astdatadir": "/usr/share/asterisk",
        "astagidir": "/usr/share/asterisk/agi-bin", "astspooldir": f"{d}/spool", "astrundir": f"{d}/run",
        "astlogdir": f"{d}/log", "astsbindir": "/usr/sbin",
    }


def start(instance: AsteriskInstance, timeout: float = 60) -> AsteriskInstance:
    """Start a prepared instance in the foreground (``-f``) and wait until fully booted."""
    instance.stdout_path = instance.host_dir / "console.log"
    _write_hosts(instance.rootfs)
    out = open(instance.stdout_path, "wb")  # noqa: SIM115 - handed to the child, closed below
    try:
        instance.process = subprocess.Popen(
            [*_UNSHARE, "sh", "-c", _CHROOT_SCRIPT, "sh", str(instance.rootfs), *_bind_args(instance.binds),
             "asterisk", "-f", "-C", instance.conf_inner],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    finally:
        out.close()
    _running[instance.process.pid] = instance
    try:
        instance.wait_fully_booted(timeout)
    except BaseException:
        instance.stop()
        raise
    return instance


@atexit.register
def stop_all() -> None:
    """Last line of defence: stop every instance this process started."""
    for instance in list(_running.values()):
        instance.stop()
