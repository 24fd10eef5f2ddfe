"""How guessable a SIP password or a voicemail PIN is: the rules ``appliance.site.policy`` enforces.

Apart from the policy so that the schemas' generators (``schemas.strong_secret``, ``schemas.random_pin``)
can draw again when a draw happens to look weak, without the schemas importing the policy.
"""

from __future__ import annotations

MIN_DISTINCT = 6  # a 12-character secret with fewer different characters is a pattern, not a secret
SEQUENCE_RUN = 5  # this many characters in a row on a straight line (abcde, 54321, aaaaa) ...
SEQUENCE_SHARE = 0.5  # ... covering this share of the secret makes it guessable


def _steps(value: str) -> list[int]:
    return [ord(b) - ord(a) for a, b in zip(value, value[1:], strict=False)]


def _period(value: str) -> int:
    """The length of the shortest unit ``value`` repeats (``abcabcabc``: 3; no repetition: its length)."""
    for size in range(1, len(value) // 2 + 1):
        if len(value) % size == 0 and value[:size] * (len(value) // size) == value:
            return size
    return len(value)


def _in_runs(value: str, steps: tuple[int, ...], run: int) -> int:
    """How many characters of ``value`` sit in runs of at least ``run`` characters that each differ from the
    one before by the same step, one of ``steps`` (1: abcde, -1: 54321, 0: aaaaa)."""
    lowered = value.lower()
    covered = [False] * len(value)
    diffs = _steps(lowered)
    start = 0
    for i in range(1, len(diffs) + 1):
        if i == len(diffs) or diffs[i] != diffs[start]:
            if diffs and diffs[start] in steps and i - start + 1 >= run:
                for j in range(start, i + 1):
                    covered[j] = True
            start = i
    return sum(covered)


def secret_weakness(value: str, owner: str = "") -> str | None:
    """Why a SIP password is guessable, or None.  ``owner`` is the account's user name (the extension number)."""
    if len(set(value)) < MIN_DISTINCT:
        return f"uses fewer than {MIN_DISTINCT} different characters"
    if _period(value) < len(value):
        return "repeats a shorter pattern"
    if _in_runs(value, (-1, 0, 1), SEQUENCE_RUN) >= len(value) * SEQUENCE_SHARE:
        return "is mostly a run of letters or digits in order (up or down) or one repeated character"
    if owner and owner in value:
        return "contains the extension's own number"
    lowered = value.lower()
    for word in ("password", "passwort", "linebox", "asterisk", "qwerty"):
        if word in lowered:
            return f"contains the word '{word}'"
    return None


def pin_weakness(value: str, number: str = "") -> str | None:
    """Why a voicemail PIN is guessable, or None.  ``number`` is the mailbox's number."""
    steps = set(_steps(value))
    if len(set(value)) == 1:
        return "is one digit repeated"
    if len(steps) == 1 and abs(next(iter(steps))) <= 2:
        return "is a run of digits going up or down in equal steps"
    if _period(value) < len(value):
        return "repeats a shorter group of digits"
    if number and (number in value or value in number or value == number[::-1]):
        return "is made from the mailbox's own number"
    return None
