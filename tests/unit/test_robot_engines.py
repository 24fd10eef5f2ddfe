"""Which recognisers and models the box has, and which one a robot listens with (``appliance.robot.engines``).

PocketSphinx and its model are the dev venv's real package (the ``robot`` extra).  No Vosk model can be had
here, so a Vosk model folder is laid out as its archives unpack (``am/final.mdl``, ``conf/``): only its
finding and choosing are checked, never recognition with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.robot import engines


def _vosk_model(folder: Path) -> Path:
    (folder / "am").mkdir(parents=True)
    (folder / "am" / "final.mdl").write_bytes(b"\0")
    (folder / "conf").mkdir()
    return folder


@pytest.mark.parametrize(("name", "language"), [
    ("vosk-model-small-cn-0.22", "zh"), ("vosk-model-cn-kaldi-multicn", "zh"), ("vosk-model-small-en-us-0.15", "en"),
    ("vosk-model-fr-0.22", "")])
def test_a_models_language_comes_from_its_published_name(name, language):
    assert engines.language_of(name) == language


def test_the_models_present_are_pocketsphinxs_own_and_the_vosk_folders_placed(tmp_path, monkeypatch):
    import pocketsphinx
    installed = {e.name: e.version for e in engines.engines()}
    assert installed["pocketsphinx"] == "5.1.1"
    folder = engines.models_dir(tmp_path)
    assert [(m.engine, m.name, m.language) for m in engines.models(folder)] == [("pocketsphinx", "en-us", "en")]
    assert engines.models(folder)[0].path == Path(pocketsphinx.get_model_path()) / "en-us"
    _vosk_model(folder / "vosk-model-small-cn-0.22")
    (folder / "notes").mkdir()  # not a model
    (folder / "half-unpacked" / "am").mkdir(parents=True)  # no final.mdl yet: not a model either
    found = engines.models(folder)
    assert [(m.engine, m.name, m.language) for m in found] == [("pocketsphinx", "en-us", "en"),
                                                               ("vosk", "vosk-model-small-cn-0.22", "zh")]
    assert found[1].usable == bool(installed["vosk"])


def test_a_robot_listens_with_the_model_of_its_language(tmp_path, monkeypatch):
    folder = engines.models_dir(tmp_path)
    _vosk_model(folder / "vosk-model-small-cn-0.22")
    _vosk_model(folder / "vosk-model-small-en-us-0.15")
    monkeypatch.setattr(engines, "_version", lambda package: "" if package == "vosk" else "5.1.1")
    # no Vosk installed: English with PocketSphinx, Mandarin too (it hears "agent" in English; 0 works)
    assert engines.model_for("en", folder).engine == "pocketsphinx"
    assert engines.model_for("zh", folder).engine == "pocketsphinx"
    monkeypatch.setattr(engines, "_version", lambda package: "0.3.45" if package == "vosk" else "5.1.1")
    assert engines.model_for("en", folder).engine == "pocketsphinx"  # the tested default stays
    chosen = engines.model_for("zh", folder)
    assert (chosen.engine, chosen.name) == ("vosk", "vosk-model-small-cn-0.22")


def test_without_any_recogniser_nothing_is_understood(tmp_path, monkeypatch):
    from appliance.robot import plans
    from appliance.robot.recognizer import Deaf
    monkeypatch.setattr(engines, "_pocketsphinx_model", lambda: None)
    assert engines.model_for("zh", tmp_path) is None
    engine = plans.engine_for("zh", ("ni hao",), tmp_path / "grammars", tmp_path)
    assert isinstance(engine, Deaf) and engine.recognise(b"\1\0" * 8000) == ""


def test_a_model_vosk_cannot_load_leaves_the_robot_listening_in_english(tmp_path, monkeypatch, caplog):
    from appliance.robot import plans
    from appliance.robot.recognizer import PocketSphinx
    folder = engines.models_dir(tmp_path)
    _vosk_model(folder / "vosk-model-small-cn-0.22")  # no real model inside (or no vosk at all here)
    monkeypatch.setattr(engines, "_version", lambda package: "0.3.45" if package == "vosk" else "5.1.1")
    engine = plans.engine_for("zh", ("agent", "speak to an agent"), tmp_path / "grammars", folder)
    assert isinstance(engine, PocketSphinx)
    assert "vosk-model-small-cn-0.22 cannot be used" in caplog.text
