"""LaMa on onnxruntime: RGB tiles and their masks in, the repaired tiles out, pasted under the mask only.

The usual LaMa exports take ``image`` (1x3xHxW, RGB in 0..1) and ``mask`` (1x1xHxW, 1 = repair) and return
1x3xHxW in 0..255 (some in 0..1: the scale is found once at load). A model with a fixed input size sets the
tile; one with free sizes gets ``inpainting.tile_px``. Tiles overlap so every repaired pixel has context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.errors import EngineFailed, EngineUnavailable
from actors.inpainting.inpainter import EngineKey, mask_box

if TYPE_CHECKING:
    import numpy as np

_OVERLAP_SHARE = 8  # tiles overlap by 1/8 of their side


def _input_names(session: Any) -> tuple[str, str]:
    """Return the (image, mask) input names: by name when they say so, else by channel count."""
    inputs = session.get_inputs()
    if len(inputs) != 2:
        raise EngineUnavailable(f"a LaMa model takes two inputs (image, mask), this one takes {len(inputs)}")
    by_name = {i.name.lower(): i.name for i in inputs}
    if "image" in by_name and "mask" in by_name:
        return by_name["image"], by_name["mask"]
    first, second = inputs
    return (first.name, second.name) if first.shape[1] == 3 else (second.name, first.name)


class LamaInpainter:
    """LaMa (or any image + mask -> image ONNX model) repairing the mask's box tile by tile."""

    name = "lama"

    def __init__(self, key: EngineKey, session: Any) -> None:
        self._session = session
        self._image, self._mask = _input_names(session)
        shape = next(i.shape for i in session.get_inputs() if i.name == self._image)
        fixed = all(isinstance(side, int) and side > 0 for side in shape[2:4])
        self.tile = (int(shape[2]), int(shape[3])) if fixed else (key.tile_px, key.tile_px)
        self.tiles_run = 0
        self._scale = self._output_scale()

    def _run(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import numpy as np  # noqa: PLC0415

        feed = {
            self._image: (image.astype(np.float32) / 255.0).transpose(2, 0, 1)[None],
            self._mask: mask.astype(np.float32)[None, None],
        }
        try:
            (out,) = self._session.run(None, feed)[:1]
        except Exception as exc:  # noqa: BLE001  (onnxruntime's errors are untyped)
            raise EngineFailed(f"the LaMa model failed on a {image.shape[1]}x{image.shape[0]} tile: {exc}") from None
        self.tiles_run += 1
        return np.asarray(out[0].transpose(1, 2, 0), dtype=np.float32)

    def _output_scale(self) -> float:
        """Return what turns the model's output into 0..255: it copies an unmasked mid-grey tile back."""
        import numpy as np  # noqa: PLC0415

        height, width = self.tile
        grey = np.full((height, width, 3), 128, np.uint8)
        level = float(self._run(grey, np.zeros((height, width), bool)).mean())
        self.tiles_run = 0
        return 255.0 if level < 2.0 else 1.0

    def inpaint(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Return ``frame`` with the pixels under ``mask`` repaired by the model, tile by tile."""
        import numpy as np  # noqa: PLC0415

        box = mask_box(mask, 0)
        if box is None:
            return frame
        out = frame.copy()
        for y0, x0 in self._origins(box, mask.shape):
            y1, x1 = y0 + self.tile[0], x0 + self.tile[1]
            window_mask = mask[y0:y1, x0:x1]
            if not window_mask.any():
                continue
            image, tile_mask = _padded(frame[y0:y1, x0:x1], window_mask, self.tile)
            repaired = self._run(image, tile_mask)[: window_mask.shape[0], : window_mask.shape[1]]
            pixels = np.clip(repaired * self._scale + 0.5, 0, 255).astype(np.uint8)
            out[y0:y1, x0:x1][window_mask] = pixels[window_mask]
        return out

    def _origins(self, box: tuple[int, int, int, int], shape: tuple[int, ...]) -> list[tuple[int, int]]:
        """Return the tile corners covering ``box``."""
        x1, y1, x2, y2 = box
        rows = _axis_origins(y1, y2, self.tile[0], shape[0])
        return [(y, x) for y in rows for x in _axis_origins(x1, x2, self.tile[1], shape[1])]


def _axis_origins(start: int, end: int, side: int, limit: int) -> list[int]:
    """Return tile starts along one axis whose cores (the tile less its overlap) cover ``[start, end)``.

    Tiles stay inside the frame where it is at least one tile long.
    """
    margin = side // _OVERLAP_SHARE
    position, origins = start - margin, []
    while True:
        origins.append(min(max(0, position), max(0, limit - side)))
        if position + side - margin >= end:
            return sorted(set(origins))
        position += side - 2 * margin


def _padded(image: np.ndarray, mask: np.ndarray, tile: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Return the window and its mask padded (mirrored) to the tile size; a full window is returned as it is."""
    import numpy as np  # noqa: PLC0415

    pad_y, pad_x = tile[0] - image.shape[0], tile[1] - image.shape[1]
    if pad_y == 0 and pad_x == 0:
        return image, mask
    # Mirroring needs the window to be longer than the padding; a thinner one repeats its edge.
    mirror = pad_y < image.shape[0] and pad_x < image.shape[1]
    padding = ((0, pad_y), (0, pad_x), (0, 0))
    padded = np.pad(image, padding, mode="reflect") if mirror else np.pad(image, padding, mode="edge")
    return padded, np.pad(mask, padding[:2])
