"""One OCR pass over cropped frames: the engine reads a crop only when its text changed.

A crop's signature is the mask of its glyph strokes (bright pixels next to a dark outline, as burnt-in
subtitles are drawn; see ``stroke_mask``), max-pooled into 4x4 cells so that compression noise and
one-pixel jitter do not count as a change. Looking at strokes rather than every bright pixel keeps a
textured, moving background (grass, clouds) from reading as new text. A crop whose cells overlap those of
the last crop the engine read by at least ``SAME_TEXT_IOU`` (intersection over union) shows the same
subtitle: it takes that crop's text without another engine call. A crop with (almost) no stroke cells
carries no subtitle at all: it reads as empty text, also without an engine call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from actors.errors import InputFileError
from actors.paddleocr.engine import OcrEngine, join_lines, load_luma, load_rgb

if TYPE_CHECKING:
    import numpy as np

BRIGHT_LUMA = 200
# Outline, shadow or a dark enough background: white text without an outline still counts over up to this.
DARK_LUMA = 110
# A stroke pixel has outline (dark) pixels at most this far away on both sides: strokes up to ~7 px wide.
OUTLINE_REACH_PX = 4
# Specks of fewer stroke pixels than this are background texture, not part of a glyph.
MIN_STROKE_PX = 8
CELL_PX = 4
# Two signatures show the same text when their cells overlap this much (intersection over union).
SAME_TEXT_IOU = 0.6
# Fewer stroke cells than this is no text: a glyph of the smallest readable subtitle covers more.
BLANK_CELLS = 6


class FrameText(msgspec.Struct, kw_only=True):
    """The text on one cropped frame; ``ocr`` is false where it was reused from an unchanged crop."""

    time_s: float
    text: str
    score: float
    ocr: bool


class OcrResults(msgspec.Struct, kw_only=True):
    """``ocr_results.json``: per-frame text, the frame interval, and the crops it came from."""

    engine: str
    interval_s: float
    ocr_calls: int
    frames: list[FrameText]
    crops_dir: str | None = None
    crops_temporary: bool = False


def to_luma(image: np.ndarray) -> np.ndarray:
    """Return 8-bit luma (ITU-R 601) of an RGB image; a 2-D array is returned as it is."""
    import numpy as np  # noqa: PLC0415

    if image.ndim == 2:
        return image
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.asarray((image.astype(np.float32) @ weights).clip(0, 255).astype(np.uint8))


def stroke_mask(luma: np.ndarray) -> np.ndarray:
    """Return the glyph strokes of a crop: bright pixels between dark outline pixels, specks dropped.

    Burnt-in subtitles are thin bright strokes inside a dark outline: a stroke pixel has dark pixels within
    ``OUTLINE_REACH_PX`` on both sides, left and right or above and below. Bright background (sky, clouds,
    highlights) rarely does; where it meets dark on one side only (a horizon, an edge) it does not count,
    and where texture does it forms specks, not strokes.
    """
    import cv2  # noqa: PLC0415  (OpenCV comes with the OCR engines)
    import numpy as np  # noqa: PLC0415

    dark = (luma <= DARK_LUMA).astype(np.uint8)
    reach = OUTLINE_REACH_PX

    def dark_towards(shape: tuple[int, int], anchor: tuple[int, int]) -> np.ndarray:
        return np.asarray(cv2.dilate(dark, np.ones(shape, np.uint8), anchor=anchor) > 0)

    across = dark_towards((1, reach + 1), (reach, 0)) & dark_towards((1, reach + 1), (0, 0))
    along = dark_towards((reach + 1, 1), (0, reach)) & dark_towards((reach + 1, 1), (0, 0))
    strokes = ((luma >= BRIGHT_LUMA) & (across | along)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= MIN_STROKE_PX
    return np.asarray(keep[labels])


def text_mask(image: np.ndarray) -> np.ndarray:
    """Return the crop's signature: its glyph strokes, max-pooled into ``CELL_PX`` square cells.

    ``image`` is RGB, or already luma (a 2-D array).
    """
    import numpy as np  # noqa: PLC0415

    strokes = stroke_mask(to_luma(image))
    height = strokes.shape[0] // CELL_PX * CELL_PX
    width = strokes.shape[1] // CELL_PX * CELL_PX
    cells = strokes[:height, :width].reshape(height // CELL_PX, CELL_PX, width // CELL_PX, CELL_PX)
    return np.asarray(cells.any(axis=(1, 3)))


def is_blank(signature: np.ndarray) -> bool:
    """Return whether a signature shows no text at all."""
    return int(signature.sum()) < BLANK_CELLS


def same_text(a: np.ndarray, b: np.ndarray) -> bool:
    """Return whether two signatures show the same text (their stroke cells overlap enough)."""
    import numpy as np  # noqa: PLC0415

    if a.shape != b.shape:
        return False
    union = int(np.count_nonzero(a | b))
    if union < BLANK_CELLS:
        return True  # both blank
    return int(np.count_nonzero(a & b)) / union >= SAME_TEXT_IOU


def ocr_frames(
    frames: Sequence[tuple[Path, float]],
    engine: OcrEngine,
    *,
    dedup: bool,
    tick: Callable[[int], None],
) -> tuple[list[FrameText], int]:
    """Read the text of each (image, time) frame; return the per-frame texts and the engine calls made.

    ``tick(i)`` runs after frame ``i`` (progress and cancel checks). With ``dedup`` off, every frame is read.

    Raises:
        EngineFailed: an image cannot be read.
    """
    results: list[FrameText] = []
    anchor: np.ndarray | None = None
    text, score, calls = "", 0.0, 0
    for index, (path, time_s) in enumerate(frames):
        mask = text_mask(load_luma(path)) if dedup else None
        fresh = mask is None or anchor is None or not same_text(anchor, mask)
        if fresh and mask is not None and is_blank(mask):
            text, score, anchor, fresh = "", 0.0, mask, False  # no subtitle on screen: nothing to read
        elif fresh:  # only crops whose text changed are decoded in colour and read
            lines = engine.read(load_rgb(path))
            calls += 1
            text = join_lines(lines)
            score = round(sum(t.score for t in lines) / len(lines), 4) if lines else 0.0
            anchor = mask
        results.append(FrameText(time_s=time_s, text=text, score=score, ocr=fresh))
        tick(index)
    return results, calls


def write_results(path: Path, results: OcrResults) -> None:
    """Write ``ocr_results.json``."""
    path.write_bytes(msgspec.json.encode(results))


def read_results(path: Path, shown_as: str) -> OcrResults:
    """Read an OCR results file written by ``paddleocr.perform_ocr``.

    Raises:
        InputFileError: it is not such a file.
    """
    try:
        return msgspec.json.decode(path.read_bytes(), type=OcrResults)
    except msgspec.DecodeError as exc:
        raise InputFileError(f"{shown_as!r} is not an OCR results file from paddleocr.perform_ocr: {exc}") from None
