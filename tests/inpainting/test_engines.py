"""The inpainting adapters on real OpenCV and onnxruntime: OpenCV's two methods, LaMa from a local ONNX file."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest

import actors.registry  # noqa: F401  (registers every task)
from actors.errors import EngineUnavailable
from actors.inpainting.engine import EngineKey, get_inpainter
from actors.inpainting.lama import LamaInpainter
from actors.registry import get_spec
from config.engines import InpaintingSettings, OcrSettings
from config.settings import Settings
from tests.inpainting.tiny_lama import build_tiny_lama


def key(engine: str = "opencv", method: str = "telea", model: Path | None = None, tile_px: int = 512) -> EngineKey:
    return EngineKey(engine, method, str(model) if model else None, "cpu", 0, tile_px)


def scene(width: int = 200, height: int = 150) -> np.ndarray:
    """A smooth colour ramp with a pure red block on the right."""
    xs = np.linspace(0, 1, width)[None, :, None]
    ys = np.linspace(0, 1, height)[:, None, None]
    image = (40 + 120 * xs + 60 * ys + np.array([0, 30, 60])).clip(0, 255).astype(np.uint8)
    image[:, 150:] = (220, 10, 10)
    return image


def text_like_mask(shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[60:66, 10:190] = True  # a line across several 64 px tiles, into the red block
    mask[20:24, 40:44] = True
    return mask


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_opencv_repairs_only_the_masked_pixels(method: str) -> None:
    image, mask = scene(), text_like_mask((150, 200))
    damaged = image.copy()
    damaged[mask] = 255

    repaired = get_inpainter(key(method=method)).inpaint(damaged, mask)

    assert np.array_equal(repaired[~mask], image[~mask])
    error = np.abs(repaired[mask].astype(int) - image[mask]).mean()
    assert error < 12, error  # white text was 100+ levels off; a smooth ramp comes back closely
    assert np.array_equal(damaged[mask], np.full_like(damaged[mask], 255))  # the input is left alone


def test_an_empty_mask_returns_the_frame_as_it_is() -> None:
    image = scene()
    assert get_inpainter(key()).inpaint(image, np.zeros((150, 200), dtype=bool)) is image


@pytest.mark.parametrize(("side", "scale_255"), [(64, True), (None, False)])
def test_lama_from_an_onnx_file_repairs_tile_by_tile(tmp_path: Path, side: int | None, scale_255: bool) -> None:
    model = build_tiny_lama(tmp_path / "lama.onnx", side, scale_255=scale_255)
    engine = get_inpainter(key("lama", model=model, tile_px=96))
    assert isinstance(engine, LamaInpainter)
    assert engine.tile == ((64, 64) if side else (96, 96))
    image, mask = scene(), text_like_mask((150, 200))
    damaged = image.copy()
    damaged[mask] = 255

    repaired = engine.inpaint(damaged, mask)

    assert engine.tiles_run >= 3  # the line spans more than one tile
    assert np.array_equal(repaired[~mask], damaged[~mask])
    error = np.abs(repaired[mask].astype(int) - image[mask]).mean()
    assert error < 12, error  # both output scales come back as 0..255
    red = repaired[60:66, 160:190].reshape(-1, 3).mean(axis=0)
    assert red[0] > 180, red  # RGB stays RGB through the model
    assert red[2] < 40, red


def test_lama_is_loaded_once_per_process(tmp_path: Path) -> None:
    model = build_tiny_lama(tmp_path / "lama.onnx")
    assert get_inpainter(key("lama", model=model)) is get_inpainter(key("lama", model=model))


def test_lama_without_its_model_file_names_the_setting(tmp_path: Path) -> None:
    for model in (None, tmp_path / "missing.onnx"):
        with pytest.raises(EngineUnavailable) as caught:
            get_inpainter(key("lama", model=model))
        assert "inpainting.lama_model_path" in str(caught.value)
        assert "TASKGATE_INPAINTING__LAMA_MODEL_PATH" in str(caught.value)


def test_lama_refuses_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(EngineUnavailable, match="not a usable ONNX model"):
        get_inpainter(key("lama", model=bogus))


def test_the_task_takes_a_gpu_lease_only_when_lama_or_the_detector_runs_on_cuda() -> None:
    spec = get_spec("inpainting.remove_subtitles")
    lama, opencv = (msgspec.convert({"video_path": "v.mp4", "engine": e}, spec.input_type) for e in ("lama", "opencv"))
    cuda = Settings(inpainting=InpaintingSettings(device="cuda"))
    assert spec.queue == "inpainting"
    assert not spec.uses_gpu(Settings(), lama)
    assert spec.uses_gpu(cuda, lama)
    assert not spec.uses_gpu(cuda, opencv)
    assert spec.uses_gpu(Settings(inpainting=InpaintingSettings(device="cuda", engine="lama")), None)
    assert spec.uses_gpu(Settings(ocr=OcrSettings(device="cuda")), opencv)
