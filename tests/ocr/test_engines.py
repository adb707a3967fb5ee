"""The OCR adapters, change detection and reading order, on real engines and Pillow-drawn images."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from actors.errors import EngineUnavailable
from actors.paddleocr.engine import TextLine, engine_key, get_engine, join_lines
from actors.paddleocr.ocr_pass import same_text, text_mask
from config.engines import OcrSettings


def strip(text: str, shift: int = 0, size: tuple[int, int] = (480, 60)) -> np.ndarray:
    """A subtitle strip: white outlined text over a dark gradient that moves with ``shift``."""
    width, height = size
    xs = np.arange(width)[None, :, None]
    background = (90 + 50 * np.sin((xs + shift) / 23.0 + np.array([0.0, 2.0, 4.0]))).astype(np.uint8)
    image = Image.fromarray(np.broadcast_to(background, (height, width, 3)).copy())
    draw = ImageDraw.Draw(image)
    draw.text(
        (30, 14),
        text,
        font=ImageFont.load_default(size=26),
        fill=(255, 255, 255),
        stroke_width=2,
        stroke_fill=(0, 0, 0),
    )
    return np.asarray(image)


def test_rapidocr_reads_a_drawn_subtitle_line() -> None:
    engine = get_engine(engine_key(OcrSettings(), "rapidocr", None, None))
    lines = engine.read(strip("Subtitles are read offline"))
    assert join_lines(lines) == "Subtitles are read offline"
    assert all(line.score > 0.8 for line in lines)


def test_rapidocr_finds_no_text_on_a_plain_background() -> None:
    engine = get_engine(engine_key(OcrSettings(), "rapidocr", None, None))
    assert engine.read(strip("")) == []


def test_an_engine_is_loaded_once_per_process_and_reused() -> None:
    key = engine_key(OcrSettings(), "rapidocr", "en", None)
    assert get_engine(key) is get_engine(key)
    assert get_engine(engine_key(OcrSettings(language="en"), None, None, None)) is get_engine(key)


def test_paddleocr_without_the_package_or_models_says_how_to_provide_them() -> None:
    with pytest.raises(EngineUnavailable) as caught:
        get_engine(engine_key(OcrSettings(), "paddleocr", None, None))
    message = str(caught.value)
    assert "text_detection_model_dir" in message
    assert "text_recognition_model_dir" in message
    if importlib.util.find_spec("paddleocr") is None:
        assert "PaddleOCR is not installed" in message
        assert "pip install paddleocr paddlepaddle" in message


def test_rapidocr_refuses_a_language_its_wheel_has_no_model_for() -> None:
    with pytest.raises(EngineUnavailable, match="Chinese and English only"):
        get_engine(engine_key(OcrSettings(), "rapidocr", "korean", None))


def test_the_same_subtitle_over_a_moving_background_counts_as_unchanged() -> None:
    a = text_mask(strip("Hello there", shift=0))
    b = text_mask(strip("Hello there", shift=40))
    assert same_text(a, b)


def test_a_different_subtitle_or_none_counts_as_changed() -> None:
    shown = text_mask(strip("Hello there"))
    assert not same_text(shown, text_mask(strip("Goodbye now")))
    assert not same_text(shown, text_mask(strip("")))
    assert same_text(text_mask(strip("")), text_mask(strip("", shift=70)))


def test_text_pieces_join_in_reading_order() -> None:
    pieces = [
        TextLine(text="line", score=0.9, box=(120, 52, 170, 80)),
        TextLine(text="world", score=0.9, box=(80, 10, 140, 38)),
        TextLine(text="second", score=0.9, box=(10, 50, 110, 82)),
        TextLine(text="Hello", score=0.9, box=(10, 12, 70, 40)),
    ]
    assert join_lines(pieces) == "Hello world\nsecond line"
