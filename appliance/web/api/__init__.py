"""The REST API at ``/api/v1`` (see docs/api.md): ``app.register_blueprint(api.blueprint)``.

Registering the blueprint also exempts it from Flask-WTF's form CSRF check, which would answer
with an HTML page; ``core`` checks CSRF itself for requests made with the console's session.
"""

from __future__ import annotations

from appliance.web.api import routes  # noqa: F401  (registers the endpoints on the blueprint)
from appliance.web.api.core import PREFIX, blueprint


def _exempt_from_form_csrf(state) -> None:
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(blueprint)


blueprint.record_once(_exempt_from_form_csrf)

__all__ = ["PREFIX", "blueprint"]
