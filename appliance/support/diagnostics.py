"""``linebox diag``: what is wrong with this box, on one 80×24 screen.

Each check returns a ``Finding`` (ok, warn or fail, one line, and advice
when there is something to do).  The checks only read: Asterisk over AMI,
the live configuration generation, DAHDI's sysfs, the kernel's memory and
disk figures, the clock, and Asterisk's own log.  The exit status is the
worst level found (0 ok, 1 warning, 2 fault), so scripts and monitoring can
use it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import peewee
import psutil

from appliance.asterisk.status import AsteriskStatus
from appliance.callcenter import collector
from appliance.install import Install
from appliance.model.models import utcnow
from appliance.provisioning import projection
from appliance.security import bans
from appliance.site import schemas, service
from appliance.support import status as box_status

LEVELS = {"ok": 0, "warn": 1, "fail": 2}
SERVICES = ("asterisk", "linebox-web", "linebox-collector", "linebox-agi", "linebox-provision", "linebox-bans",
            "linebox-webhooks", "linebox-robot")


@dataclass
class Finding:
    area: str
    level: str
    text: str
    advice: str = ""


def check_asterisk(status: AsteriskStatus) -> Finding:
    if not status.reachable:
        return Finding("Asterisk", "fail", "not reachable over AMI",
                       "systemctl status asterisk; journalctl -u asterisk -n 50")
    return Finding("Asterisk", "ok", f"{status.version}, up {status.uptime}, {status.active_calls} call(s)")


RESTART_WINDOW = 24 * 3600  # how long diag keeps telling about a restart that cut calls


def check_restarts(now: float | None = None) -> list[Finding]:
    """Asterisk started again under calls (it crashed, or the box lost power) in the last 24 hours: when,
    and how many calls it cut (the collector records them as INTERRUPTED).  A start that cut no call
    (a boot, a clean restart) is not news."""
    moment = time.time() if now is None else now
    starts = collector.interrupting_starts(int(moment) - RESTART_WINDOW)
    if not starts:
        return []
    when, cut = starts[-1]
    more = f" ({len(starts)} such restarts in 24 h)" if len(starts) > 1 else ""
    moment_text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
    return [Finding("Restart", "warn", f"Asterisk restarted at {moment_text}, {cut} call(s) interrupted{more}",
                    "crash or power cut: journalctl -u asterisk; linebox calls --today")]


def check_config(install: Install) -> Finding:
    """Which generation is live, and whether Asterisk runs it: they differ only after an apply that
    was cut short between its swap and its verify (``loaded`` is the one Asterisk was seen to take)."""
    target = install.target()
    live, loaded = target.live_generation(), target.loaded_generation()
    if live is None:
        return Finding("Config", "fail", "no live configuration generation", "linebox apply")
    if loaded is not None and loaded != live:
        return Finding("Config", "fail", f"{live.name} live but Asterisk runs {loaded.name}",
                       "an apply was cut short: run linebox apply")
    newest = max(target.generations_dir.glob("[0-9]*"), default=None)
    if newest is not None and (newest / "FAILED").exists():
        reason = (newest / "FAILED").read_text().strip()[:60]
        return Finding("Config", "warn", f"last apply failed, {live.name} live", reason)
    return Finding("Config", "ok", f"generation {live.name} live" + (" and loaded" if loaded == live else "")
                   + _revision_text(target.projection_file))


def _revision_text(projection_file: Path) -> str:
    """The database revision the live extensions come from (``appliance.provisioning.projection``), and the
    database's own when it is further on: changes saved since, not yet live (waiting for Apply)."""
    live_revision = projection.revision(projection_file)
    if live_revision is None:
        return ""
    try:
        now = projection.database_revision()
    except peewee.PeeweeException:
        return f", revision {live_revision}"
    return f", revision {live_revision}" + (f" (database {now})" if now != live_revision else "")


def check_trunks(status: AsteriskStatus, trunk_names: list[str], tls_trunks: Collection[str] = ()) -> list[Finding]:
    if not status.reachable:
        return []
    findings = []
    for reg in status.registrations:
        if reg.status != "Registered":
            findings.append(Finding("Trunk", "fail", f"{reg.name.removesuffix('-reg')} registration {reg.status}",
                                    "check the trunk's username/password and the provider"))
    states = {e.name: e.state for e in status.endpoints}
    for name in trunk_names:
        if states.get(name) == "Unavailable":
            advice = ("TLS: check the provider's address and TLS port, and its certificate against the trunk's CA "
                      "(a Log line below says why it was refused)" if name in tls_trunks
                      else "check the provider's address and the firewall")
            findings.append(Finding("Trunk", "warn", f"{name} does not answer its qualify (OPTIONS)", advice))
    if not findings:
        findings.append(Finding("Trunks", "ok", f"{len(trunk_names)} trunk(s), none in trouble"))
    return findings


