"""Verify a reload: the ERROR lines Asterisk logged while reloading, then the objects it should now hold.

A reload command's answer does not name everything Asterisk refused: a section it could not load is
an ERROR line in its log, and a line its parser skipped is only a WARNING (``Line 1468 too long,
skipping``), after which the module runs without it.  So the log is read from where it stood before
the reload, once Asterisk has written it all (:func:`wait_for_log`): its ERRORs, and its WARNINGs about
the files (the parser's own, or naming a generated file), fail the apply (located by :mod:`.locate`);
then the objects this apply added, changed or removed, known from the render's own list
(:mod:`.manifest`), are looked up in Asterisk, a few commands filtered by name.  What Asterisk's
parser is known to skip is refused before anything is written (:func:`check_line_lengths`).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from appliance.asterisk.ami import Ami, AmiError
from appliance.asterisk.limits import CONFIG_LINE_MAX
from appliance.catalog import N_
from appliance.errors import Message
from appliance.provisioning import manifest
from appliance.provisioning.locate import locate, where_in
from appliance.provisioning.steps import ApplyFailed
from appliance.provisioning.target import Target

ERROR_LINE = re.compile(r"\] ERROR\[\d+\][^:]*: (.*)$")
WARNING_LINE = re.compile(r"\] WARNING\[\d+\](?:\[[^\]]*\])? ([^:\s]+): (.*)$")


def log_offset(target: Target) -> int:
    if target.log_file and target.log_file.exists():
        return target.log_file.stat().st_size
    return 0


def check_line_lengths(files: dict[str, str]) -> None:
    """Refuse a file holding a line Asterisk would skip, naming the file, line and where it is."""
    for name, text in files.items():
        if max(map(len, text.split("\n")), default=0) <= CONFIG_LINE_MAX:
            continue  # the usual case, checked without a Python loop over 100,000 lines
        for number, line in enumerate(text.splitlines(), 1):
            if len(line) > CONFIG_LINE_MAX:
                raise ApplyFailed("render", Message(
                    N_("%(file)s line %(line)s (%(where)s) is %(length)s characters long; Asterisk reads at most "
                       "%(max)s characters per line and would skip it"), file=name, line=number,
                    where=where_in(name, text, number), length=f"{len(line):,}", max=f"{CONFIG_LINE_MAX:,}"))


def new_errors(target: Target, offset: int, files: dict[str, str] | None = None) -> list[str]:
    """ERROR lines logged since ``offset``, and WARNINGs about the configuration files: the
    parser's own (config.c) and those naming one of ``files``."""
    if not (target.log_file and target.log_file.exists()):
        return []
    with open(target.log_file, errors="replace") as handle:
        handle.seek(offset)
        text = handle.read()
    names = [n for n in (files or {}) if "/" not in n]
    errors = []
    for line in text.splitlines():
        if m := ERROR_LINE.search(line):
            errors.append(m.group(1).strip())
        elif (w := WARNING_LINE.search(line)) and (w.group(1) == "config.c" or any(n in w.group(2) for n in names)):
            errors.append(w.group(2).strip())
    return errors


def after_reload(ami: Ami, target: Target, offset: int, files: dict[str, str], changed: list[str],
                 objects: manifest.Manifest | None = None, old_objects: manifest.Manifest | None = None) -> str:
    """Asterisk took the reloaded files: no ERROR logged since ``offset``, and (on an apply, not a
    rollback: ``objects`` given) the objects this apply added or changed present and those it removed gone."""
    settled = wait_for_log(target)
    errors = new_errors(target, offset, files)
    if errors:
        raise ApplyFailed("verify", Message(N_("Asterisk rejected the configuration: %(errors)s"),
                                            errors=locate(errors, files)))
    if objects is None:
        return Message(N_("no errors logged%(settled)s"), settled=settled)
    checked = verify_objects(ami, changed, objects, old_objects or {})
    return Message(N_("%(count)s objects checked, no errors logged%(settled)s"), count=checked, settled=settled)


def security_log(target: Target) -> Path | None:
    """Where Asterisk writes its security events (logger.conf's ``security.log``), beside its messages."""
    return target.log_file.parent / "security.log" if target.log_file else None


# How long the log may take to show what Asterisk logged during the reloads: it writes from a thread of
# its own, usually within a millisecond; only a stuck Asterisk takes longer.
LOG_DEADLINE = 10.0


def wait_for_log(target: Target) -> str:
    """Wait until Asterisk's log holds every line it queued during the reloads (no fixed sleep).

    Asterisk's logger writes from a thread of its own, in the order lines were queued.  A new AMI
    login is a security event, logged after the reloads' lines: once that login (known by our own
    TCP port) is in security.log, everything logged before it is in messages.log too.  Returns a
    note for the report ("" when it came in time)."""
    log, connect = security_log(target), target.connect
    if log is None or connect is None or not (target.log_file and target.log_file.exists()):
        return ""
    if not log.exists():  # a logger.conf without it (Linebox's has it): nothing to wait on
        return ""
    security_offset = log.stat().st_size
    with connect() as marker:
        port = marker.local_port
    pattern = re.compile(rf'SuccessfulAuth".*RemoteAddress="[^"]*/{port}"')
    deadline = time.monotonic() + LOG_DEADLINE
    delay = 0.001
    while True:
        with open(log, errors="replace") as handle:
            if os.fstat(handle.fileno()).st_size < security_offset:  # rotated meanwhile: a new file
                security_offset = 0
            handle.seek(security_offset)
            if pattern.search(handle.read()):
                return ""
        if time.monotonic() > deadline:
            return Message(N_(" (Asterisk's security log did not show the check's login within %(seconds)s s)"),
                           seconds=f"{LOG_DEADLINE:.0f}")
        time.sleep(delay)  # polling the file: the condition is the line, not the time
        delay = min(delay * 2, 0.05)


