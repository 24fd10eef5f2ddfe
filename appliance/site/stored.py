"""Single settings and per-install secrets read straight from their rows, without the site's schemas.

The small services need two or three values: FastAGI its port and whether caller names are looked
up, the event collector the AMI port and secret.  Validating the whole ``Settings`` model means
importing pydantic and every object schema, about 10 MB in each of those processes (the appliance
aims to run all its services in under 150 MB).  Rows hold ``str()`` of the validated value
(``service.save_settings``), so they read back as "5038" or "True".
"""

from __future__ import annotations

from collections.abc import Callable

from appliance.model.models import Setting

SETTINGS_PREFIX = "site."
SECRET_PREFIX = "secret."


def setting(name: str) -> str:
    """The stored text of site setting ``name``; its default when it was never stored."""
    row = Setting.get_or_none(Setting.key == SETTINGS_PREFIX + name)
    if row is not None:
        return row.value
    # never stored: the schema knows its default (slow; init-system and the boot-time apply store every
    # setting's default, see service.store_default_settings, so the appliance does not come here)
    from appliance.site import service
    return str(getattr(service.load_settings(), name))


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
    """A per-install secret (AMI password, web session key): made once by ``factory``, then stable."""
    row = Setting.get_or_none(Setting.key == SECRET_PREFIX + name)
    if row is None:
        value = factory()
        Setting.insert(key=SECRET_PREFIX + name, value=value).on_conflict_ignore().execute()
        row = Setting.get(Setting.key == SECRET_PREFIX + name)
    return row.value
