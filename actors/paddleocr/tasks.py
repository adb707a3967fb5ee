"""``paddleocr.*`` tasks: find the subtitle area, OCR cropped frames, write SRT/WebVTT/JSON subtitles."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import structlog

from actors.engine_device import uses_cuda
from actors.errors import InputError, InputFileError
from actors.ffmpeg.frames import (
    MANIFEST_NAME,
    Area,
    check_area,
    crop_frames,
    grab_keyframes,
    keyframe_times,
    list_images,
    read_manifest,
    video_info,
)
from actors.paddleocr.area_pass import detect_video_area, find_area
from actors.paddleocr.cue_merge import frames_to_cues
from actors.paddleocr.engine import OcrEngine, engine_key, get_engine, load_rgb
from actors.paddleocr.ocr_pass import OcrResults, ocr_frames, read_results, write_results
from actors.spec import task
from actors.subtitles.formats import cues_json, to_srt, to_vtt
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun
from config import Settings
from state import PathOutsideRoot
from state.storage import resolve_in_root

log = structlog.get_logger(__name__)

EngineName = Literal["rapidocr", "paddleocr"]
Language = Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="OCR language, e.g. 'ch', 'en'")]
CropFps = Annotated[float, msgspec.Meta(gt=0, le=60, description="Crops per second of video")]
Similarity = Annotated[float, msgspec.Meta(gt=0, le=1, description="difflib ratio at which two readings match")]
MinCueSeconds = Annotated[float, msgspec.Meta(ge=0, le=10)]
KeyframeCount = Annotated[int, msgspec.Meta(ge=1, le=200)]
RESULTS_NAME = "ocr_results.json"


def ocr_on_gpu(settings: Settings, _params: Any) -> bool:
    """GPU rule of the tasks that run an OCR engine: a lease only when OCR runs on CUDA."""
    return uses_cuda(settings.ocr.device)


def _exactly_one(params: msgspec.Struct, *names: str) -> None:
    given = [n for n in names if getattr(params, n) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(names)}")


class DetectAreaInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``paddleocr.detect_subtitle_area``: a video, or a folder of keyframes of one size."""

    video_path: Annotated[str, StoragePath] | None = None
    keyframe_dir: Annotated[str, StoragePath] | None = None
    keyframes: KeyframeCount = 12
    engine: EngineName | None = None

    def __post_init__(self) -> None:
        _exactly_one(self, "video_path", "keyframe_dir")


class DetectAreaOutput(msgspec.Struct, kw_only=True):
    """Output of ``paddleocr.detect_subtitle_area``: ``[x1, y1, x2, y2]`` in frame pixels."""

    subtitle_area: list[int]
    confidence: float
    frames_used: int


class PerformOcrInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``paddleocr.perform_ocr``: crops with their manifest (or a folder of images and ``fps``)."""

    cropped_images_dir: Annotated[str, StoragePath] | None = None
    manifest_path: Annotated[str, StoragePath] | None = None
    fps: CropFps | None = None
    engine: EngineName | None = None
    language: Language | None = None
    dedup: bool = True

    def __post_init__(self) -> None:
        _exactly_one(self, "cropped_images_dir", "manifest_path")


class PerformOcrOutput(msgspec.Struct, kw_only=True):
    """Output of ``paddleocr.perform_ocr``."""

    ocr_results_file: str
    frames_ocr_count: int
    ocr_calls: int


class FinalizeInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``paddleocr.postprocess_and_finalize``."""

    ocr_results_file: Annotated[str, StoragePath]
    similarity: Similarity = 0.8
    min_duration_s: MinCueSeconds = 0.25
    keep_crops: bool = False


class SubtitleFiles(msgspec.Struct, kw_only=True):
    """Output of ``paddleocr.postprocess_and_finalize`` and ``paddleocr.extract_subtitles``."""

    srt_path: str
    vtt_path: str
    json_path: str
    subtitles_count: int
    ocr_calls: int


class ExtractSubtitlesInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``paddleocr.extract_subtitles``; the area is detected when not given."""

    video_path: Annotated[str, StoragePath]
    subtitle_area: Area | None = None
    language: Language | None = None
    engine: EngineName | None = None
    fps: CropFps = 10.0
    keyframes: KeyframeCount = 8
    dedup: bool = True
    similarity: Similarity = 0.8
    min_duration_s: MinCueSeconds = 0.25


def _engine(run: TaskRun, engine: str | None, language: str | None) -> OcrEngine:
    return get_engine(engine_key(run.settings.ocr, engine, language, run.gpu_device))


@task(
    "paddleocr.detect_subtitle_area", queue="paddleocr", input=DetectAreaInput, output=DetectAreaOutput, gpu=ocr_on_gpu
)
def detect_subtitle_area(run: TaskRun, params: DetectAreaInput) -> DetectAreaOutput:
    """Find the horizontal band where text recurs across a video's keyframes."""
    engine = _engine(run, params.engine, None)
    if params.video_path is not None:
        source = run.input_path(params.video_path)
        info = video_info(source, params.video_path)
        folder = run.output_dir / "keyframes"
        images = [p for p, _ in grab_keyframes(run, source, keyframe_times(info, params.keyframes, None), folder)]
        size, shown = (info.width, info.height), params.video_path
    else:
        shown = str(params.keyframe_dir)
        folder = run.input_path(shown, folder=True)
        images = list_images(folder)
        if not images:
            raise InputFileError(f"{shown!r} holds no images (.png, .jpg)")
        first = load_rgb(images[0])
        size = (first.shape[1], first.shape[0])
    guess = find_area(run, engine, images, size, (0.1, 0.95))
    if params.video_path is not None:
        shutil.rmtree(folder, ignore_errors=True)
    if guess is None:
        raise InputError(
            f"no text found in {len(images)} keyframes of {shown!r}: it seems to have no burnt-in "
            "subtitles; give subtitle_area yourself if they are faint"
        )
    return DetectAreaOutput(subtitle_area=guess.area, confidence=guess.confidence, frames_used=len(images))


def _crop_frames(run: TaskRun, params: PerformOcrInput) -> tuple[list[tuple[Path, float]], float, Path, bool]:
    """Return the (image, time) frames, the interval, their folder and whether it is temporary."""
    if params.manifest_path is not None:
        manifest_path = run.input_path(params.manifest_path)
        folder = manifest_path.parent
    else:
        folder = run.input_path(str(params.cropped_images_dir), folder=True)
        manifest_path = folder / MANIFEST_NAME
    if manifest_path.is_file():
        manifest = read_manifest(manifest_path, run.rel(manifest_path))
        frames = [(folder / f.file, f.time_s) for f in manifest.frames]
        missing = [p.name for p, _ in frames if not p.is_file()]
        if missing:
            raise InputFileError(
                f"{len(missing)} crops named in {run.rel(manifest_path)!r} are missing, e.g. {missing[0]!r}"
            )
        return frames, 1.0 / manifest.fps, folder, manifest.temporary
    if params.fps is None:
        raise InputFileError(
            f"{run.rel(folder)!r} has no {MANIFEST_NAME}: pass the manifest_path from "
            "ffmpeg.crop_subtitle_images, or fps to time the images by their order"
        )
    images = list_images(folder)
    if not images:
        raise InputFileError(f"{run.rel(folder)!r} holds no images (.png, .jpg)")
    return [(p, round(i / params.fps, 3)) for i, p in enumerate(images)], 1.0 / params.fps, folder, False


def _read_text(
    run: TaskRun, engine: OcrEngine, frames: list[tuple[Path, float]], *, dedup: bool, span: tuple[float, float]
) -> tuple[list[Any], int]:
    def tick(index: int) -> None:
        run.progress(span[0] + (span[1] - span[0]) * (index + 1) / len(frames))
        run.checkpoint()

    texts, calls = ocr_frames(frames, engine, dedup=dedup, tick=tick)
    log.info("ocr_pass_done", frames=len(frames), ocr_calls=calls, engine=engine.name, dedup=dedup)
    return texts, calls


@task("paddleocr.perform_ocr", queue="paddleocr", input=PerformOcrInput, output=PerformOcrOutput, gpu=ocr_on_gpu)
def perform_ocr(run: TaskRun, params: PerformOcrInput) -> PerformOcrOutput:
    """Read the text of each cropped frame, once per distinct subtitle image."""
    frames, interval_s, folder, temporary = _crop_frames(run, params)
    engine = _engine(run, params.engine, params.language)
    texts, calls = _read_text(run, engine, frames, dedup=params.dedup, span=(0.0, 0.99))
    target = run.output_dir / RESULTS_NAME
    write_results(
        target,
        OcrResults(
            engine=engine.name,
            interval_s=interval_s,
            ocr_calls=calls,
            frames=texts,
            crops_dir=run.rel(folder),
            crops_temporary=temporary,
        ),
    )
    return PerformOcrOutput(ocr_results_file=run.rel(target), frames_ocr_count=len(texts), ocr_calls=calls)


