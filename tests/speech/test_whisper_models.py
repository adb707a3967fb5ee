"""Choosing a Whisper model by language, the languages a model can do, and joining the bundled base model."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from faster_whisper.tokenizer import _LANGUAGE_CODES

from actors.errors import EngineUnavailable
from actors.faster_whisper import bundled
from actors.faster_whisper.languages import WHISPER_LANGUAGES, folder_languages, size_languages
from actors.faster_whisper.models import bundled_models, load_model, model_key, model_languages, resolve_model
from actors.faster_whisper.submit import check_language, check_request
from actors.faster_whisper.tasks import TranscribeInput, default_batch_size, expected_languages
from actors.validation import InvalidInput
from actors.worker.warm import WarmModels
from config import load_settings
from config.engines import WhisperSettings

CPU = WhisperSettings()


def test_whisper_language_list_is_faster_whispers() -> None:
    assert list(_LANGUAGE_CODES) == WHISPER_LANGUAGES


def test_english_gets_tiny_en_and_other_or_no_language_the_multilingual_base(tmp_path: Path) -> None:
    models = bundled_models(CPU)
    assert resolve_model(None, CPU, tmp_path, "en") == (models["tiny.en"], "tiny.en")
    assert resolve_model(None, CPU, tmp_path, "es") == (models["base"], "base")
    assert resolve_model(None, CPU, tmp_path) == (models["base"], "base")
    operator = WhisperSettings(language_models={"fr": "tiny.en", "*": "small"})
    assert resolve_model(None, operator, tmp_path, "fr")[1] == "tiny.en"
    assert resolve_model(None, operator, tmp_path, "de") == ("small", "small")
    assert resolve_model(None, WhisperSettings(model="tiny.en"), tmp_path, "de")[1] == "tiny.en"


def test_languages_of_a_model_are_read_from_its_vocabulary_without_loading_it() -> None:
    models = bundled_models(CPU)
    assert folder_languages(Path(models["tiny.en"])) == {"en"}
    assert model_languages(models["base"], CPU) == set(WHISPER_LANGUAGES) - {"yue"}
    assert folder_languages(bundled.base_parts()[0]) == set(WHISPER_LANGUAGES) - {"yue"}
    assert size_languages("large-v3") == set(WHISPER_LANGUAGES)
    assert size_languages("Systran/faster-whisper-small.en") == {"en"}


def test_submit_check_lists_languages_for_an_unknown_code_and_refuses_english_only_models(
    tmp_path: Path,
) -> None:
    settings = load_settings({"TASKGATE_SHARE_DIR": str(tmp_path)})
    with pytest.raises(
        InvalidInput, match=r"'xx' is not a Whisper language code; use one of: af, am, .* zh, yue"
    ) as err:
        check_language(settings, {"audio_path": "a.wav", "language": "xx"})
    assert err.value.pointer == "$.input_data.language"
    with pytest.raises(InvalidInput, match=r"model 'tiny.en' cannot transcribe language 'fr': it knows en; .*'base'"):
        check_language(settings, {"audio_path": "a.wav", "language": "fr", "model": "tiny.en"})
    check_language(settings, {"audio_path": "a.wav", "language": "fr"})
    check_language(settings, {"audio_path": "a.wav", "language": "en", "model": "tiny.en"})
    check_language(settings, {"audio_path": "a.wav"})


def test_base_model_is_joined_once_into_the_models_dir_atomically(tmp_path: Path) -> None:
    settings = WhisperSettings(models_dir=str(tmp_path / "models"))
    folder = Path(bundled_models(settings)["base"])
    assert not folder.exists()  # nothing happens before a load
    first, second = bundled.base_parts()
    assert bundled.ensure_base(folder) == folder
    size = (folder / "model.bin").stat().st_size
    assert size == (first / "model.bin.part1").stat().st_size + (second / "model.bin.part2").stat().st_size
    mtime = (folder / "model.bin").stat().st_mtime_ns
    bundled.ensure_base(folder)
    assert (folder / "model.bin").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no staging folder left


def test_unwritable_models_dir_names_the_setting(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    settings = WhisperSettings(models_dir=str(tmp_path / "file"))
    with pytest.raises(EngineUnavailable, match=r"faster_whisper\.models_dir"):
        bundled.ensure_base(Path(bundled_models(settings)["base"]))


def test_corrupt_model_folder_fails_naming_the_setting(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"\0" * 1024)
    (broken / "tokenizer.json").write_text("{}")
    settings = WhisperSettings(language_models={"*": str(broken)})
    source, _ = resolve_model(None, settings, tmp_path, "de")
    with pytest.raises(EngineUnavailable, match=r"faster_whisper\.language_models\['\*'\]"):
        load_model(model_key(source, settings, None), settings, WarmModels())


def test_cpu_decodes_vad_windows_one_by_one_by_default_and_batching_without_the_vad_is_refused(
    tmp_path: Path,
) -> None:
    assert default_batch_size(TranscribeInput(audio_path="a.wav"), "cpu") == 1
    assert default_batch_size(TranscribeInput(audio_path="a.wav"), "cuda") == 16
    assert default_batch_size(TranscribeInput(audio_path="a.wav", vad_filter=False), "cuda") == 0
    assert default_batch_size(TranscribeInput(audio_path="a.wav", batch_size=0), "cpu") == 0
    settings = load_settings({"TASKGATE_SHARE_DIR": str(tmp_path)})
    with pytest.raises(InvalidInput, match=r"batch_size > 0 .* needs vad_filter true; use batch_size 0") as err:
        check_request(settings, {"audio_path": "a.wav", "batch_size": 4, "vad_filter": False})
    assert err.value.pointer == "$.input_data.batch_size"
    check_request(settings, {"audio_path": "a.wav", "batch_size": 0, "vad_filter": False})
    check_request(settings, {"audio_path": "a.wav", "vad_filter": False, "language": "en"})


def test_languages_hint_is_checked_at_submit_like_language(tmp_path: Path) -> None:
    settings = load_settings({"TASKGATE_SHARE_DIR": str(tmp_path)})
    with pytest.raises(InvalidInput, match=r"'xx' is not a Whisper language code; use one of: af, am") as err:
        check_language(settings, {"audio_path": "a.wav", "languages": ["fr", "xx"]})
    assert err.value.pointer == "$.input_data.languages[1]"
    with pytest.raises(InvalidInput, match=r"give either `language`.* or `languages`") as err:
        check_language(settings, {"audio_path": "a.wav", "language": "fr", "languages": ["fr", "en"]})
    assert err.value.pointer == "$.input_data.languages"
    with pytest.raises(InvalidInput, match=r"model 'tiny.en' cannot transcribe language 'fr'") as err:
        check_language(settings, {"audio_path": "a.wav", "languages": ["en", "fr"], "model": "tiny.en"})
    assert err.value.pointer == "$.input_data.languages"
    check_language(settings, {"audio_path": "a.wav", "languages": ["fr", "en"]})
    check_language(settings, {"audio_path": "a.wav", "languages": ["en"], "model": "tiny.en"})
    with pytest.raises(msgspec.ValidationError, match=r"Expected `array` of length >= 1"):
        msgspec.convert({"audio_path": "a.wav", "languages": []}, TranscribeInput)
    with pytest.raises(msgspec.ValidationError, match=r"languages\[0\]"):
        msgspec.convert({"audio_path": "a.wav", "languages": ["FR"]}, TranscribeInput)


def test_the_request_language_wins_then_its_languages_then_the_deployments() -> None:
    def expect(deployment: list[str], **fields: object) -> tuple[str | None, tuple[str, ...]]:
        return expected_languages(msgspec.convert({"audio_path": "a.wav", **fields}, TranscribeInput), deployment)

    assert expect(["fr", "en"], language="de") == ("de", ())
    assert expect(["fr", "en"], languages=["es", "it", "es"]) == (None, ("es", "it"))
    assert expect(["fr", "en"]) == (None, ("fr", "en"))
    assert expect(["fr"]) == ("fr", ())  # one expected language: decoded in it, not detected
    assert expect([], languages=["it"]) == ("it", ())
    assert expect([]) == (None, ())
    with pytest.raises(EngineUnavailable, match=r"faster_whisper.languages lists \['xx'\]"):
        expect(["fr", "xx"])
    assert load_settings({"TASKGATE_FASTER_WHISPER__LANGUAGES": '["fr", "en"]'}).faster_whisper.languages == [
        "fr",
        "en",
    ]
