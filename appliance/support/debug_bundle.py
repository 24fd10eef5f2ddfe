"""``linebox debug collect``: one tarball a technician attaches to a support case.

It gathers what support asks for first: versions, ``linebox diag --all``, the live generated
configuration, the recent logs, hardware and DAHDI state, registrations and contacts, service
status, the network view and the site.  Every part is optional: a part that cannot be read (no
Asterisk, no systemd, no cards, no hardware package) is noted in ``README.txt`` and the rest is
still collected.

Nothing secret leaves the box.  The database and the TLS private key are never included, and every
text goes through ``Redactor`` before it is written: it masks every secret this install knows
(SIP passwords, voicemail PINs, trunk passwords, the AMI and session secrets, the TLS key's lines),
the value of any ``password``/``secret``/``pin``/``token``-like key in a config or log line, and
any PEM private key block.
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from pathlib import Path

from appliance import config_file
from appliance.asterisk import ami_users
from appliance.install import Install
from appliance.model import migrations, sealed
from appliance.model.database import database
from appliance.model.models import Gateway, Setting
from appliance.provisioning import sip_tls
from appliance.provisioning.generations import list_generations
from appliance.site import service
from appliance.site.kinds import KINDS
from appliance.support import diagnostics, logs, network
from appliance.support.backup import linebox_version

MASK = "********"
_KEY_LINE = re.compile(
    r"(?im)^(\s*[\w.-]*(?:password|passwd|secret|pin|token|md5_cred|api_key|private_key)[\w.-]*\s*(?:=>?|:)\s*)"
    r"(?=\S)(.+)$")
_PEM_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.S)
SERVICE_UNITS = ("asterisk", "linebox-apply", "linebox-web", "linebox-collector", "linebox-agi", "linebox-bans",
                 "linebox-dahdi")
AMI_COMMANDS = ("core show version", "core show uptime", "core show channels", "pjsip show registrations",
                "pjsip show contacts", "pjsip show endpoints", "pjsip show transports", "dahdi show status",
                "pri show spans", "module show like dahdi")


class Redactor:
    """Masks secrets in text: known values, secret-looking keys and private key blocks."""

    def __init__(self, secrets: Iterable[str]):
        values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        patterns = []
        for value in values:
            escaped = re.escape(value)
            # A short all-digit PIN is masked only as a whole number, not inside a timestamp or call id.
            patterns.append(rf"(?<!\d){escaped}(?!\d)" if value.isdigit() and len(value) < 6 else escaped)
        self._known = re.compile("|".join(patterns)) if patterns else None

    def text(self, text: str) -> str:
        text = _PEM_KEY.sub("[private key removed]", text)
        if self._known is not None:
            text = self._known.sub(MASK, text)
        return _KEY_LINE.sub(lambda m: m.group(0) if MASK in m.group(2) else m.group(1) + MASK, text)


def known_secrets(install: Install) -> set[str]:
    """Every secret value this install holds: site objects' secret fields, per-install secrets, the TLS key."""
    found: set[str] = set()
    for name, k in KINDS.items():
        for obj in service.list_objects(name):
            found.update(str(getattr(obj, f)) for f in k.secrets if getattr(obj, f, None))
    found.update(sealed.current().internal.values())  # the AMI master secret, the session key (the key file)
    # gateways' provisioning credentials (in provisioning URLs and request logs) and the shared password
    found.update(row.credential for row in Gateway.select(Gateway.credential) if row.credential)
    found.update(sealed.current().open(row.value) for row in Setting.select().where(
        Setting.key == "gateways.provisioning_password") if row.value)
    found.update(install.ami_user_secret(user.name) for user in ami_users.AMI_USERS)  # derived, not stored
    for key in (install.home / "tls" / "key.pem", sip_tls.folder(install.config_root) / "key.pem"):  # console, SIP
        if key.is_file():
            found.update(line.strip() for line in key.read_text(errors="replace").splitlines()
                         if len(line.strip()) >= 16 and not line.startswith("-----"))
    return found


@dataclass
class Part:
    name: str
    ok: bool
    note: str = ""


@dataclass
class Bundle:
    """Text files to write into the tarball, redacted on the way in."""

    redactor: Redactor
    files: dict[str, str] = field(default_factory=dict)
    parts: list[Part] = field(default_factory=list)

    def add(self, name: str, text: str) -> None:
        self.files[name] = self.redactor.text(text)

    def part(self, name: str, collect: Callable[[], str | None]) -> None:
        """Run one collector; its failure is a note, never the end of the collection."""
        try:
            note = collect() or ""
            self.parts.append(Part(name, True, note))
        except Exception as error:  # noqa: BLE001 - a support bundle takes whatever it can get
            self.parts.append(Part(name, False, f"{type(error).__name__}: {error}"))


def _run(command: list[str], timeout: float = 20) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return done.stdout + (f"\n[stderr]\n{done.stderr}" if done.stderr.strip() else "")


