"""A robot's site object turned into what the server needs for a call: phrasings, answers' audio, engine.

The answers' audio comes from ``speak(text, language)`` (the services layer speaks with espeak-ng into
the install's sounds folder, as an IVR greeting is, and reads the ``.sln`` back), or for an answer that is
an uploaded recording from ``recorded("custom/NAME")`` (its ``.sln``, converted at upload); a recogniser is built
once per distinct model and grammar and reused by every later call (:mod:`.engines` says which model).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from appliance.robot import engines, matcher
from appliance.robot.calls import NOT_UNDERSTOOD
from appliance.robot.recognizer import Deaf, Engine, PocketSphinx
from appliance.robot.server import RobotPlan
from appliance.site import schemas, service

log = logging.getLogger("linebox.robot")

Speak = Callable[[str, str], bytes]
Recorded = Callable[[str], bytes]  # an uploaded sound's (custom/NAME) 8 kHz slin samples

_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(language: str, phrases: tuple[str, ...], folder: Path, models_dir: Path) -> Engine:
    """The recogniser of a robot speaking ``language`` with the grammar ``phrases`` (``folder``: where
    grammar files go): the model :func:`.engines.model_for` picks, built once and shared by later calls."""
    model = engines.model_for(language, models_dir)
    key = (model.engine if model else "", str(model.path) if model else "", phrases)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            if model is None:
                engine = Deaf()
            elif model.engine == "vosk":
                engine = _vosk_or_english(model.path, phrases, folder)
            else:
                engine = PocketSphinx(phrases, folder)
            _engines[key] = engine
        return engine


def _vosk_or_english(model: Path, phrases: tuple[str, ...], folder: Path) -> Engine:
    """Vosk with the admin's model; a model Vosk cannot load (a broken or half-copied folder) is logged and
    the robot hears with PocketSphinx's English model instead, rather than failing every call."""
    try:
        from appliance.robot.vosk_engine import Vosk
        return Vosk(model, phrases)
    except Exception as error:  # vosk raises a bare Exception("Failed to create a model")
        log.error("voice robot: the speech model %s cannot be used (%s); PocketSphinx's English model listens "
                  "instead", model, error, extra={"LINEBOX_EVENT": "robot-model-unusable"})
        return PocketSphinx(phrases, folder)


def answer_audio(entry: schemas.RobotEntry, language: str, speak: Speak, recorded: Recorded) -> bytes:
    """An entry's answer as the caller hears it: its uploaded recording, else its text spoken."""
    return recorded(entry.answer_sound) if entry.answer_sound else speak(entry.answer, language)


def plan(robot: schemas.Robot, speak: Speak, folder: Path, recorded: Recorded, models_dir: Path) -> RobotPlan:
    phrasings = [matcher.phrasings(entry.questions) for entry in robot.entries]
    phrases = tuple(sorted({p for options in phrasings for p in options} | set(matcher.HANDOVER_PHRASES)))
    return RobotPlan(
        name=robot.name, language=robot.language, phrasings=phrasings,
        answers=[answer_audio(entry, robot.language, speak, recorded) for entry in robot.entries],
        thens=[entry.then for entry in robot.entries],
        not_understood=speak(NOT_UNDERSTOOD[robot.language], robot.language),
        engine=engine_for(robot.language, phrases, folder, models_dir))


def names() -> list[str]:
    return [robot.name for robot in service.list_objects("robot") if isinstance(robot, schemas.Robot)]


def plan_named(name: str, speak: Speak, folder: Path, recorded: Recorded, models_dir: Path) -> RobotPlan | None:
    robot = service.get_object("robot", name)
    return plan(robot, speak, folder, recorded, models_dir) if isinstance(robot, schemas.Robot) else None
