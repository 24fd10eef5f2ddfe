"""The local web console: Flask blueprints over the same service functions the CLI uses.

``app.create_app(install)`` builds the console; ``appliance.services.http_server`` runs it under
cheroot.  Each module is one part of the console (``auth``, ``pages``, ``callcenter``, ``gateways``,
``api``, ...).  This file imports nothing, so a service that needs one blueprint (the provisioning
server serves only ``provisioning``) does not load the whole console.
"""
