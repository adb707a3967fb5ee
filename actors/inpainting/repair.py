"""Repair one frame after another: reuse the mask while a line stays up, prefer pixels seen in other frames.

Each frame's band gets the OCR path's signature (``actors.paddleocr.ocr_pass``). While it shows the same
text as the frame whose mask was built, that mask is reused; a changed signature runs the OCR detector and
builds a new mask; a blank one leaves the frame untouched. Under the mask, pixels come from the previous
(already repaired) frame, moved by the background's motion, wherever that matches the current frame around
the text (a still or panning camera); the rest is inpainted by the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actors.inpainting.inpainter import Inpainter
from actors.inpainting.masks import text_pixels
from actors.paddleocr.engine import Box
from actors.paddleocr.ocr_pass import is_blank, same_text, text_mask

if TYPE_CHECKING:
    import numpy as np

# Mask pixels closer than this join one patch, judged as a whole (a word, a line).
_PATCH_JOIN_PX = 7
# A patch takes the moved previous frame when its surroundings differ by less than this (mean, 0..255).
FILL_TOLERANCE = 6.0
_MIN_RING_PX = 24
# Motion is first estimated on (up to) this many rows above the band.
_MOTION_ROWS = 32
# The motion found above the band is refined on the band itself within this many pixels.
_REFINE_PX = 2
_MIN_MOTION_RESPONSE = 0.1
_MIN_MOTION_ROWS = 8


@dataclass
class BandRepairer:
    """Per-video state of the repair: the current mask, its signature and the previous frame."""

    inpainter: Inpainter
    detect: Callable[[np.ndarray], Sequence[Box]]
    area: tuple[int, int, int, int]
    dilate_px: int
    detector_calls: int = 0
    temporal_pixels: int = 0
    lines: int = 0
    _signature: np.ndarray | None = field(default=None, repr=False)
    _mask: np.ndarray | None = field(default=None, repr=False)
    _previous: np.ndarray | None = field(default=None, repr=False)

    def mask_for(self, band: np.ndarray) -> np.ndarray | None:
        """Return the repair mask of a band (reused while its text is unchanged), or None without text."""
        signature = text_mask(band)
        if is_blank(signature):
            self._signature, self._mask = None, None
            return None
        if self._signature is None or not same_text(self._signature, signature):
            self.detector_calls += 1
            mask = text_pixels(band, self.detect(band), self.dilate_px)
            self._signature, self._mask = signature, mask if mask.any() else None
            self.lines += int(mask.any())
        return self._mask

    def repair(self, frame: np.ndarray) -> bool:
        """Repair the text in ``frame`` (RGB, changed in place); return whether any pixel was repaired."""
        x1, y1, x2, y2 = self.area
        top = max(0, y1 - _MOTION_ROWS) if y1 >= _MIN_MOTION_ROWS else y1
        band = frame[y1:y2, x1:x2]
        mask = self.mask_for(band)
        if mask is not None:
            repaired = self._fill(frame[top:y2, x1:x2], mask, y1 - top)
            frame[y1:y2, x1:x2] = repaired
        self._previous = frame[top:y2, x1:x2].copy()
        return mask is not None

    def _fill(self, region: np.ndarray, mask: np.ndarray, band_top: int) -> np.ndarray:
        import numpy as np  # noqa: PLC0415

        band = region[band_top:]
        left = mask
        if self._previous is not None and self._previous.shape == region.shape:
            moved, valid = _moved(self._previous, region, band_top, mask)
            taken = _matching_patches(band, moved, mask, valid)
            if taken.any():
                band = band.copy()
                band[taken] = moved[taken]
                self.temporal_pixels += int(taken.sum())
                left = mask & ~taken
        return band if not left.any() else self.inpainter.inpaint(np.ascontiguousarray(band), left)


@dataclass
class FrameByFrame:
    """Today's repair as a stream processor: each frame repaired in place from the previous one, no look-ahead."""

    repairer: BandRepairer
    repair_range: tuple[int, int] = (0, 1 << 62)
    repaired: int = 0

    def push(self, frame: np.ndarray, index: int) -> list[np.ndarray]:
        """Repair ``frame`` in place (inside the range) and hand it back at once."""
        first, last = self.repair_range
        if first <= index < last and self.repairer.repair(frame):
            self.repaired += 1
        return [frame]

    def drain(self) -> list[np.ndarray]:
        """Return nothing: no frame is held."""
        return []