def check_phones(status: AsteriskStatus, extension_numbers: list[str]) -> Finding:
    if not status.reachable:
        return Finding("Phones", "warn", "unknown (Asterisk not reachable)")
    if status.contacts_error:
        return Finding("Phones", "warn", f"unknown (contacts not read: {status.contacts_error})"[:70])
    numbers = set(extension_numbers)
    online = len({c.aor for c in status.contacts if c.aor in numbers})
    return Finding("Phones", "ok", f"{online} of {len(extension_numbers)} extension(s) registered")


def check_spans(sysfs: Path = Path("/sys")) -> list[Finding]:
    spans = box_status.span_status(sysfs)
    if not spans:
        return [Finding("DAHDI", "ok", "no telephony card spans")]
    findings = []
    for span in spans:
        alarms = ",".join(span.alarms) or "OK"
        level = "ok" if not span.advice else ("fail" if alarms != "OK" else "warn")
        findings.append(Finding(f"Span {span.number}", level, f"{span.name}: {alarms}", span.advice))
    return findings


def check_services() -> list[Finding]:
    if not Path("/run/systemd/system").exists() or shutil.which("systemctl") is None:
        return [Finding("Services", "ok", "not under systemd here (development machine)")]
    out = subprocess.run(["systemctl", "is-active", *SERVICES], capture_output=True, text=True).stdout.split()
    down = [name for name, state in zip(SERVICES, out, strict=False) if state != "active"]
    if down:
        return [Finding("Services", "fail", f"not running: {', '.join(down)}", f"systemctl status {down[0]}")]
    # one 80-column line: "all 6 active: asterisk, web, collector, ..." (the linebox- prefix is implied)
    names = ", ".join(name.removeprefix("linebox-") for name in SERVICES)
    return [Finding("Services", "ok", f"all {len(SERVICES)} active: {names}")]


def check_bans(now: datetime | None = None, shown: int = 3) -> list[Finding]:
    """Failed authentications in the last hour, bans in force and the latest bans of the day.

    A source on the allow-list that keeps failing is a warning: it is never banned, so it is either a
    phone with a wrong password hammering the pbx or an attack from a network the admin trusts."""
    now = now or utcnow()
    policy = bans.Policy.load()
    counts = bans.failure_counts(timedelta(hours=1))
    total = sum(count for _, _, count in counts)
    in_force = bans.active(now=now)
    today = [row for row in bans.recent(50) if row.since >= now - timedelta(days=1)]
    text = f"{len(in_force)} banned now, {len(today)} ban(s) in 24 h, {total} failed auth(s) in 1 h"
    findings = []
    trusted = [(source, count) for source, _, count in counts if policy.allowed(source)
               and count >= max(policy.failures, 1)]
    if trusted:
        source, count = trusted[0]
        findings.append(Finding("Bans", "warn", f"{source} (allow-listed) failed {count} auth(s) in 1 h",
                                "a phone with a wrong password? linebox logs asterisk"))
    findings.append(Finding("Bans", "ok", text))
    for row in today[:shown]:
        state = f"until {row.until:%H:%M}" if bans.in_force(row, now) else "ended"
        findings.append(Finding("Ban", "ok", f"{row.source} {state}: {row.reason}"))
    return findings


def check_disk(install: Install) -> list[Finding]:
    """Each file system holding the database, recordings or Asterisk's logs: full is a fault (new call
    records or recordings are being lost), low a warning; the line names what lives there."""
    return [Finding("Disk", d.level, d.text, d.advice) for d in box_status.disk_space(install)]


def check_memory_and_load() -> Finding:
    memory = psutil.virtual_memory()
    load = os.getloadavg()[0]
    cores = psutil.cpu_count() or 1
    available = 100 * memory.available / memory.total
    level = "warn" if available < 10 or load > 2 * cores else "ok"
    return Finding("Memory", level, f"{memory.available / 2**20:.0f} MiB available ({available:.0f}%), "
                   f"load {load:.2f} on {cores} core(s)")


