"""``N_``: marks a user-facing English string for the console's catalog without translating it.

The layers below the console keep their words in English (labels of kinds, fields and choices, states);
``make i18n-extract`` finds them by this mark, and the console shows them through gettext
(``appliance.web.i18n``) in the reader's language.  A leaf: it imports nothing of Linebox.
"""

from __future__ import annotations


def N_(text: str) -> str:  # noqa: N802 (gettext's own name for it)
    """``text`` unchanged: the mark only tells the extraction that it is a message."""
    return text


__all__ = ["N_"]
