"""What the caller said, matched to a robot's entries with RapidFuzz.

Both sides are normalised (lower case, words only) and compared with ``token_sort_ratio``: the score of
the best phrasing of each entry counts, and only a score of at least ``THRESHOLD`` is an answer.  A
recogniser held to a grammar may stop inside a phrase ("what are"): such a part scores low against
every whole phrasing ("what are your opening" scores 87.5 against "what are your opening hours"), so
it is taken as not understood rather than guessed.  Asking for a person
("agent", "operator", "人工", ...) wins over any entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THRESHOLD = 90.0
# words or phrases that always mean "a person, please", in every robot and language
HANDOVER_WORDS = ("agent", "operator", "person", "human", "representative", "人工", "客服", "转人工")
# what the recogniser's grammar offers for them (English: PocketSphinx's model)
HANDOVER_PHRASES = ("agent", "an agent", "agent please", "speak to an agent", "talk to an agent",
                    "i want an agent", "operator", "a person", "speak to a person", "human")


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces, punctuation gone ("What's up?" -> "what's up")."""
    return " ".join(re.findall(r"[a-z0-9']+|[\u4e00-\u9fff]", text.lower()))


def phrasings(questions: str) -> list[str]:
    """An entry's ``questions`` field ("what are your hours; when are you open") as normalised phrasings."""
    return [p for p in (normalise(q) for q in questions.split(";")) if p]


@dataclass(frozen=True)
class Match:
    entry: int | None  # index of the entry answered; None: none
    score: float
    handover: bool = False


def asks_for_person(text: str) -> bool:
    said = normalise(text)
    words, joined = set(said.split()), said.replace(" ", "")  # Chinese has no spaces between words
    return any((w in words) if w.isascii() else (w in joined) for w in HANDOVER_WORDS)


def match(text: str, entries: list[list[str]], threshold: float = THRESHOLD) -> Match:
    """The entry (by index into ``entries``, each a list of normalised phrasings) ``text`` asks."""
    from rapidfuzz import fuzz  # the "robot" extra: imported by the robot service's calls only
    said = normalise(text)
    if not said:
        return Match(None, 0.0)
    if asks_for_person(said):
        return Match(None, 100.0, handover=True)
    best, best_score = None, 0.0
    for index, options in enumerate(entries):
        for phrasing in options:
            score = fuzz.token_sort_ratio(said, phrasing)
            if score > best_score:
                best, best_score = index, score
    if best is None or best_score < threshold:
        return Match(None, best_score)
    return Match(best, best_score)
