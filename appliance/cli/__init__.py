"""The ``linebox`` command: click groups over the service functions, one module per group of commands.

``linebox`` (the root group, set-up, site, apply and service commands), ``support`` (the technician's
tools) and ``hardware`` (cards, spans, gateways).  No logic lives here: each command calls a service
function of the package that owns the concern.
"""

from appliance.cli.linebox import main

__all__ = ["main"]
