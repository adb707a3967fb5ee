"""What every inpainting engine shares: the ``Inpainter`` protocol, the key of a loaded engine, the mask's box.

Kept apart from ``engine`` (which loads the engines lazily) so the engines import it and not the loader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    import numpy as np


class Inpainter(Protocol):
    """What the subtitle remover needs from an engine."""

    name: str

    def inpaint(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Return ``frame`` with the pixels under ``mask`` repaired; the others keep their values."""


class EngineKey(NamedTuple):
    """What makes two loaded engines interchangeable."""

    engine: str
    method: str
    lama_model_path: str | None
    device: str
    gpu_index: int
    tile_px: int
    # for engine "opencv": "best" invents with PatchMatch, "fast" with OpenCV's method
    quality: str = "fast"


def mask_box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    """Return the ``(x1, y1, x2, y2)`` box of a mask's pixels grown by ``margin``, or None if it is empty."""
    import numpy as np  # noqa: PLC0415

    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return None
    y1, y2 = int(np.argmax(rows)), len(rows) - int(np.argmax(rows[::-1]))
    x1, x2 = int(np.argmax(cols)), len(cols) - int(np.argmax(cols[::-1]))
    height, width = mask.shape
    return max(0, x1 - margin), max(0, y1 - margin), min(width, x2 + margin), min(height, y2 + margin)
