"""Verify a reload: the ERROR lines Asterisk logged while reloading, then the objects it should now hold.

A reload command's answer does not name everything Asterisk refused: a section it could not load is
an ERROR line in its log, and a line its parser skipped is only a WARNING (``Line 1468 too long,
skipping``), after which the module runs without it.  So the log is read from where it stood before
the reload: its ERRORs, and its WARNINGs about the files (the parser's own, or naming a generated
file), fail the apply (located by :mod:`.locate`); then the endpoints this apply changed and the
main dialplan contexts are looked up.  What Asterisk's parser is known to skip is refused before
anything is written (:func:`check_line_lengths`).
"""

from __future__ import annotations

import re
import time

from appliance.asterisk.ami import Ami
from appliance.asterisk.limits import CONFIG_LINE_MAX
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
        for number, line in enumerate(text.splitlines(), 1):
            if len(line) > CONFIG_LINE_MAX:
                raise ApplyFailed("render", f"{name} line {number} ({where_in(name, text, number)}) is {len(line):,} "
                                            f"characters long; Asterisk reads at most {CONFIG_LINE_MAX:,} "
                                            "characters per line and would skip it")


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


def after_reload(ami: Ami, target: Target, offset: int, files: dict[str, str],
                 old_files: dict[str, str] | None) -> str:
    """Asterisk took the reloaded files: no ERROR logged since ``offset``, and (on an apply, not a
    rollback) the changed endpoints and the main contexts present."""
    time.sleep(0.2)
    errors = new_errors(target, offset, files)
    if errors:
        raise ApplyFailed("verify", "Asterisk rejected the configuration: " + locate(errors, files))
    if old_files is None:
        return "no errors logged"
    checked = verify_objects(ami, files, old_files)
    return f"{checked} changed objects present, no errors logged"


def endpoint_sections(text: str) -> dict[str, str]:
    """pjsip.conf endpoints by name, each with the text of all its same-named sections."""
    sections: dict[str, list[str]] = {}
    for block in re.split(r"^(?=\[)", text, flags=re.MULTILINE):
        m = re.match(r"\[([^\]]+)\]", block)
        if m:
            sections.setdefault(m.group(1), []).append(block)
    return {name: "".join(blocks) for name, blocks in sections.items()
            if any(re.search(r"^type = endpoint$", b, re.MULTILINE) for b in blocks)}


# Endpoints queried one by one after a reload.  Beyond this many changes a spread-out sample is
# queried: Asterisk's own error lines (checked first) already catch every object it refused, and
# listing 10,000 endpoints costs Asterisk seconds.
_VERIFY_SAMPLE = 12


def _sample(names: list[str], size: int) -> list[str]:
    if len(names) <= size:
        return names
    step = (len(names) - 1) / (size - 1)
    return [names[round(i * step)] for i in range(size)]


def verify_objects(ami: Ami, files: dict[str, str], old_files: dict[str, str]) -> int:
    """Check that every endpoint this apply added or changed, and the main contexts, are in Asterisk."""
    new, old = endpoint_sections(files.get("pjsip.conf", "")), endpoint_sections(old_files.get("pjsip.conf", ""))
    changed = sorted(name for name, text in new.items() if old.get(name) != text)
    checked = _sample(changed, _VERIFY_SAMPLE)
    missing = [name for name in checked if not _endpoint_loaded(ami, name)]
    if missing:
        raise ApplyFailed("verify", f"endpoints missing in Asterisk after reload: {', '.join(missing[:10])}")
    contexts = ["from-internal", "from-trunk", "ext-local"]
    for context in contexts:
        out = ami.command(f"dialplan show {context}")
        if "no existence" in out.lower() or "there is no" in out.lower():
            raise ApplyFailed("verify", f"dialplan context '{context}' missing in Asterisk after reload")
    return len(checked) + len(contexts)


def _endpoint_loaded(ami: Ami, name: str) -> bool:
    out = ami.command(f"pjsip show endpoint {name}")
    return re.search(rf"^\s*Endpoint:\s+{re.escape(name)}[/\s]", out, re.MULTILINE) is not None
