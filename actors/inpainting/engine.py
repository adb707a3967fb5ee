"""Inpainting engines behind one adapter: OpenCV (Telea, Navier-Stokes), PatchMatch, LaMa as a local ONNX model.

Engines are imported lazily and loaded once per worker process, keyed by what makes two interchangeable.
Frames are RGB ``uint8`` arrays, masks boolean arrays of the frame's height and width.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from actors.errors import EngineUnavailable
from actors.inpainting.inpainter import EngineKey, Inpainter, mask_box
from actors.worker.warm import WARM

if TYPE_CHECKING:
    import numpy as np

__all__ = ["LAMA_SETTING", "EngineKey", "Inpainter", "get_inpainter", "get_lama_session"]

log = structlog.get_logger(__name__)

# OpenCV looks this far around each masked pixel.
_CV_RADIUS_PX = 3
LAMA_SETTING = "inpainting.lama_model_path (TASKGATE_INPAINTING__LAMA_MODEL_PATH)"


class OpenCvInpainter:
    """``cv2.inpaint`` (Telea's fast marching or Navier-Stokes) on the mask's bounding box only."""

    name = "opencv"

    def __init__(self, key: EngineKey) -> None:
        import cv2  # noqa: PLC0415  (OpenCV stays out of the gateway)

        self._flag = cv2.INPAINT_TELEA if key.method == "telea" else cv2.INPAINT_NS

    def inpaint(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Return ``frame`` with the pixels under ``mask`` repaired by OpenCV."""
        import cv2  # noqa: PLC0415
        import numpy as np  # noqa: PLC0415

        box = mask_box(mask, 2 * _CV_RADIUS_PX)
        if box is None:
            return frame
        x1, y1, x2, y2 = box
        out = frame.copy()
        crop_mask = mask[y1:y2, x1:x2].astype(np.uint8) * 255
        out[y1:y2, x1:x2] = cv2.inpaint(np.ascontiguousarray(frame[y1:y2, x1:x2]), crop_mask, _CV_RADIUS_PX, self._flag)
        return out


def _cuda_providers(gpu_index: int) -> list[Any]:
    import onnxruntime  # noqa: PLC0415

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise EngineUnavailable(
            "inpainting.device is 'cuda' but onnxruntime has no CUDA provider: install onnxruntime-gpu in the "
            "worker's environment, or set inpainting.device to 'cpu'"
        )
    return [("CUDAExecutionProvider", {"device_id": gpu_index}), "CPUExecutionProvider"]


def get_lama_session(key: EngineKey) -> Any:
    """Open the LaMa ONNX model of ``key`` on onnxruntime (CUDA when configured).

    Raises:
        EngineUnavailable: the model file is not configured, missing or not a model; the message names the setting.
    """
    path = key.lama_model_path
    if not path or not Path(path).is_file():
        shown = "is not set" if not path else f"names {path!r}, which does not exist"
        raise EngineUnavailable(
            f"engine 'lama' needs a local LaMa ONNX model (image + mask -> image): {LAMA_SETTING} {shown}; "
            "no package ships LaMa weights, export one (e.g. big-lama) to ONNX, or use engine 'opencv'"
        )
    import onnxruntime  # noqa: PLC0415

    providers = _cuda_providers(key.gpu_index) if key.device == "cuda" else ["CPUExecutionProvider"]
    try:
        return onnxruntime.InferenceSession(path, providers=providers)
    except Exception as exc:  # noqa: BLE001  (onnxruntime raises its own untyped errors for a bad file)
        raise EngineUnavailable(f"{LAMA_SETTING}: {path!r} is not a usable ONNX model: {exc}") from None


def get_inpainter(key: EngineKey) -> Inpainter:
    """Return the engine for ``key``, loaded on first use in this process (``actors.worker.warm``).

    Raises:
        EngineUnavailable: the engine or its model is not installed; the message says how to provide it.
    """
    from actors.inpainting.lama import LamaInpainter  # noqa: PLC0415
    from actors.inpainting.patchmatch import PatchMatchInpainter  # noqa: PLC0415

    def load() -> Inpainter:
        inpainter: Inpainter
        if key.engine == "lama":
            inpainter = LamaInpainter(key, get_lama_session(key))
        elif key.quality == "best":
            inpainter = PatchMatchInpainter(key)
        else:
            inpainter = OpenCvInpainter(key)
        log.info(
            "inpainting_engine_loaded", engine=inpainter.name, device=key.device if key.engine == "lama" else "cpu"
        )
        return inpainter

    inpainter, _loaded = WARM.get("inpainting", key, load)
    return inpainter
