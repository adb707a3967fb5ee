"""One device rule for every engine: the setting, the leased GPU and what each engine's lease rule reads."""

from __future__ import annotations

import msgspec
import pytest

from actors.engine_device import EngineDevice, device_kind, engine_device, has_gpu_device, uses_cuda
from actors.registry import REGISTRY
from config import Settings


@pytest.mark.parametrize(
    ("setting", "leased", "expected"),
    [
        ("cpu", None, EngineDevice("cpu", 0)),
        ("cpu", 3, EngineDevice("cpu", 0)),  # a lease taken for another engine of the task does not move it
        ("cuda", 2, EngineDevice("cuda", 2)),
        ("cuda", None, EngineDevice("cuda", 0)),  # a direct call, without a lease
    ],
)
def test_an_engine_runs_where_its_setting_and_its_lease_say(
    setting: str, leased: int | None, expected: EngineDevice
) -> None:
    assert engine_device(setting, leased) == expected


def test_auto_follows_the_host_and_torch_names_the_index() -> None:
    assert device_kind("auto") == ("cuda" if has_gpu_device() else "cpu")
    assert EngineDevice("cuda", 1).torch_name == "cuda:1"
    assert EngineDevice("cpu").torch_name == "cpu"


@pytest.mark.parametrize(
    ("task_name", "section"),
    [
        ("faster_whisper.transcribe_audio", "faster_whisper"),
        ("pyannote_audio.diarize_speakers", "pyannote"),
        ("paddleocr.extract_subtitles", "ocr"),
        ("tts.synthesize", "tts"),
    ],
)
def test_each_engine_takes_a_lease_exactly_when_the_rule_puts_it_on_cuda(task_name: str, section: str) -> None:
    spec = REGISTRY[task_name]
    for setting in ("cpu", "cuda"):
        settings = msgspec.convert({section: {"device": setting}}, Settings)
        assert spec.uses_gpu(settings) is uses_cuda(setting), (task_name, setting)
