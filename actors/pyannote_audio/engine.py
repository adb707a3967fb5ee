"""pyannote.audio: load the configured diarization pipeline once per process and run it on samples."""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
import yaml

from actors.errors import EngineFailed, EngineUnavailable
from actors.ffmpeg.pcm import SAMPLE_RATE
from actors.pyannote_audio.bundled import BUNDLED, build_pipeline, bundled_files
from actors.pyannote_audio.refine import Embed, split_turns
from actors.pyannote_audio.smooth import smooth_turns
from actors.pyannote_audio.turns import Asked, DiarizationFile, Turn, speakers_of
from actors.worker.warm import WARM
from config.engines import PyannoteSettings

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = structlog.get_logger(__name__)

_HOW_TO = (
    "set pyannote.pipeline (TASKGATE_PYANNOTE__PIPELINE) to 'bundled' (the offline default: pip install "
    "'taskgate[diarization]'), to a local pipeline folder with a config.yaml, or to a hub name such as "
    "pyannote/speaker-diarization-community-1 with a token in $HF_TOKEN on a host with network"
)
# the share of progress each pipeline step ends at (embeddings are most of the work)
_STEP_END = {"segmentation": 0.3, "speaker_counting": 0.35, "embeddings": 0.95, "discrete_diarization": 1.0}
_STEP_START = {"segmentation": 0.0, "speaker_counting": 0.3, "embeddings": 0.35, "discrete_diarization": 0.95}

Hook = Callable[[float], None]
_SHORTEST_S = 0.1


def pipeline_source(settings: PyannoteSettings) -> tuple[str, str | None]:
    """Return ``(checkpoint, token)``: a local folder with ``config.yaml``, or a hub name and its token.

    Raises:
        EngineUnavailable: nothing is configured, the folder has no config.yaml, or a hub name has no token.
    """
    name = settings.pipeline
    if not name:
        raise EngineUnavailable(f"no diarization pipeline is configured: {_HOW_TO}")
    if name == BUNDLED:
        return name, None
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.yaml").is_file():
            raise EngineUnavailable(f"pipeline folder {name!r} has no config.yaml: {_HOW_TO}")
        return str(folder), None
    if folder.is_absolute() or name.startswith("."):
        raise EngineUnavailable(f"pipeline folder {name!r} does not exist: {_HOW_TO}")
    token = os.environ.get(settings.token_env)
    if not token:
        raise EngineUnavailable(f"pipeline {name!r} is on the hub and ${settings.token_env} is not set: {_HOW_TO}")
    return name, token


def _import_pipeline_class(settings: PyannoteSettings) -> Any:
    os.environ["PYANNOTE_METRICS_ENABLED"] = "1" if settings.telemetry else "0"
    try:
        with warnings.catch_warnings():
            # samples are passed in memory: pyannote's file decoder (torchcodec) is never used
            warnings.filterwarnings("ignore", message=r"\s*torchcodec is not installed correctly")
            from pyannote.audio import Pipeline  # noqa: PLC0415
    except ImportError as exc:
        raise EngineUnavailable(
            f"pyannote.audio is not installed ({exc}): pip install 'taskgate[diarization]'"
        ) from None
    except OSError as exc:  # a native library that does not match torch
        raise EngineUnavailable(
            f"pyannote.audio cannot load its native libraries ({exc}); with a CPU-only torch run "
            "`python -m taskgate.torchaudio_cpu`"
        ) from None
    return Pipeline


def load_pipeline(key: tuple[str, str], settings: PyannoteSettings, token: str | None) -> tuple[Any, bool]:
    """Return ``(pipeline, loaded_now)`` for ``(checkpoint, device)``, warm in this process after its first use.

    Runs on one pipeline are serial: hold ``WARM.run_lock("pyannote", key)`` around each.

    Raises:
        EngineUnavailable: pyannote is missing or the pipeline cannot be loaded.
    """
    return WARM.get("pyannote", key, lambda: _load(key, settings, token))