def _jsonable(value):
    if is_dataclass(value) and not isinstance(value, type):  # an instance (asdict refuses a class)
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def collect(install: Install, output: Path, log_lines: int = 2000, say: Callable[[str], None] = print) -> list[Part]:
    """Write the support tarball to ``output``; return what was collected and what was not."""
    bundle = Bundle(Redactor(known_secrets(install)))
    target = install.target()

    def versions() -> None:
        lines = [f"linebox {linebox_version()}",
                 f"database schema {migrations.schema_version(database.obj)} (this Linebox: "
                 f"{migrations.CURRENT_VERSION})",
                 f"python {platform.python_version()}", f"kernel {platform.release()} {platform.machine()}",
                 f"host {socket.gethostname()}", f"collected {datetime.now(UTC).isoformat(timespec='seconds')}"]
        os_release = Path("/etc/os-release")
        if os_release.exists():
            lines += [line for line in os_release.read_text().splitlines() if line.startswith("PRETTY_NAME")]
        bundle.add("versions.txt", "\n".join(lines) + "\n")

    def diag() -> None:
        findings = diagnostics.run_checks(install)
        bundle.add("diag.txt", "\n".join(diagnostics.render(findings, height=10_000)) + "\n")

    def asterisk() -> str:
        out = []
        with install.connect_ami(timeout=10) as ami:
            for command in AMI_COMMANDS:
                try:
                    out.append(f"### {command}\n{ami.command(command)}\n")
                except Exception as error:  # noqa: BLE001 - e.g. a module not loaded
                    out.append(f"### {command}\n(failed: {error})\n")
        bundle.add("asterisk.txt", "\n".join(out))
        return ""

    def config() -> str:
        live = target.live_generation()
        if live is None:
            return "no live generation"
        count = 0
        for file in sorted(live.rglob("*")):
            if file.is_file() and file.stat().st_size < 5 * 2**20:
                bundle.add(f"config/{file.relative_to(live).as_posix()}", file.read_text(errors="replace"))
                count += 1
        generations = list_generations(target)
        bundle.add("generations.txt", "\n".join(json.dumps(g, default=str) for g in generations) + "\n")
        for extra in (Path("/etc/dahdi/system.conf"), Path("/etc/dahdi/assigned-spans.conf"),
                      Path("/etc/modprobe.d/dahdi.conf")):
            if extra.is_file():
                bundle.add(f"etc{extra}", extra.read_text(errors="replace"))
        return f"generation {live.name}, {count} file(s)"

    def site() -> None:
        document = config_file.export_text()
        # mask the secret fields by name too (the Redactor masks their values as well)
        for k in KINDS.values():
            for name in k.secrets:
                document = re.sub(rf"(?m)^(\s*-?\s*{name}: ).+$", rf"\g<1>'{MASK}'", document)
        bundle.add("site.yaml", document)

    def hardware() -> str:
        notes = []
        try:
            from hardware import detect  # inside the try: the bundle is written even when it cannot load
            bundle.add("hardware/inventory.json", json.dumps(detect.scan().to_dict(), indent=1) + "\n")
        except Exception as error:  # noqa: BLE001 - no udev in a container, or no hardware package
            notes.append(f"inventory: {error}")
        try:
            from hardware import dahdi_state
            state = dahdi_state.read_sysfs()
            bundle.add("hardware/dahdi-sysfs.json", json.dumps(_jsonable(state), indent=1, default=str) + "\n")
        except Exception as error:  # noqa: BLE001
            notes.append(f"DAHDI: {error}")
        for tool, args in (("dahdi_scan", []), ("dahdi_span_assignments", ["list"]), ("lsdahdi", [])):
            if shutil.which(tool):
                bundle.add(f"hardware/{tool}.txt", _run([tool, *args]))
        return "; ".join(notes)

    def services() -> str:
        if not logs.under_systemd():
            bundle.add("services.txt", "not running under systemd\n")
            return "not under systemd"
        bundle.add("services.txt", _run(["systemctl", "status", "--no-pager", "--lines=0",
                                         *[f"{u}.service" for u in SERVICE_UNITS]]))
        return ""

    def log_files() -> str:
        if logs.under_systemd():
            command = logs.journal_command(list(logs.UNITS.values()), None, log_lines, False)
            bundle.add("logs/journal.txt", _run(command, timeout=60))
        for f in logs.log_files(install, list(logs.UNITS.values())):
            bundle.add(f"logs/{f.name}-{f.path.name}", "\n".join(logs.tail(f.path, log_lines)) + "\n")
        return f"last {log_lines} line(s) each"

    def net() -> None:
        settings = service.load_settings()
        bundle.add("network.txt", "\n".join(network.render(network.install_state(settings), width=200)) + "\n")

    for name, step in (("versions", versions), ("diag --all", diag), ("Asterisk (AMI)", asterisk),
                       ("generated config", config), ("site (secrets masked)", site), ("hardware", hardware),
                       ("services", services), ("logs", log_files), ("network", net)):
        bundle.part(name, step)
        last = bundle.parts[-1]
        say(f"{'ok  ' if last.ok else 'skip'} {name}{': ' + last.note if last.note else ''}"[:80])

    readme = ["Linebox support bundle. Secrets are masked as ********; the database and the TLS",
              "private key are not included.", ""]
    readme += [f"{'collected' if p.ok else 'NOT collected'}: {p.name}{' (' + p.note + ')' if p.note else ''}"
               for p in bundle.parts]
    bundle.add("README.txt", "\n".join(readme) + "\n")
    _write(bundle.files, output)
    return bundle.parts


def _write(files: dict[str, str], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    root = f"linebox-debug-{socket.gethostname()}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    partial = output.with_name(f".{output.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            now = int(datetime.now(UTC).timestamp())
            for name, text in files.items():
                data = text.encode()
                info = tarfile.TarInfo(f"{root}/{name}")
                info.size, info.mtime, info.mode = len(data), now, 0o600
                tar.addfile(info, io.BytesIO(data))
        os.replace(partial, output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def default_name() -> str:
    return f"linebox-debug-{socket.gethostname()}-{datetime.now(UTC):%Y%m%d-%H%M%S}.tar.gz"
