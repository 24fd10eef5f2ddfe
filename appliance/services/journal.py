"""Logging for Linebox's services: the journal with structured fields under systemd, stderr elsewhere.

Under systemd (``$JOURNAL_STREAM`` set) records go to journald through python-systemd's
``JournalHandler``: the message plus ``PRIORITY``, ``SYSLOG_IDENTIFIER``, ``CODE_FILE``/``CODE_LINE``,
``LOGGER`` and every upper-case ``extra=`` key (``LINEBOX_EVENT``, ``LINEBOX_URL``, ...), so
``journalctl -u linebox-web LINEBOX_EVENT=ready`` finds them.  Without python-systemd, stderr lines
carry a ``<N>`` syslog priority prefix, which journald understands (``SyslogLevelPrefix=``).
Elsewhere: plain timestamped lines on stderr.
"""

from __future__ import annotations

import logging
import os
import sys

# logging levels to syslog priorities (journald's PRIORITY=)
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


class _PriorityPrefix(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def under_journal() -> bool:
    return bool(os.environ.get("JOURNAL_STREAM"))


def setup(identifier: str, level: int = logging.INFO) -> logging.Handler:
    """Route the root logger for a service called ``identifier``; return the handler installed."""
    handler: logging.Handler
    if under_journal():
        try:
            from systemd.journal import JournalHandler  # here: python-systemd is optional, needed only under journald
            handler = JournalHandler(SYSLOG_IDENTIFIER=identifier)
        except ImportError:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(_PriorityPrefix("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"%(asctime)s {identifier} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