def _load(key: tuple[str, str], settings: PyannoteSettings, token: str | None) -> Any:
    pipeline_class = _import_pipeline_class(settings)
    import torch  # noqa: PLC0415

    checkpoint, device = key
    if checkpoint == BUNDLED:
        pipeline = build_pipeline(pipeline_class, bundled_files())
        pipeline.to(torch.device(device))
        return pipeline
    try:
        pipeline = pipeline_class.from_pretrained(checkpoint, token=token, cache_dir=settings.cache_dir)
        if pipeline is None:
            raise EngineUnavailable(f"pipeline {checkpoint!r} could not be downloaded (gated?): {_HOW_TO}")
        pipeline.to(torch.device(device))
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, pickle.UnpicklingError, yaml.YAMLError) as exc:
        # a folder that is not a pipeline: unreadable weights (pickle), a bad config.yaml, wrong parameters
        raise EngineUnavailable(
            f"cannot load the diarization pipeline {checkpoint!r} (pyannote.pipeline): {exc}; {_HOW_TO}"
        ) from None
    return pipeline


def bundled_embedding(pipeline: Any) -> Embed | None:
    """The bundled pipeline's CAM++ as a function of samples; None for any other pipeline (left as it is)."""
    import torch  # noqa: PLC0415

    from actors.pyannote_audio.campplus import CamPlusPlus  # noqa: PLC0415  (torch and pyannote: worker only)

    model = getattr(getattr(pipeline, "_embedding", None), "model_", None)
    if not isinstance(model, CamPlusPlus):
        return None

    def embed(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        with torch.inference_mode():
            rows = torch.from_numpy(samples).reshape(samples.shape[0], 1, -1)
            vectors: npt.NDArray[np.float32] = model(rows).cpu().numpy()
        return vectors

    return embed


def _turns(annotation: Any, duration_s: float) -> list[Turn]:
    turns = []
    for segment, _track, label in annotation.itertracks(yield_label=True):
        start, end = max(0.0, float(segment.start)), min(duration_s, float(segment.end))
        if end > start:
            turns.append(Turn(speaker=str(label), start=round(start, 3), end=round(end, 3)))
    return turns


def diarize(
    pipeline: Any,
    audio: npt.NDArray[np.float32],
    speakers: dict[str, int],
    on_progress: Hook | None = None,
    *,
    refine: bool = True,
) -> DiarizationFile:
    """Diarize mono 16 kHz samples; ``speakers`` holds num_speakers / min_speakers / max_speakers.

    Raises:
        EngineFailed: the pipeline raised on this audio.
        TaskCancelled: raised by ``on_progress`` to stop early.
    """
    import torch  # noqa: PLC0415

    def hook(
        step: str, _artefact: Any, file: Any = None, total: int | None = None, completed: int | None = None
    ) -> None:
        if on_progress is not None and step in _STEP_END:
            # pyannote counts batch items in ``completed``: it can pass ``total``
            share = min(1.0, completed / total) if total and completed is not None else 1.0
            on_progress(_STEP_START[step] + share * (_STEP_END[step] - _STEP_START[step]))

    duration_s = audio.shape[0] / SAMPLE_RATE
    if duration_s < _SHORTEST_S:  # nothing to diarize (pyannote's windows need samples)
        return DiarizationFile(segments=[], speakers=[], duration_s=round(duration_s, 3), asked=Asked(**speakers))
    waveform = {"waveform": torch.from_numpy(audio).unsqueeze(0), "sample_rate": SAMPLE_RATE}
    try:
        result = pipeline(waveform, hook=hook, **speakers)
    except (RuntimeError, ValueError, IndexError) as exc:
        raise EngineFailed(f"diarization failed: {exc}") from None
    annotation = getattr(result, "speaker_diarization", result)
    exclusive = getattr(result, "exclusive_speaker_diarization", None)
    turns = _turns(annotation, duration_s)
    exclusive_turns = _turns(exclusive, duration_s) if exclusive is not None else []
    found = DiarizationFile(
        segments=turns,
        speakers=speakers_of(turns),
        duration_s=round(duration_s, 3),
        exclusive_segments=exclusive_turns,
        asked=Asked(**speakers),
    )
    return refined(pipeline, audio, found) if refine else found


def refined(pipeline: Any, audio: npt.NDArray[np.float32], found: DiarizationFile) -> DiarizationFile:
    """Cut the turns of the bundled pipeline where another voice takes over (refine.py); others as they are."""
    embed = bundled_embedding(pipeline)
    if embed is None:
        return found
    turns = smooth_turns(split_turns(found.segments, audio, embed))
    return msgspec.structs.replace(
        found,
        segments=turns,
        speakers=speakers_of(turns),
        exclusive_segments=smooth_turns(split_turns(found.exclusive_segments, audio, embed)),
    )
