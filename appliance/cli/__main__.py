"""``python -m appliance.cli``: the ``linebox`` command without its console script (tests, make run)."""

from appliance.cli.linebox import main

main()
