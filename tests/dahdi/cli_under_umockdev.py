"""Run one ``linebox`` command with click's CliRunner inside this process (started under umockdev-run),
so the command's pyudev talks to the real libudev over umockdev's fake /sys.  Prints a JSON result."""

from __future__ import annotations

import json
import sys

from click.testing import CliRunner

from appliance.cli import main

if __name__ == "__main__":
    result = CliRunner().invoke(main, sys.argv[1:])
    print(json.dumps({"exit_code": result.exit_code, "output": result.output,
                      "exception": repr(result.exception) if result.exception and result.exit_code not in (0, 1)
                      else None}))
