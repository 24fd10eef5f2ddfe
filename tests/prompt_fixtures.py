"""The ``install`` fixture for tests of prompts through the API and the console: an install whose Asterisk
root and prompt cache are the test's own folders (prompts are written there, never to the machine's)."""

from __future__ import annotations

import pytest

from appliance.install import Install
from appliance.model.database import close_database


@pytest.fixture
def install(tmp_path, monkeypatch):
    monkeypatch.setenv("LINEBOX_PROMPT_CACHE", str(tmp_path / "cache"))
    inst = Install.create(tmp_path / "home", manage_asterisk=False, asterisk_root=tmp_path / "root",
                          dahdi_root=tmp_path / "etc" / "dahdi", modprobe_dir=tmp_path / "etc" / "modprobe.d",
                          dahdi_cfg_command="")
    inst.open()
    yield inst
    close_database()
