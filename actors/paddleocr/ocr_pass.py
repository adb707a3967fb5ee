"""One OCR pass over cropped frames: the engine reads a crop only when its text changed.

A crop's signature is the mask of its bright pixels (burnt-in subtitles are white or yellow), max-pooled
into 4x4 cells so that compression noise and one-pixel jitter do not count as a change. A crop whose mask
differs from the last crop the engine read by less than ``CHANGE_THRESHOLD`` of the text cells shows the
same subtitle: it takes that crop's text without another engine call. A crop with (almost) no bright
cells carries no subtitle at all: it reads as empty text, also without an engine call.
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
CELL_PX = 4
CHANGE_THRESHOLD = 0.12
_MIN_TEXT_CELLS = 12
# Fewer bright cells than this is no text: a glyph of the smallest readable subtitle covers more.
BLANK_CELLS = 3


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


def text_mask(image: np.ndarray) -> np.ndarray:
    """Return the crop's signature: bright pixels, max-pooled into ``CELL_PX`` square cells.

    ``image`` is RGB, or already luma (a 2-D array).
    """
    import numpy as np  # noqa: PLC0415

    luma = image if image.ndim == 2 else image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
    height = luma.shape[0] // CELL_PX * CELL_PX
    width = luma.shape[1] // CELL_PX * CELL_PX
    bright = luma[:height, :width] >= BRIGHT_LUMA
    return np.asarray(bright.reshape(height // CELL_PX, CELL_PX, width // CELL_PX, CELL_PX).any(axis=(1, 3)))


def same_text(a: np.ndarray, b: np.ndarray) -> bool:
    """Return whether two signatures show the same text (differing cells below the threshold)."""
    import numpy as np  # noqa: PLC0415

    if a.shape != b.shape:
        return False
    differing = int(np.count_nonzero(a ^ b))
    base = max(int(np.count_nonzero(a)), int(np.count_nonzero(b)), _MIN_TEXT_CELLS)
    return differing / base < CHANGE_THRESHOLD


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
        if fresh and mask is not None and int(mask.sum()) < BLANK_CELLS:
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
