"""Single settings and per-install secrets read straight from their rows, without the site's schemas.

The small services need two or three values: FastAGI its port and whether caller names are looked
up, the event collector the AMI port and secret.  Validating the whole ``Settings`` model means
importing pydantic and every object schema, about 10 MB in each of those processes (the appliance
aims to run all its services in under 150 MB).  Rows hold ``str()`` of the validated value
(``service.save_settings``), so they read back as "5038" or "True".

``load_settings`` (every setting, validated) lives here too, as the settings' one reader; it loads
the schemas only when called, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from appliance.model import sealed
from appliance.model.models import Setting

if TYPE_CHECKING:
    from appliance.site import schemas

SETTINGS_PREFIX = "site."


def load_settings() -> schemas.Settings:
    """Every site setting, validated (defaults for those never stored)."""
    from appliance.site import schemas  # only when asked: the small services read single rows (setting)

    values = {row.key[len(SETTINGS_PREFIX):]: row.value
              for row in Setting.select().where(Setting.key.startswith(SETTINGS_PREFIX))}
    return schemas.Settings.model_validate(values)


def setting(name: str) -> str:
    """The stored text of site setting ``name``; its default when it was never stored."""
    row = Setting.get_or_none(Setting.key == SETTINGS_PREFIX + name)
    if row is not None:
        return row.value
    # never stored: the schema knows its default (slow; init-system and the boot-time apply store every
    # setting's default, with service.save_settings({}), so the appliance does not come here)
    return str(getattr(load_settings(), name))


def flag(name: str) -> bool:
    """A yes/no site setting."""
    return setting(name).strip().lower() in ("true", "1", "yes", "on")


def number(name: str) -> int:
    """A numeric site setting (a port, a count)."""
    value = setting(name)
    if not value.strip().isdigit():
        raise ValueError(f"setting {name}: {value!r} is not a number (fix it with the console or linebox config)")
    return int(value)


def internal_secret(name: str, factory: Callable[[], str]) -> str:
    """A per-install secret (AMI password, web session key): made once by ``factory``, then stable.

    Kept in the key file beside the database, never in it (``appliance.model.sealed``)."""
    return sealed.current().internal_secret(name, factory)
