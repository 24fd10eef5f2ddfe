"""Which speech recognisers and models are on this box, and which one a robot uses.

Two engines fit :class:`appliance.robot.recognizer.Engine` (8 kHz audio of one utterance in, words out):

* **PocketSphinx** (the ``robot`` extra): its wheel ships a US-English model, so English works out of the
  box; the robot's own phrasings make its grammar (:mod:`.recognizer`).
* **Vosk** (the ``vosk`` extra): larger vocabularies and other languages, Mandarin included, from a model
  the admin downloads elsewhere and unpacks into the install's speech-models folder (``MODELS_FOLDER``
  under the install's home), one folder per model, e.g. ``vosk-model-small-cn-0.22``.  Nothing is fetched
  at run time: a model that is not there is not used.

This module only looks (at installed packages' metadata and at folders): it imports neither engine, so
the console can say what is present without loading a recogniser.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

MODELS_FOLDER = "speech-models"  # under the install's home
# a Vosk model folder's language, from the names Vosk's models are published under
_LANGUAGE_OF_NAME = (("cn", "zh"), ("zh", "zh"), ("en", "en"))


def models_dir(home: Path) -> Path:
    """Where the admin places speech models for the install at ``home``."""
    return home / MODELS_FOLDER


@dataclass(frozen=True)
class EngineInfo:
    name: str  # pocketsphinx | vosk
    version: str  # "" when not installed
    extra: str  # the pip extra that installs it


@dataclass(frozen=True)
class ModelInfo:
    engine: str
    name: str
    language: str  # en | zh | "" (not known from its name)
    path: Path
    usable: bool  # its engine is installed


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package) if importlib.util.find_spec(package) else ""
    except (importlib.metadata.PackageNotFoundError, ValueError, ImportError):
        return ""


def engines() -> list[EngineInfo]:
    return [EngineInfo("pocketsphinx", _version("pocketsphinx"), "robot"),
            EngineInfo("vosk", _version("vosk"), "vosk")]


def _pocketsphinx_model() -> Path | None:
    """The en-US model inside the pocketsphinx package (found without importing it)."""
    spec = importlib.util.find_spec("pocketsphinx")
    if spec is None or not spec.submodule_search_locations:
        return None
    model = Path(list(spec.submodule_search_locations)[0]) / "model" / "en-us"
    return model if (model / "en-us").is_dir() else None


def is_vosk_model(folder: Path) -> bool:
    """A Vosk (Kaldi) model as its archives unpack: an acoustic model and its feature settings."""
    return (folder / "am" / "final.mdl").is_file() and (folder / "conf").is_dir()


def language_of(name: str) -> str:
    words = set(re.split(r"[^a-z]+", name.lower()))
    return next((language for word, language in _LANGUAGE_OF_NAME if word in words), "")


def models(models_dir: Path) -> list[ModelInfo]:
    """The models present: PocketSphinx's own, then each Vosk model folder in ``models_dir``."""
    found: list[ModelInfo] = []
    sphinx = _pocketsphinx_model()
    if sphinx is not None:
        found.append(ModelInfo("pocketsphinx", "en-us", "en", sphinx, True))
    vosk_installed = bool(_version("vosk"))
    if models_dir.is_dir():
        for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
            if is_vosk_model(folder):
                found.append(ModelInfo("vosk", folder.name, language_of(folder.name), folder, vosk_installed))
    return found


def model_for(language: str, models_dir: Path) -> ModelInfo | None:
    """The model a robot speaking ``language`` listens with: PocketSphinx's for English (the tested default),
    a Vosk model of the language placed by the admin for any other (Mandarin); for a language with neither,
    PocketSphinx's English model, which still hears "agent" in English.  None: no recogniser at all."""
    present = [m for m in models(models_dir) if m.usable]
    return (next((m for m in present if m.language == language), None)
            or next((m for m in present if m.engine == "pocketsphinx"), None))
