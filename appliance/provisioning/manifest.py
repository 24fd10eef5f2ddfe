"""What Asterisk should hold once it has loaded a render: its objects by kind, named as the templates name them.

Verify (:mod:`.verify`) compares Asterisk with this list rather than parsing the rendered files again (two
6 MB pjsip.conf texts on a 10,000-extension site).  Each name carries a fingerprint of the site object that
writes it, so the objects an apply added, changed or removed are found by comparing this list with the
previous generation's (kept in its folder as ``objects.json``), and only those are looked up in Asterisk.
The names here must follow the templates: a unit test renders a site and checks both agree.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from pydantic import BaseModel

from appliance.provisioning import projection, reuse
from appliance.site.checks import Site

OBJECTS_FILE = "objects.json"

# The file whose reload loads each kind of object.
FILE_OF = {
    "endpoint": "pjsip.conf", "auth": "pjsip.conf", "aor": "pjsip.conf",
    "context": "extensions.conf", "queue": "queues.conf", "mailbox": "voicemail.conf",
}

# Contexts every dialplan has: calls from phones and trunks start in them.
MAIN_CONTEXTS = ("from-internal", "ext-local", "from-trunk")

Manifest = dict[str, dict[str, str]]  # kind -> name -> fingerprint


def _print(obj: BaseModel) -> str:
    return f"{zlib.crc32(obj.model_dump_json().encode()):08x}"


_PRINTS = reuse.PerObject()


def expected(site: Site) -> Manifest:
    """Every object Asterisk should hold after loading the render of ``site``."""
    with _PRINTS.round() as fingerprint:
        return _expected(site, lambda obj: fingerprint(obj, _print))


def _expected(site: Site, _print) -> Manifest:
    # extensions in the projection's rows are looked up by the step that writes them (appliance.provisioning.live)
    fxs = projection.fxs_numbers(site)
    extensions = {e.number: _print(e) for e in site.of("extension") if not projection.in_projection(e, fxs)}
    trunks = {t.name: _print(t) for t in site.of("trunk")}
    endpoints = {**extensions, **trunks}
    auths = {f"{n}-auth": p for n, p in extensions.items()}
    auths.update({f"{t.name}-auth": trunks[t.name] for t in site.of("trunk") if t.username})
    contexts = dict.fromkeys(MAIN_CONTEXTS, "")
    for kind, prefix, key in (("ivr", "ivr-", "name"), ("time_condition", "tc-", "name"),
                              ("announcement", "ann-", "name"), ("outbound_route", "outrt-", "name")):
        contexts.update({prefix + getattr(o, key): _print(o) for o in site.of(kind)})
    contexts.update({f"lcr-{r.name}": _print(r) for r in site.of("outbound_route") if r.least_cost})
    contexts.update({f"queue-exit-{q.number}": _print(q) for q in site.of("queue") if q.exit_voicemail})
    return {
        "endpoint": endpoints, "auth": auths, "aor": dict(endpoints), "context": contexts,
        "queue": {q.number: _print(q) for q in site.of("queue")},
        "mailbox": {b.number: _print(b) for b in site.mailboxes()},
        # a trunk's outbound registration: sent again when its trunk changed (:mod:`.reload`)
        "registration": {f"{t.name}-reg": trunks[t.name] for t in site.of("trunk") if t.registration},
    }


def dumps(manifest: Manifest) -> str:
    return json.dumps(manifest, separators=(",", ":"))  # in the site's own (stable) order


def read(generation: Path | None) -> Manifest | None:
    """A generation's list; None for none, or for a generation written before lists were kept."""
    if generation is None:
        return None
    try:
        return json.loads((generation / OBJECTS_FILE).read_text())
    except (OSError, ValueError):
        return None
