"""``inpainting.remove_subtitles``: the picture back without its burnt-in subtitles."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
import structlog

from actors.engine_device import engine_device, uses_cuda
from actors.errors import InputError
from actors.ffmpeg.frames import Area, VideoInfo, check_area, run_ffmpeg, video_info
from actors.inpainting.engine import EngineKey, get_inpainter
from actors.inpainting.repair import BandRepairer, FrameByFrame
from actors.inpainting.report import LineReport, check_area_in_frame, line_reports
from actors.inpainting.stream import (
    FrameProcessor,
    VideoStream,
    copy_command,
    decoder_command,
    encoder_command,
    probe_stream,
    require_libx264,
    stream_frames,
)
from actors.inpainting.window import TextWindow
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
LookaheadS = Annotated[float, msgspec.Meta(ge=0, le=10, description="Seconds looked ahead and back for clean views")]
_AREA_KEYFRAMES = 8


def inpainting_on_gpu(settings: Settings, params: Any) -> bool:
    """GPU rule: a lease when LaMa runs on CUDA, or when the OCR detector that finds the text does."""
    engine = getattr(params, "engine", None) or settings.inpainting.engine
    return (engine == "lama" and uses_cuda(settings.inpainting.device)) or uses_cuda(settings.ocr.device)


class RemoveSubtitlesInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``inpainting.remove_subtitles``; the area is detected when not given."""

    video_path: Annotated[str, StoragePath]
    subtitle_area: Area | None = None
    engine: Literal["opencv", "lama"] | None = None
    method: Literal["telea", "ns"] | None = None
    dilate_px: DilatePx | None = None
    start_s: Seconds | None = None
    end_s: Seconds | None = None
    # what invents the pixels no frame saw: "best" PatchMatch, "fast" OpenCV (engine "opencv" only)
    quality: Literal["fast", "best"] | None = None
    # "window": pixels from the frames around (look-ahead); "previous": the previous repaired frame only
    temporal: Literal["window", "previous"] = "window"
    lookahead_s: LookaheadS | None = None

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
    fill: str = "telea"
    lookahead_frames: int = 0
    seen_share: float = 0.0
    lines: list[LineReport] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)


def _engine_key(run: TaskRun, params: RemoveSubtitlesInput) -> EngineKey:
    settings = run.settings.inpainting
    device = engine_device(settings.device, run.gpu_device)
    return EngineKey(
        engine=params.engine or settings.engine,
        method=params.method or settings.method,
        lama_model_path=settings.lama_model_path,
        device=device.kind,
        gpu_index=device.index,
        tile_px=settings.tile_px,
        quality=params.quality or settings.quality,
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


def lookahead_frames(run: TaskRun, params: RemoveSubtitlesInput, video: VideoStream) -> int:
    """Return how many frames the repair looks ahead: the seconds asked for, capped by the ring's memory."""
    settings = run.settings.inpainting
    seconds = settings.lookahead_s if params.lookahead_s is None else params.lookahead_s
    fitting = settings.window_mib * (1 << 20) // (video.width * video.height * 3) - 1
    return max(0, min(round(seconds * video.fps), fitting))


def _processor(
    run: TaskRun, params: RemoveSubtitlesInput, video: VideoStream, repairer: BandRepairer
) -> FrameProcessor:
    window = _window(params, video)
    if params.temporal == "previous":
        return FrameByFrame(repairer, window)
    ahead = lookahead_frames(run, params, video)
    quick = (
        get_inpainter(_engine_key(run, params)._replace(quality="fast"))
        if repairer.inpainter.name == "patchmatch"
        else None
    )
    return TextWindow(masks=repairer, ahead=ahead, behind=ahead, repair_range=window, quick=quick)


def _repair_stream(
    run: TaskRun,
    paths: tuple[Path, Path],
    video: VideoStream,
    processor: FrameProcessor,
) -> int:
    """Stream the video through ``processor``; return the frames written."""
    source, target = paths
    started, cpu, children = time.monotonic(), time.process_time(), _children_cpu_s()
    commands = (
        decoder_command(run.settings.ffmpeg, source),
        encoder_command(run.settings.ffmpeg, run.settings.inpainting, source, video, target),
    )
    frames = stream_frames(run, commands, video, processor)
    log.info(
        "subtitles_removed",
        frames=frames,
        frames_inpainted=getattr(processor, "repaired", 0),
        fps=round(frames / max(time.monotonic() - started, 1e-6), 1),
        cpu_s=round(time.process_time() - cpu, 3),
        ffmpeg_cpu_s=round(_children_cpu_s() - children, 3),
    )
    return frames


def _children_cpu_s() -> float:
    """Return the CPU seconds of this process's ended children (the ffmpeg decoder and encoder, once reaped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _Passthrough:
    """No area: every frame goes out as it came."""

    repaired = 0

    def push(self, frame: np.ndarray, _index: int) -> list[np.ndarray]:
        return [frame]

    def drain(self) -> list[np.ndarray]:
        return []


def _describe(result: RemoveSubtitlesOutput, processor: FrameProcessor, repairer: BandRepairer, fps: float) -> None:
    """Fill in what the repair did: frames, detector calls, the lines and where their pixels came from."""
    result.frames_inpainted = int(getattr(processor, "repaired", 0))
    result.ocr_calls = repairer.detector_calls
    if not isinstance(processor, TextWindow):
        return
    x1, y1, x2, y2 = repairer.area
    result.lookahead_frames = processor.ahead
    result.lines = line_reports(processor.lines, fps, (x2 - x1) * (y2 - y1), result.frames_total)
    masked = sum(t.pixels for t in processor.lines.values())
    result.seen_share = round(sum(t.seen for t in processor.lines.values()) / max(1, masked), 4)
    if result.frames_total <= processor.ahead:
        result.notes.append(
            f"the clip ({result.frames_total} frames) is shorter than the look-ahead window "
            f"({processor.ahead} frames): every frame of it was looked at"
        )
    result.notes += [f"frames {r.first_frame}-{r.last_frame}: {r.note}" for r in result.lines if r.note]


@task(
    "inpainting.remove_subtitles",
    queue="inpainting",
    input=RemoveSubtitlesInput,
    output=RemoveSubtitlesOutput,
    gpu=inpainting_on_gpu,
    check=check_area_in_frame,
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
    result.fill = inpainter.name if inpainter.name != "opencv" else key.method
    if area is None:
        result.frames_total = _repair_stream(run, (source, target), video, _Passthrough())
        return result
    ocr = get_engine(engine_key(run.settings.ocr, None, None, run.gpu_device))
    dilate_px = run.settings.inpainting.dilate_px if params.dilate_px is None else params.dilate_px
    x1, y1, x2, y2 = area
    repairer = BandRepairer(inpainter=inpainter, detect=ocr.detect, area=(x1, y1, x2, y2), dilate_px=dilate_px)
    processor = _processor(run, params, video, repairer)
    result.frames_total = _repair_stream(run, (source, target), video, processor)
    _describe(result, processor, repairer, video.fps)
    return result
