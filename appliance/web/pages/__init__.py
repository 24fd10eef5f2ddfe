"""The console's configuration pages: site objects, extension CSV, apply and rollback, audit log, users.

Every view here is wrapped in ``require_role`` (``appliance.web.roles``): admins
may change things, technicians may look at everything, supervisors and agents
see only the status page for now.  Views read the request, call the service
functions (``appliance.site.service``, ``appliance.access.accounts``,
``appliance.provisioning.apply``) and render; the rules live in those services.
"""

from __future__ import annotations

from flask import Blueprint

from appliance.web import roles

blueprint = Blueprint("pages", __name__)
blueprint.app_context_processor(roles.template_globals)

from appliance.web.pages import apply, audit, bans, crm, csvio, objects, settings, users  # noqa: E402,F401  (registers the views)