def check_clock() -> Finding:
    if shutil.which("timedatectl") is None:
        return Finding("Clock", "ok", "timedatectl not available")
    done = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                          text=True)
    if done.returncode != 0:
        return Finding("Clock", "ok", "synchronisation state unknown (no systemd-timedated)")
    if done.stdout.strip() != "yes":
        return Finding("Clock", "warn", "not synchronised by NTP", "call times and reports drift: check NTP")
    return Finding("Clock", "ok", "synchronised by NTP")


def recent_errors(log_file: Path | None, count: int = 3) -> list[Finding]:
    if not log_file or not log_file.exists():
        return []
    with open(log_file, "rb") as handle:
        handle.seek(max(0, log_file.stat().st_size - 65536))
        tail = handle.read().decode(errors="replace").splitlines()
    errors = [line for line in tail if " ERROR[" in line and "declined to load" not in line][-count:]
    return [Finding("Log", "warn", re.sub(r"^\[([^\]]+)\] ERROR\[\d+\] ", r"\1 ", line), log_advice(line))
            for line in errors]


# Asterisk's words for what a technician must do, by the log line's shape (the first that matches).
LOG_ADVICE: tuple[tuple[re.Pattern[str], str], ...] = (
    # res_pjsip_session: an offer the endpoint's media_encryption cannot take (plain RTP to "required")
    (re.compile(r"res_pjsip_session\.c:\s+(\S+): Couldn't negotiate stream \S*audio"),
     "{0}: call refused (488): the phone's media encryption does not fit the extension's (plain RTP offered "
     "where SRTP is required, or SRTP to a plain one) or no common codec: set both alike, or preferred"),
    # res_pjsip's transport events: a TLS peer (a trunk's provider) whose certificate failed verification
    (re.compile(r"Transport '[^']+' to remote '[^']*' - (\S+) - (The certificate [^\n]*)"),
     "TLS to {0}: {1}: the trunk's CA (tls_ca; empty: Debian's public CAs) did not sign the provider's "
     "certificate, or it is for another name or out of date: give the trunk the CA that signed it"),
)


def log_advice(line: str) -> str:
    """What to do about one of Asterisk's error lines, when Linebox knows it ("" otherwise)."""
    for pattern, advice in LOG_ADVICE:
        found = pattern.search(line)
        if found:
            return advice.format(*found.groups())
    return ""


def run_checks(install: Install, sysfs: Path = Path("/sys")) -> list[Finding]:
    status = box_status.asterisk_status(install, timeout=5)
    findings = [check_asterisk(status), *check_restarts(), check_config(install)]
    trunks = cast(list[schemas.Trunk], service.list_objects("trunk"))
    extensions = cast(list[schemas.Extension], service.list_objects("extension"))
    findings += check_trunks(status, [t.name for t in trunks], {t.name for t in trunks if t.transport == "tls"})
    findings.append(check_phones(status, [e.number for e in extensions]))
    findings += check_spans(sysfs)
    findings += check_services()
    findings += check_bans()
    findings += check_disk(install)
    findings.append(check_memory_and_load())
    findings.append(check_clock())
    findings += recent_errors(install.asterisk_log)
    return findings


def render(findings: list[Finding], width: int = 80, height: int = 23) -> list[str]:
    """The screen: worst first within the height, each line cut to the width."""
    marks = {"ok": "  ok", "warn": "WARN", "fail": "FAIL"}
    ordered = sorted(findings, key=lambda f: -LEVELS[f.level])
    lines = []
    for f in ordered:
        lines.append(f"{marks[f.level]} {f.area:<9} {f.text}"[:width])
        if f.advice and f.level != "ok":
            lines.append(f"          -> {f.advice}"[:width])
    worst = max((LEVELS[f.level] for f in findings), default=0)
    summary = ["everything looks fine", "warnings: see WARN lines", "FAULTS: see FAIL lines first"][worst]
    body = lines[: height - 1]
    if len(lines) > len(body):
        body[-1] = f"... {len(lines) - len(body) + 1} more line(s): linebox diag --all"[:width]
    return [*body, f"Linebox diag: {summary}"[:width]]


def exit_status(findings: list[Finding]) -> int:
    return max((LEVELS[f.level] for f in findings), default=0)
