"""``linebox-apply.service``: make sure a rendered configuration is live before Asterisk starts.

Asterisk is started with ``-C <home>/asterisk/live/asterisk.conf``.  At boot this oneshot (run as the
``linebox`` user, ordered ``Before=asterisk.service``) checks that the ``live`` link points at a
complete generation, and renders one from the database when it does not (a new install, or a link
lost).  A live generation is never re-rendered here: it is the last one Asterisk accepted, while the
database may hold changes that an apply rolled back; those go live through ``linebox apply`` or the
console, where Asterisk's answer is checked.  The one exception is an apply cut short between its
swap and its verify (killed, power cut): ``live`` then names a generation Asterisk never took, so
``live`` is put back on the ``loaded`` one, the last Asterisk took, before Asterisk starts on it.
Extensions' rows (``appliance.provisioning.projection``) are kept as they were live for the same reason,
and written from the database only when their file is missing.

``python -m appliance.services.boot [--home DIR]``; exit 0 when a generation is live.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from appliance.install import Install, home_dir
from appliance.model.database import close_database
from appliance.provisioning import apply, projection
from appliance.services import journal, notify
from appliance.site import service

log = logging.getLogger("linebox.apply")


def ensure_live(home: Path) -> int:
    install = Install.load(home)
    install.open()
    try:  # a setting added by an upgrade gets its row: the small services read rows (appliance.site.stored)
        service.save_settings({}, "boot")
    finally:
        close_database()
    target = apply.Target(config_root=install.config_root)
    repaired = apply.repair_interrupted(target, user="boot")
    if repaired:
        log.warning("%s", repaired, extra={"LINEBOX_EVENT": "live-repaired"})
    live = target.live_generation()
    if live is not None and (live / "asterisk.conf").is_file():
        if not target.projection_file.exists():  # extensions' rows lost (a restore): made again from the database
            install.open()
            try:
                done = projection.sync(target.projection_file, service.snapshot(), projection.database_revision())
            finally:
                close_database()
            log.warning("extensions' rows were missing: %d written from the database", done.count,
                        extra={"LINEBOX_EVENT": "objects-rebuilt"})
        apply.mark_loaded(target, live)  # Asterisk starts on it next
        log.info("configuration generation %s is live; Asterisk starts on it", live.name,
                 extra={"LINEBOX_EVENT": "live-kept", "LINEBOX_GENERATION": live.name})
        notify.status(f"generation {live.name} live")
        return 0
    install.open()
    try:
        result = apply.apply(service.snapshot(), install.facts(), target, user="boot")
    finally:
        close_database()
    if not result.ok:
        log.error("could not render Asterisk's configuration: %s", result.error,
                  extra={"LINEBOX_EVENT": "render-failed"})
        return 1
    log.info("rendered configuration generation %s and made it live", result.generation,
             extra={"LINEBOX_EVENT": "rendered", "LINEBOX_GENERATION": result.generation or ""})
    notify.status(f"generation {result.generation} live")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m appliance.services.boot", description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="install folder (default $LINEBOX_HOME or "
                                                                 "/var/lib/linebox)")
    args = parser.parse_args(argv)
    journal.setup("linebox-apply")
    try:
        return ensure_live(args.home or home_dir())
    except (OSError, ValueError) as error:
        log.error("%s", error, extra={"LINEBOX_EVENT": "failed"})
        return 1


if __name__ == "__main__":
    sys.exit(main())
