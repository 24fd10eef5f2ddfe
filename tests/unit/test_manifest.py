"""The render's own object list (what verify looks up in Asterisk) names exactly what the templates write.

Verify no longer parses the rendered files: it trusts :func:`manifest.expected`.  Here the reference site
(every feature) is rendered and its files parsed once, in the test, to prove both agree.
"""

from __future__ import annotations

import re

from appliance import config_file
from appliance.provisioning import manifest, render, verify
from appliance.site import service
from tests.conftest import REFERENCE_SITE
from tests.unit.test_golden import FACTS


def _sections(text: str) -> dict[str, set[str]]:
    """Section names by their ``type =`` (pjsip.conf) in the rendered text."""
    by_type: dict[str, set[str]] = {}
    for name, kind in re.findall(r"^\[([^\]]+)\]\ntype = (\w+)$", text, re.MULTILINE):
        by_type.setdefault(kind, set()).add(name)
    return by_type


def test_the_object_list_names_what_the_templates_write(install):
    config_file.import_text(REFERENCE_SITE.read_text(encoding="utf-8"), user="test")
    site = service.snapshot()
    files = render.render_all(site, FACTS)
    objects = manifest.expected(site)

    pjsip = _sections(files["pjsip.conf"])
    for kind in ("endpoint", "auth", "aor", "registration"):
        assert set(objects[kind]) == pjsip.get(kind, set()), kind
    assert objects["registration"]  # the reference site has a registering trunk
    contexts = set(re.findall(r"^\[([^\]]+)\]$", files["extensions.conf"], re.MULTILINE))
    assert set(objects["context"]) <= contexts
    assert {c for c in contexts if c.startswith(("ivr-", "tc-", "ann-", "outrt-", "queue-exit-"))} \
        <= set(objects["context"])
    queues = set(re.findall(r"^\[([^\]]+)\]$", files["queues.conf"], re.MULTILINE)) - {"general"}
    assert set(objects["queue"]) == queues
    boxes = set(re.findall(r"^(\S+) => ", files["voicemail.conf"], re.MULTILINE))
    assert set(objects["mailbox"]) == boxes


def test_an_apply_looks_up_the_objects_it_changed_and_removed(install):
    """A renamed extension and a deleted one are what verify asks Asterisk about, not the whole site."""
    config_file.import_text(REFERENCE_SITE.read_text(encoding="utf-8"), user="test")
    second = "199"
    # extensions with free endpoint options: in pjsip.conf (the others are rows: appliance.provisioning.projection)
    options = {"language": "fr"}
    service.save_object("extension", {"number": second, "name": "Leaving", "options": options}, "test", create=True)
    first = service.snapshot().of("extension")[0].number
    one = service.get_object("extension", first)
    service.save_object("extension", {**one.model_dump(), "options": options}, "test", original_key=first)
    before = manifest.expected(service.snapshot())
    one = service.get_object("extension", first)
    service.save_object("extension", {**one.model_dump(), "name": "Renamed"}, "test", original_key=first)
    service.delete_object("extension", second, "test")
    after = manifest.expected(service.snapshot())

    checks = verify.to_check(["pjsip.conf"], after, before)
    assert set(checks) == {"endpoint", "auth", "aor"}  # only the changed file's kinds
    assert checks["endpoint"] == ([first], [second])
    assert checks["auth"] == ([f"{first}-auth"], [f"{second}-auth"])
    # a setting changes every endpoint's text but no object: a spread of all is looked up
    same = verify.to_check(["pjsip.conf"], after, after)
    assert same["endpoint"][0] and not same["endpoint"][1]


def test_names_looked_up_together_fit_in_one_ami_line_each():
    """AMI refuses a line over 1,024 characters: 50 long trunk names go in several commands, none lost."""
    names = [f"trunk-{'x' * 60}-{i}" for i in range(50)]
    chunks = verify._chunks(names)
    assert len(chunks) > 1 and [n for c in chunks for n in c] == names
    assert all(len(f"Command: pjsip list endpoints like ^({'|'.join(c)})$") < 1024 for c in chunks)