# Objects looked up one by one (contexts, queues), and at most this many names in one regular
# expression (endpoints, auths, AORs, mailboxes): beyond that a spread-out sample.  Asterisk's own error
# lines (checked first) already catch every object it refused; listing 10,000 endpoints costs it seconds,
# while a list filtered by name costs it milliseconds.
_VERIFY_SAMPLE = 12
_VERIFY_NAMES = 50


def _sample(names: list[str], size: int) -> list[str]:
    if len(names) <= size:
        return names
    step = (len(names) - 1) / (size - 1)
    return [names[round(i * step)] for i in range(size)]


def to_check(changed: list[str], objects: manifest.Manifest, old: manifest.Manifest,
             size: int = _VERIFY_NAMES) -> dict[str, tuple[list[str], list[str]]]:
    """Per kind whose file changed: (names that must be present, names that must be gone).

    Present: the objects added or changed (fingerprint), or when the file changed for none of them (a
    site setting), a spread of all; gone: the objects removed."""
    out = {}
    for kind, file in manifest.FILE_OF.items():
        if file not in changed:
            continue
        new, before = objects.get(kind, {}), old.get(kind, {})
        present = sorted(n for n, p in new.items() if before.get(n) != p)
        if kind == "context":
            present = sorted(set(present) | set(manifest.MAIN_CONTEXTS))
        if not present:
            present = sorted(new)
        gone = sorted(n for n in before if n not in new)
        out[kind] = (_sample(present, size), _sample(gone, size))
    return out


_LISTED = {"endpoint": re.compile(r"^\s*Endpoint:\s+([^\s/]+)", re.MULTILINE),
           "auth": re.compile(r"^\s*Auth:\s+([^\s/]+)", re.MULTILINE),
           "aor": re.compile(r"^\s*Aor:\s+([^\s/]+)", re.MULTILINE)}
_ERE_SPECIAL = re.compile(r"([.\[\]()*+?{}|^$\\])")


def _held(ami: Ami, kind: str, names: list[str]) -> set[str]:
    """Which of ``names`` (of one kind) Asterisk holds: one command for a PJSIP kind or the mailboxes."""
    if not names:
        return set()
    if kind in _LISTED:
        held = set()
        for chunk in _chunks([_ERE_SPECIAL.sub(r"\\\1", n) for n in names]):
            out = ami.command(f"pjsip list {kind}s like ^({'|'.join(chunk)})$")
            held.update(_LISTED[kind].findall(out))
        return held
    if kind == "mailbox":
        boxes = re.findall(r"^default\s+(\S+)", ami.command("voicemail show users for default"), re.MULTILINE)
        return set(names) & set(boxes)
    held = set()
    for name in names:
        if kind == "queue":
            out = ami.command(f"queue show {name}")
            if not out.lower().startswith("no such queue"):
                held.add(name)
        elif kind == "context" and _context_exists(ami, name):
            held.add(name)
    return held


# AMI reads a line of at most 1,024 characters: a longer Command is refused (and logged as a WARNING).
_COMMAND_MAX = 800


def _chunks(patterns: list[str]) -> list[list[str]]:
    """``patterns`` in groups whose alternation fits in one AMI command line."""
    chunks: list[list[str]] = [[]]
    length = 0
    for pattern in patterns:
        if chunks[-1] and length + len(pattern) + 1 > _COMMAND_MAX:
            chunks.append([])
            length = 0
        chunks[-1].append(pattern)
        length += len(pattern) + 1
    return chunks


def _context_exists(ami: Ami, context: str) -> bool:
    """One extension no context has, looked up in ``context``: Asterisk says whether the context exists
    without listing it (ext-local lists 10,000 extensions)."""
    try:
        ami.command(f"dialplan show linebox-verify@{context}")
    except AmiError as error:
        return f"'{context}' context" not in str(error)
    return True


def verify_objects(ami: Ami, changed: list[str], objects: manifest.Manifest, old: manifest.Manifest) -> int:
    """The objects this apply added or changed are in Asterisk, those it removed are not."""
    checked = 0
    for kind, (present, gone) in to_check(changed, objects, old).items():
        if kind in ("context", "queue"):
            present, gone = _sample(present, _VERIFY_SAMPLE), _sample(gone, _VERIFY_SAMPLE)
        held = _held(ami, kind, present + gone)
        missing = [n for n in present if n not in held]
        if missing:
            raise ApplyFailed("verify", Message(N_("%(kind)ss missing in Asterisk after reload: %(names)s"),
                                                kind=kind, names=", ".join(missing[:10])))
        left = [n for n in gone if n in held]
        if left:
            raise ApplyFailed("verify", Message(N_("%(kind)ss still in Asterisk after reload, though removed: "
                                                   "%(names)s"), kind=kind, names=", ".join(left[:10])))
        checked += len(present) + len(gone)
    return checked
