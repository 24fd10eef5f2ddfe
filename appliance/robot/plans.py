"""A robot's site object turned into what the server needs for a call: phrasings, answers' audio, engine.

The answers' audio comes from ``speak(text, language)`` (the services layer speaks with espeak-ng into
the install's sounds folder, as an IVR greeting is, and reads the ``.sln`` back), or for an answer that is
an uploaded recording from ``recorded("custom/NAME")`` (its ``.sln``, converted at upload); a recogniser is built
once per distinct grammar and reused by every later call of that robot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from appliance.robot import matcher
from appliance.robot.calls import NOT_UNDERSTOOD
from appliance.robot.recognizer import PocketSphinx
from appliance.robot.server import RobotPlan
from appliance.site import schemas, service

Speak = Callable[[str, str], bytes]
Recorded = Callable[[str], bytes]  # an uploaded sound's (custom/NAME) 8 kHz slin samples

_engines: dict[tuple[str, ...], PocketSphinx] = {}
_engines_lock = threading.Lock()


def engine_for(phrases: tuple[str, ...], folder: Path) -> PocketSphinx:
    with _engines_lock:
        engine = _engines.get(phrases)
        if engine is None:
            engine = _engines[phrases] = PocketSphinx(phrases, folder)
        return engine


def answer_audio(entry: schemas.RobotEntry, language: str, speak: Speak, recorded: Recorded) -> bytes:
    """An entry's answer as the caller hears it: its uploaded recording, else its text spoken."""
    return recorded(entry.answer_sound) if entry.answer_sound else speak(entry.answer, language)


def plan(robot: schemas.Robot, speak: Speak, folder: Path, recorded: Recorded) -> RobotPlan:
    phrasings = [matcher.phrasings(entry.questions) for entry in robot.entries]
    phrases = tuple(sorted({p for options in phrasings for p in options} | set(matcher.HANDOVER_PHRASES)))
    return RobotPlan(
        name=robot.name, language=robot.language, phrasings=phrasings,
        answers=[answer_audio(entry, robot.language, speak, recorded) for entry in robot.entries],
        thens=[entry.then for entry in robot.entries],
        not_understood=speak(NOT_UNDERSTOOD[robot.language], robot.language),
        engine=engine_for(phrases, folder))


def names() -> list[str]:
    return [robot.name for robot in service.list_objects("robot") if isinstance(robot, schemas.Robot)]


def plan_named(name: str, speak: Speak, folder: Path, recorded: Recorded) -> RobotPlan | None:
    robot = service.get_object("robot", name)
    return plan(robot, speak, folder, recorded) if isinstance(robot, schemas.Robot) else None
