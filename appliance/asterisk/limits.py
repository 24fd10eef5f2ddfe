"""What Asterisk cannot take, checked before Linebox writes it (Asterisk would only log a WARNING).

Its configuration parser (``main/config.c``) reads each line into an 8,192-byte buffer: a line of
more than 8,190 characters, with its newline more than the buffer holds, is skipped whole with
``Line N too long, skipping`` and the module runs without it (a ring group's ``Dial()`` that only
hangs up).  Measured on Debian's Asterisk 22: 8,190 characters load, 8,191 are skipped.
"""

from __future__ import annotations

CONFIG_LINE_MAX = 8190
