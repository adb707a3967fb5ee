"""PatchMatch (``pypatchmatch``, offline C++): an invented fill that keeps the texture Telea smears.

Only the mask's box, grown by enough context for the patches, is handed to the library; the patch
radius is small (3: 7x7 patches) so a 720p band takes a fraction of a second. The random search is
seeded, so equal inputs give equal fills (no flicker between frames that invent the same pixels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.errors import EngineUnavailable
from actors.inpainting.inpainter import EngineKey, mask_box

if TYPE_CHECKING:
    import numpy as np

PATCH_RADIUS_PX = 3
# Context around the mask the patches are searched in.
_CONTEXT_PX = 40
_SEED = 20261205


class PatchMatchInpainter:
    """``patchmatch.inpaint`` on the mask's box and its surroundings."""

    name = "patchmatch"

    def __init__(self, _key: EngineKey) -> None:
        try:
            import patchmatch  # noqa: PLC0415  (an engine: imported when a worker loads it)
        except ImportError:
            raise EngineUnavailable(
                "quality 'best' needs PatchMatch: pip install pypatchmatch (the inpainting extra), "
                "or ask for quality 'fast' (OpenCV)"
            ) from None
        if not patchmatch.patchmatch_available:
            raise EngineUnavailable("pypatchmatch is installed but its native library did not load")
        self._inpaint = patchmatch.inpaint
        self._seed = patchmatch.set_random_seed

    def inpaint(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Return ``frame`` with the pixels under ``mask`` invented from the patches around them."""
        import numpy as np  # noqa: PLC0415

        box = mask_box(mask, _CONTEXT_PX)
        if box is None:
            return frame
        x1, y1, x2, y2 = box
        self._seed(_SEED)
        crop = np.ascontiguousarray(frame[y1:y2, x1:x2])
        filled = self._inpaint(crop, mask[y1:y2, x1:x2], patch_size=PATCH_RADIUS_PX)
        out = frame.copy()
        inside = mask[y1:y2, x1:x2]
        out[y1:y2, x1:x2][inside] = filled[inside]
        return out
