"""OCR engines behind one adapter: RapidOCR (PP-OCR as ONNX, offline) and PaddleOCR (local model folders).

Engines are imported lazily and loaded once per worker process, keyed by engine, device and model.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import msgspec
import structlog

from actors.engine_device import engine_device
from actors.errors import EngineFailed, EngineUnavailable
from actors.worker.warm import WARM
from config.engines import OcrSettings

if TYPE_CHECKING:
    import numpy as np

log = structlog.get_logger(__name__)

# Languages whose PP-OCR models ship in rapidocr's wheel (the Chinese model reads English too).
RAPIDOCR_LANGUAGES = frozenset({"ch", "en", "chinese", "english"})
# Detection resizes the longer side down to this (never up): subtitle strips keep their size.
_DET_MAX_SIDE = 960
_MIN_SCORE = 0.5
# Finding where text is needs no more than this many pixels on the longer side of a whole frame.
_AREA_MAX_SIDE = 640

PADDLE_HINT = (
    "install it in the worker's environment (pip install paddleocr paddlepaddle, or paddlepaddle-gpu for CUDA) "
    "and point ocr.text_detection_model_dir and ocr.text_recognition_model_dir "
    "(TASKGATE_OCR__TEXT_DETECTION_MODEL_DIR, TASKGATE_OCR__TEXT_RECOGNITION_MODEL_DIR) at local PP-OCR "
    "inference model folders; or use engine 'rapidocr', which needs no download"
)

Box = tuple[float, float, float, float]


class TextLine(msgspec.Struct, kw_only=True, frozen=True):
    """One piece of text found in an image: text, confidence and box ``(x1, y1, x2, y2)``."""

    text: str
    score: float
    box: Box


class OcrEngine(Protocol):
    """What the OCR tasks need from an engine."""

    name: str

    def read(self, image: np.ndarray) -> list[TextLine]:
        """Detect and recognise the text in an RGB image."""

    def detect(self, image: np.ndarray) -> list[Box]:
        """Return the boxes of text in an RGB image (recognition may be skipped)."""


class EngineKey(NamedTuple):
    """What makes two loaded engines interchangeable."""

    engine: str
    device: str
    gpu_index: int
    language: str
    detection_dir: str | None
    recognition_dir: str | None


def _box(points: Any) -> Box:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


class RapidOcr:
    """RapidOCR on onnxruntime, with the PP-OCR models from its wheel."""

    name = "rapidocr"

    def __init__(self, key: EngineKey) -> None:
        if key.language.lower() not in RAPIDOCR_LANGUAGES:
            raise EngineUnavailable(
                f"rapidocr ships models for Chinese and English only, not {key.language!r}; "
                f"use engine 'paddleocr' with a recognition model for that language: {PADDLE_HINT}"
            )
        from rapidocr import RapidOCR  # noqa: PLC0415  (onnxruntime and opencv stay out of the gateway)

        params: dict[str, Any] = {
            "Global.log_level": "error",  # it warns on every image without text
            "Global.use_cls": False,
            "Det.limit_type": "max",
            "Det.limit_side_len": _DET_MAX_SIDE,
        }
        if key.device == "cuda":
            _require_onnx_cuda()
            params["EngineConfig.onnxruntime.use_cuda"] = True
            params["EngineConfig.onnxruntime.cuda_ep_cfg.device_id"] = key.gpu_index
        self._engine = RapidOCR(params=params)
        self._lock = threading.Lock()

    def read(self, image: np.ndarray) -> list[TextLine]:
        """Detect and recognise the text in an RGB image."""
        with self._lock:
            # Every flag on every call: RapidOCR keeps the last call's flags as its new defaults.
            result: Any = self._engine(image, use_det=True, use_cls=False, use_rec=True)
        if getattr(result, "txts", None) is None or result.boxes is None:  # nothing detected: no txts at all
            return []
        return [
            TextLine(text=str(text), score=float(score), box=_box(points))
            for text, score, points in zip(result.txts, result.scores, result.boxes, strict=True)
            if float(score) >= _MIN_SCORE and str(text).strip()
        ]

    def detect(self, image: np.ndarray) -> list[Box]:
        """Return the boxes of text in an RGB image (detection model only, on at most 640 px)."""
        small, scale = shrink(image, _AREA_MAX_SIDE)
        with self._lock:
            result: Any = self._engine(small, use_det=True, use_cls=False, use_rec=False)
        if getattr(result, "boxes", None) is None:
            return []
        return [_box(points / scale) for points in result.boxes]


def _require_onnx_cuda() -> None:
    import onnxruntime  # noqa: PLC0415

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise EngineUnavailable(
            "ocr.device is 'cuda' but onnxruntime has no CUDA provider: install onnxruntime-gpu in the "
            "worker's environment, or set ocr.device to 'cpu'"
        )


class PaddleOcr:
    """PaddleOCR 3.x from local model folders (it cannot download models here)."""

    name = "paddleocr"

    def __init__(self, key: EngineKey) -> None:
        try:
            from paddleocr import PaddleOCR  # noqa: PLC0415
        except ImportError:
            raise EngineUnavailable(f"PaddleOCR is not installed: {PADDLE_HINT}") from None
        missing = [
            name
            for name, folder in (
                ("ocr.text_detection_model_dir", key.detection_dir),
                ("ocr.text_recognition_model_dir", key.recognition_dir),
            )
            if not folder or not Path(folder).is_dir()
        ]
        if missing:
            raise EngineUnavailable(
                f"PaddleOCR has no local models ({', '.join(missing)} not set or missing): {PADDLE_HINT}"
            )
        try:
            self._engine = PaddleOCR(
                text_detection_model_dir=key.detection_dir,
                text_recognition_model_dir=key.recognition_dir,
                use_doc_orientation_classify=False,
                use_doc_unwarping=False,
                use_textline_orientation=False,
                device=f"gpu:{key.gpu_index}" if key.device == "cuda" else "cpu",
            )
        except Exception as exc:  # noqa: BLE001  (paddle raises many types; all mean "cannot load")
            raise EngineUnavailable(f"PaddleOCR could not load its models: {exc}; {PADDLE_HINT}") from None
        self._lock = threading.Lock()

    def read(self, image: np.ndarray) -> list[TextLine]:
        """Detect and recognise the text in an RGB image."""
        with self._lock:
            results = self._engine.predict(image[:, :, ::-1].copy())  # PaddleOCR takes BGR arrays
        lines = []
        for result in results:
            for text, score, points in zip(
                result.get("rec_texts", []), result.get("rec_scores", []), result.get("rec_polys", []), strict=False
            ):
                if float(score) >= _MIN_SCORE and str(text).strip():
                    lines.append(TextLine(text=str(text), score=float(score), box=_box(points)))
        return lines

    def detect(self, image: np.ndarray) -> list[Box]:
        """Return the boxes of text in an RGB image."""
        return [line.box for line in self.read(image)]


_LOADERS: dict[str, type[RapidOcr] | type[PaddleOcr]] = {"rapidocr": RapidOcr, "paddleocr": PaddleOcr}


def engine_key(settings: OcrSettings, engine: str | None, language: str | None, gpu_index: int | None) -> EngineKey:
    """Return the cache key of the engine a request asks for (request values over settings)."""
    device = engine_device(settings.device, gpu_index)
    return EngineKey(
        engine=engine or settings.engine,
        device=device.kind,
        gpu_index=device.index,
        language=language or settings.language,
        detection_dir=settings.text_detection_model_dir,
        recognition_dir=settings.text_recognition_model_dir,
    )


def get_engine(key: EngineKey) -> OcrEngine:
    """Return the engine for ``key``, loading it on first use in this process (``actors.worker.warm``).

    Raises:
        EngineUnavailable: the engine or its models are not installed; the message says how to provide them.
    """

    def load() -> OcrEngine:
        engine = _LOADERS[key.engine](key)
        log.info("ocr_engine_loaded", engine=key.engine, device=key.device, gpu=key.gpu_index, language=key.language)
        return engine

    engine, _loaded = WARM.get("ocr", key, load)
    return engine


def load_rgb(path: Path, mode: str = "RGB") -> np.ndarray:
    """Read an image file as an RGB array (or in another Pillow ``mode``).

    Raises:
        EngineFailed: the file is not an image.
    """
    import numpy as np  # noqa: PLC0415
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert(mode))
    except (UnidentifiedImageError, OSError) as exc:
        raise EngineFailed(f"cannot read image {path.name}: {exc}") from None


def load_luma(path: Path) -> np.ndarray:
    """Read an image file as 8-bit luma (ITU-R 601, as Pillow's ``L``).

    Raises:
        EngineFailed: the file is not an image.
    """
    return load_rgb(path, "L")


def shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Return the image scaled down to ``max_side`` on its longer side (never up), and the scale."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR)), scale


def join_lines(lines: Sequence[TextLine]) -> str:
    """Join text pieces into reading order: rows top to bottom (by vertical overlap), left to right."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda t: (t.box[1] + t.box[3]) / 2):
        centre = (line.box[1] + line.box[3]) / 2
        if rows and rows[-1][-1].box[1] <= centre <= rows[-1][-1].box[3]:
            rows[-1].append(line)
        else:
            rows.append([line])
    return "\n".join(" ".join(t.text.strip() for t in sorted(row, key=lambda t: t.box[0])) for row in rows)