def _remove_crops(run: TaskRun, crops_dir: str) -> None:
    """Delete a temporary crops folder; only stage outputs under ``workflows/`` are ever removed."""
    try:
        folder = resolve_in_root(run.root, crops_dir)
    except PathOutsideRoot:
        return
    if folder.is_dir() and folder.is_relative_to(run.root / "workflows"):
        shutil.rmtree(folder, ignore_errors=True)
        log.info("temporary_crops_removed", crops_dir=crops_dir)


def _finalize(
    run: TaskRun, results: OcrResults, *, similarity: float, min_duration_s: float, keep_crops: bool
) -> SubtitleFiles:
    cues = frames_to_cues(results.frames, results.interval_s, similarity=similarity, min_duration_s=min_duration_s)
    out = run.output_dir
    (out / "subtitles.srt").write_text(to_srt(cues), encoding="utf-8")
    (out / "subtitles.vtt").write_text(to_vtt(cues), encoding="utf-8")
    (out / "subtitles.json").write_bytes(cues_json(cues))
    if results.crops_dir and results.crops_temporary and not keep_crops:
        _remove_crops(run, results.crops_dir)
    return SubtitleFiles(
        srt_path=run.rel(out / "subtitles.srt"),
        vtt_path=run.rel(out / "subtitles.vtt"),
        json_path=run.rel(out / "subtitles.json"),
        subtitles_count=len(cues),
        ocr_calls=results.ocr_calls,
    )


@task("paddleocr.postprocess_and_finalize", queue="paddleocr", input=FinalizeInput, output=SubtitleFiles)
def postprocess_and_finalize(run: TaskRun, params: FinalizeInput) -> SubtitleFiles:
    """Merge per-frame OCR text into sorted cues, write SRT, WebVTT and JSON, delete temporary crops."""
    results = read_results(run.input_path(params.ocr_results_file), params.ocr_results_file)
    return _finalize(
        run, results, similarity=params.similarity, min_duration_s=params.min_duration_s, keep_crops=params.keep_crops
    )


@task(
    "paddleocr.extract_subtitles", queue="paddleocr", input=ExtractSubtitlesInput, output=SubtitleFiles, gpu=ocr_on_gpu
)
def extract_subtitles(run: TaskRun, params: ExtractSubtitlesInput) -> SubtitleFiles:
    """Turn a video's burnt-in subtitles into SRT, WebVTT and JSON: area, crops, OCR, cues."""
    source = run.input_path(params.video_path)
    info = video_info(source, params.video_path)
    engine = _engine(run, params.engine, params.language)
    run.progress(0.02, force=True)
    area = list(params.subtitle_area) if params.subtitle_area else None
    if area:
        check_area(area, info, params.video_path)
    else:
        guess = detect_video_area(run, engine, source, info, keyframes=params.keyframes, span=(0.02, 0.15))
        area = guess.area if guess else None

    keep = run.settings.storage.keep_intermediate

    def finish(results: OcrResults) -> SubtitleFiles:
        return _finalize(
            run, results, similarity=params.similarity, min_duration_s=params.min_duration_s, keep_crops=keep
        )

    if area is None:  # no text anywhere: an empty subtitle file is the answer
        return finish(OcrResults(engine=engine.name, interval_s=1 / params.fps, ocr_calls=0, frames=[]))
    crops = run.output_dir / "crops"
    try:
        manifest = crop_frames(run, source, area, params.fps, crops)
        run.progress(0.3)
        frames = [(crops / f.file, f.time_s) for f in manifest.frames]
        texts, calls = _read_text(run, engine, frames, dedup=params.dedup, span=(0.3, 0.97))
    finally:  # the crops serve this stage alone: they go whether it ends well or not (storage.keep_intermediate)
        if not keep:
            shutil.rmtree(crops, ignore_errors=True)
    results = OcrResults(
        engine=engine.name,
        interval_s=1 / params.fps,
        ocr_calls=calls,
        frames=texts,
        crops_dir=run.rel(crops) if keep else None,
        crops_temporary=True,
    )
    write_results(run.output_dir / RESULTS_NAME, results)
    return finish(results)