def _shift(image: np.ndarray, dx: int, dy: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``image`` moved by (dx, dy) and where the moved image has pixels."""
    import numpy as np  # noqa: PLC0415

    height, width = image.shape[:2]
    out = np.zeros_like(image)
    valid = np.zeros((height, width), dtype=bool)
    ys, yd = (slice(0, height - dy), slice(dy, height)) if dy >= 0 else (slice(-dy, height), slice(0, height + dy))
    xs, xd = (slice(0, width - dx), slice(dx, width)) if dx >= 0 else (slice(-dx, width), slice(0, width + dx))
    out[yd, xd] = image[ys, xs]
    valid[yd, xd] = True
    return out, valid


def _motion_guess(previous: np.ndarray, region: np.ndarray, band_top: int) -> tuple[int, int]:
    """Return the whole-pixel motion of the rows above the band (phase correlation), (0, 0) without them."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    if band_top == 0:
        return 0, 0
    before = cv2.cvtColor(previous[:band_top], cv2.COLOR_RGB2GRAY).astype(np.float32)
    now = cv2.cvtColor(np.ascontiguousarray(region[:band_top]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    window = cv2.createHanningWindow((before.shape[1], before.shape[0]), cv2.CV_32F)
    (sx, sy), response = cv2.phaseCorrelate(before, now, window)
    return (round(sx), round(sy)) if response >= _MIN_MOTION_RESPONSE else (0, 0)


def _moved(previous: np.ndarray, region: np.ndarray, band_top: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the previous band moved as the background moved since, and where it is defined.

    The motion is the whole-pixel translation, near the guess from the rows above the band or none at all,
    that best matches the band's pixels away from the text.
    """
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    gx, gy = _motion_guess(previous, region, band_top)
    now = cv2.cvtColor(np.ascontiguousarray(region[band_top:]), cv2.COLOR_RGB2GRAY).astype(np.int16)
    then = cv2.cvtColor(previous[band_top:], cv2.COLOR_RGB2GRAY).astype(np.int16)
    away = (cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) == 0).astype(np.int16)
    best: tuple[float, int, int] | None = None
    candidates = {(0, 0)} | {(gx + i, gy + j) for i in range(-_REFINE_PX, _REFINE_PX + 1) for j in (-1, 0, 1)}
    for dx, dy in sorted(candidates):
        score = _shifted_difference(now, then, away, dx, dy)
        if score is not None and (best is None or score < best[0]):
            best = (score, dx, dy)
    dx, dy = (best[1], best[2]) if best else (0, 0)
    return _shift(previous[band_top:], dx, dy)


def _shifted_difference(now: np.ndarray, then: np.ndarray, weight: np.ndarray, dx: int, dy: int) -> float | None:
    """Return the mean absolute difference of ``now`` and ``then`` moved by (dx, dy), over ``weight``'s pixels."""
    import numpy as np  # noqa: PLC0415

    height, width = now.shape
    if abs(dx) >= width or abs(dy) >= height:
        return None
    target = (slice(max(0, dy), height + min(0, dy)), slice(max(0, dx), width + min(0, dx)))
    source = (slice(max(0, -dy), height + min(0, -dy)), slice(max(0, -dx), width + min(0, -dx)))
    picked = weight[target]
    total = int(picked.sum())
    if total < _MIN_RING_PX:
        return None
    return float((np.abs(now[target] - then[source]) * picked).sum()) / total


def _matching_patches(band: np.ndarray, moved: np.ndarray, mask: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Return the mask pixels of patches whose surroundings match the moved previous frame."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    join = np.ones((2 * _PATCH_JOIN_PX + 1, 2 * _PATCH_JOIN_PX + 1), np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(mask.astype(np.uint8), join))
    near_text = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    taken = np.zeros(mask.shape, dtype=bool)
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        box = (slice(y, y + h), slice(x, x + w))
        patch = labels[box] == label
        ring = patch & ~near_text[box] & valid[box]
        if int(ring.sum()) < _MIN_RING_PX:
            continue
        difference = np.abs(band[box].astype(np.int16) - moved[box].astype(np.int16)).mean(axis=2)
        if float(difference[ring].mean()) < FILL_TOLERANCE:
            taken[box] |= patch & mask[box] & valid[box]
    return taken
