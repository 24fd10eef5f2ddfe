"""The table of generated files: each record's ``needs`` are exactly the names its template uses.

Render gives a template only the names its record lists, so a name a template starts using must be
added to its record (rendering would fail on it), and one it stops using should leave it.
"""

from __future__ import annotations

import jinja2.meta
import pytest

from appliance.provisioning import files, render


@pytest.mark.parametrize("entry", files.GENERATED_FILES, ids=lambda f: f.name)
def test_needs_are_the_names_the_template_uses(entry):
    env = render._ENV
    used: set[str] = set()
    pending = [entry.template]
    while pending:  # the template and the ones it includes
        source = env.loader.get_source(env, pending.pop())[0]
        parsed = env.parse(source)
        used |= jinja2.meta.find_undeclared_variables(parsed)
        pending += [t for t in jinja2.meta.find_referenced_templates(parsed) if t]
    assert set(entry.needs) == used


def test_every_file_is_rendered_and_every_name_can_be_made():
    assert tuple(f.name for f in files.GENERATED_FILES) == render.GENERATED_FILES
    assert {need for f in files.GENERATED_FILES for need in f.needs} <= set(render._CONTEXT)


def test_a_file_read_only_at_start_says_why():
    with pytest.raises(ValueError, match="says why"):
        files.GeneratedFile("new.conf")
