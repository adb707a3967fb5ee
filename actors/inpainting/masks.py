"""The repair mask of a subtitle band: the glyphs, their outline and shadow inside the detector's text boxes.

Only the text is repaired, never the whole band: a glyph is a bright region that holds glyph strokes
(``actors.paddleocr.ocr_pass.stroke_mask``), its outline and shadow the near-black pixels around it (within
``SHADOW_REACH_PX``, a round neighbourhood); both are kept only
inside the boxes the OCR detector found, grown by ``dilate_px`` for anti-aliasing and the codec's halo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from actors.paddleocr.engine import Box
from actors.paddleocr.ocr_pass import BRIGHT_LUMA, stroke_mask, to_luma

if TYPE_CHECKING:
    import numpy as np

# Detector boxes hug the glyphs; the outline and its blur reach a little further.
_BOX_PAD_SHARE = 0.25
_MIN_BOX_PAD_PX = 3
# Outline pixels are near-black; mid-dark background next to the glyphs stays out of the mask.
OUTLINE_LUMA = 80
# A drop shadow sits a few pixels down and right of the glyph, its far edge up to this far from it.
SHADOW_REACH_PX = 5


def box_region(shape: tuple[int, int], boxes: Sequence[Box]) -> np.ndarray:
    """Return the pixels inside any box, each grown by a quarter of its height."""
    import numpy as np  # noqa: PLC0415

    region = np.zeros(shape, dtype=bool)
    height, width = shape
    for x1, y1, x2, y2 in boxes:
        pad = max(_MIN_BOX_PAD_PX, round((y2 - y1) * _BOX_PAD_SHARE))
        top, bottom = max(0, int(y1) - pad), min(height, int(y2 + 0.999) + pad)
        left, right = max(0, int(x1) - pad), min(width, int(x2 + 0.999) + pad)
        region[top:bottom, left:right] = True
    return region


def text_pixels(band: np.ndarray, boxes: Sequence[Box], dilate_px: int) -> np.ndarray:
    """Return the mask of the glyphs and their outline in an RGB band, inside the detector's ``boxes``."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    if not boxes:
        return np.zeros(band.shape[:2], dtype=bool)
    luma = to_luma(band)
    region = box_region(luma.shape, boxes)
    bright = ((luma >= BRIGHT_LUMA) & region).astype(np.uint8)
    count, labels = cv2.connectedComponents(bright, connectivity=4)
    holds_strokes = np.zeros(count, dtype=bool)
    holds_strokes[np.unique(labels[stroke_mask(luma) & region])] = True
    holds_strokes[0] = False
    glyphs = holds_strokes[labels].astype(np.uint8)
    reach = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * SHADOW_REACH_PX + 1, 2 * SHADOW_REACH_PX + 1))
    outline = (cv2.dilate(glyphs, reach) > 0) & (luma <= OUTLINE_LUMA)
    text = (glyphs > 0) | outline
    if dilate_px:
        grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
        text = cv2.dilate(text.astype(np.uint8), grow) > 0
    return np.asarray(text & region)
