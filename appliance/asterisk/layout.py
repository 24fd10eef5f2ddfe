"""Where Debian's Asterisk keeps things: the ``[directories]`` of asterisk.conf and Linebox's sounds folder.

Kept apart from the renderer so that what only needs the paths (``appliance.install``, and through it
every service) does not load the templates, the schemas and the hardware catalogue.
"""

from __future__ import annotations

DEFAULT_DIRECTORIES = {
    "astcachedir": "/var/cache/asterisk",
    "astetcdir": "/etc/asterisk",
    "astmoddir": "/usr/lib/x86_64-linux-gnu/asterisk/modules",
    "astvarlibdir": "/var/lib/asterisk",
    "astdbdir": "/var/lib/asterisk",
    "astkeydir": "/var/lib/asterisk",
    "astdatadir": "/usr/share/asterisk",
    "astagidir": "/usr/share/asterisk/agi-bin",
    "astspooldir": "/var/spool/asterisk",
    "astrundir": "/var/run/asterisk",
    "astlogdir": "/var/log/asterisk",
    "astsbindir": "/usr/sbin",
}
# Where Linebox keeps uploaded and spoken sounds, as Asterisk sees it (the dialplan names them by path).
DEFAULT_SOUNDS_DIR = "/var/lib/asterisk/sounds/linebox"
