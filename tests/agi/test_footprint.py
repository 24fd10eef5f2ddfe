"""The small services stay small: FastAGI and the event collector answer without the site's schemas.

Each of them runs as its own process on the appliance; loading pydantic and every object schema
costs each about 10 MB, and all Linebox services together aim at under 150 MB (``make boot-test``
records their memory in benchmarks/results/image.json).
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from pathlib import Path
from appliance.install import Install
install = Install.load(Path(sys.argv[1]))
install.open()
from appliance.agi import caller_name
from appliance.services.agi import make_server
from appliance.callcenter import autopause, collector
from appliance.services import collector as collector_service
looked_up = caller_name.find("555 0100")
server = make_server(port=0)
secret = install.ami_secret()
print(looked_up[0], looked_up[1]["name"] if looked_up[1] else None, bool(secret))
print(sorted(m for m in ("pydantic", "appliance.site.schemas", "jinja2", "flask") if m in sys.modules))
"""


def test_fastagi_and_collector_work_without_loading_the_schemas(tmp_path):
    """On an install made as the appliance makes it (init-system), with no setting ever saved by an admin."""
    from appliance.install import Install
    from appliance.model.database import close_database
    from appliance.phonebook import contacts as phonebook
    from appliance.services import system

    home = tmp_path / "lib" / "linebox"
    system.init_system(home, user=None, asterisk_group=None, password_file=tmp_path / "pw", say=lambda _: None)
    Install.load(home).open()
    try:
        phonebook.create_contact({"name": "Ann Lee", "numbers": ["5550100"]}, "test")
    finally:
        close_database()
    done = subprocess.run([sys.executable, "-c", PROBE, str(home)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer, loaded = done.stdout.splitlines()
    assert answer.startswith("True ") and "Ann" in answer and answer.endswith(" True"), answer
    assert loaded == "[]", f"loaded by FastAGI or the collector: {loaded}"
