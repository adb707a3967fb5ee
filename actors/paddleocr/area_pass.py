"""Find a video's subtitle area with the OCR detector: keyframes, text boxes, the band where they recur."""

from __future__ import annotations

import shutil
from pathlib import Path

import structlog

from actors.ffmpeg.frames import VideoInfo, grab_keyframes, keyframe_times
from actors.paddleocr.engine import OcrEngine, load_rgb
from actors.paddleocr.subtitle_area import AreaGuess, find_band
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)


def find_area(
    run: TaskRun, engine: OcrEngine, images: list[Path], size: tuple[int, int], span: tuple[float, float]
) -> AreaGuess | None:
    """Detect text on each image and return the band where it recurs; progress runs across ``span``.

    Raises:
        EngineFailed: an image cannot be read.
        TaskCancelled: a cancel was requested.
    """
    boxes = []
    for index, path in enumerate(images):
        run.checkpoint()
        boxes.append(engine.detect(load_rgb(path)))
        run.progress(span[0] + (span[1] - span[0]) * (index + 1) / len(images))
    guess = find_band(boxes, *size)
    log.info("subtitle_area_detected", area=guess.area if guess else None, frames=len(images))
    return guess


def detect_video_area(
    run: TaskRun, engine: OcrEngine, source: Path, info: VideoInfo, *, keyframes: int, span: tuple[float, float]
) -> AreaGuess | None:
    """Return the subtitle area of a video from ``keyframes`` evenly spread frames, or None without text.

    Raises:
        EngineFailed: ffmpeg decoded no frame.
        TaskCancelled: a cancel was requested.
    """
    folder = run.output_dir / "keyframes"
    images = [p for p, _ in grab_keyframes(run, source, keyframe_times(info, keyframes, None), folder)]
    try:
        return find_area(run, engine, images, (info.width, info.height), span)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
