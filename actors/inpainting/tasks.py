"""``inpainting.remove_subtitles``: the picture back without its burnt-in subtitles."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
import structlog

from actors.errors import InputError
from actors.ffmpeg.frames import Area, VideoInfo, check_area, run_ffmpeg, video_info
from actors.inpainting.engine import EngineKey, get_inpainter
from actors.inpainting.repair import BandRepairer
from actors.inpainting.stream import (
    VideoStream,
    copy_command,
    decoder_command,
    encoder_command,
    probe_stream,
    require_libx264,
    stream_frames,
)
from actors.paddleocr.area_pass import detect_video_area
from actors.paddleocr.engine import engine_key, get_engine
from actors.spec import task
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun
from config import Settings

if TYPE_CHECKING:
    import numpy as np

log = structlog.get_logger(__name__)

Seconds = Annotated[float, msgspec.Meta(ge=0, description="Seconds from the start of the video")]
DilatePx = Annotated[int, msgspec.Meta(ge=0, le=32, description="Pixels the glyph-and-outline mask grows by")]
_AREA_KEYFRAMES = 8


def inpainting_on_gpu(settings: Settings, params: Any) -> bool:
    """GPU rule: a lease when LaMa runs on CUDA, or when the OCR detector that finds the text does."""
    engine = getattr(params, "engine", None) or settings.inpainting.engine
    return (engine == "lama" and settings.inpainting.device == "cuda") or settings.ocr.device == "cuda"


class RemoveSubtitlesInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``inpainting.remove_subtitles``; the area is detected when not given."""

    video_path: Annotated[str, StoragePath]
    subtitle_area: Area | None = None
    engine: Literal["opencv", "lama"] | None = None
    method: Literal["telea", "ns"] | None = None
    dilate_px: DilatePx | None = None
    start_s: Seconds | None = None
    end_s: Seconds | None = None

    def __post_init__(self) -> None:
        if self.start_s is not None and self.end_s is not None and self.start_s >= self.end_s:
            raise ValueError(f"start_s ({self.start_s}) must be before end_s ({self.end_s})")
        if self.subtitle_area is not None:
            x1, y1, x2, y2 = self.subtitle_area
            if x2 <= x1 or y2 <= y1:
                raise ValueError("subtitle_area must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2")


class RemoveSubtitlesOutput(msgspec.Struct, kw_only=True):
    """Output of ``inpainting.remove_subtitles``; ``subtitle_area`` is null when no subtitles were found."""

    video_path: str
    frames_total: int
    frames_inpainted: int
    subtitle_area: list[int] | None
    engine: str
    ocr_calls: int


def _engine_key(run: TaskRun, params: RemoveSubtitlesInput) -> EngineKey:
    settings = run.settings.inpainting
    return EngineKey(
        engine=params.engine or settings.engine,
        method=params.method or settings.method,
        lama_model_path=settings.lama_model_path,
        device=settings.device,
        gpu_index=run.gpu_device or 0,
        tile_px=settings.tile_px,
    )


def _area(run: TaskRun, params: RemoveSubtitlesInput, source: Path, info: VideoInfo) -> list[int] | None:
    if params.start_s is not None and params.start_s >= info.duration_s:
        raise InputError(f"start_s {params.start_s} is past the end of {params.video_path!r} ({info.duration_s} s)")
    if params.subtitle_area is not None:
        check_area(params.subtitle_area, info, params.video_path)
        return list(params.subtitle_area)
    ocr = get_engine(engine_key(run.settings.ocr, None, None, run.gpu_device))
    guess = detect_video_area(run, ocr, source, info, keyframes=_AREA_KEYFRAMES, span=(0.01, 0.1))
    return guess.area if guess else None


def _window(params: RemoveSubtitlesInput, video: VideoStream) -> tuple[int, int]:
    """Return the [first, last) frame indexes to repair."""
    first = 0 if params.start_s is None else round(params.start_s * video.fps)
    last = 1 << 62 if params.end_s is None else round(params.end_s * video.fps)
    return first, last


def _repair_stream(
    run: TaskRun,
    params: RemoveSubtitlesInput,
    paths: tuple[Path, Path],
    video: VideoStream,
    repairer: BandRepairer | None,
) -> tuple[int, int]:
    """Stream the video through the repair (none without an area); return frames written and repaired."""
    source, target = paths
    first, last = _window(params, video)
    repaired = 0

    def repair(frame: np.ndarray, index: int) -> None:
        nonlocal repaired
        if repairer is not None and first <= index < last and repairer.repair(frame):
            repaired += 1

    started = time.monotonic()
    commands = (
        decoder_command(run.settings.ffmpeg, source),
        encoder_command(run.settings.ffmpeg, run.settings.inpainting, source, video, target),
    )
    frames = stream_frames(run, commands, video, repair)
    log.info(
        "subtitles_removed",
        frames=frames,
        frames_inpainted=repaired,
        ocr_calls=repairer.detector_calls if repairer else 0,
        temporal_pixels=repairer.temporal_pixels if repairer else 0,
        fps=round(frames / max(time.monotonic() - started, 1e-6), 1),
    )
    return frames, repaired


@task(
    "inpainting.remove_subtitles",
    queue="inpainting",
    input=RemoveSubtitlesInput,
    output=RemoveSubtitlesOutput,
    gpu=inpainting_on_gpu,
)
def remove_subtitles(run: TaskRun, params: RemoveSubtitlesInput) -> RemoveSubtitlesOutput:
    """Remove burnt-in subtitles from a video, repairing only the text: H.264 out, audio copied."""
    source = run.input_path(params.video_path)
    key = _engine_key(run, params)
    inpainter = get_inpainter(key)
    require_libx264(run.settings.ffmpeg)
    info = video_info(source, params.video_path)
    area = _area(run, params, source, info)
    video = probe_stream(source, params.video_path, info.duration_s)
    target = run.output_dir / f"video{video.suffix}"
    run.progress(0.1, force=True)
    result = RemoveSubtitlesOutput(
        video_path=run.rel(target),
        frames_total=video.frames,
        frames_inpainted=0,
        subtitle_area=area,
        engine=key.engine,
        ocr_calls=0,
    )
    if area is None and video.codec == "h264":  # nothing to repair: the streams as they are
        run_ffmpeg(run, lambda s: copy_command(s, source, target), "ffmpeg stream copy")
        return result
    repairer = None
    if area is not None:
        ocr = get_engine(engine_key(run.settings.ocr, None, None, run.gpu_device))
        dilate_px = run.settings.inpainting.dilate_px if params.dilate_px is None else params.dilate_px
        x1, y1, x2, y2 = area
        repairer = BandRepairer(inpainter=inpainter, detect=ocr.detect, area=(x1, y1, x2, y2), dilate_px=dilate_px)
    result.frames_total, result.frames_inpainted = _repair_stream(run, params, (source, target), video, repairer)
    result.ocr_calls = repairer.detector_calls if repairer else 0
    return result
