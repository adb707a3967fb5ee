"""Change detection on glyph strokes holds over a textured, panning background (grass, bright clouds)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from actors.paddleocr.ocr_pass import is_blank, same_text, text_mask
from tests.media import draw_lines, textured_background

SIZE, FRAMES, BAND = (640, 360), 40, slice(250, 360)
STRIP = textured_background(SIZE, FRAMES)


def band(frame: int, *lines: str) -> np.ndarray:
    """Frame ``frame`` of the panning background with ``lines`` drawn on it, cropped to the subtitle band."""
    image = Image.fromarray(STRIP[:, 3 * frame : 3 * frame + SIZE[0]].copy())
    draw_lines(image, list(lines), 28)
    return np.asarray(image)[BAND]


def test_the_background_alone_reads_as_no_text_in_every_frame() -> None:
    assert all(is_blank(text_mask(band(i))) for i in range(0, FRAMES, 3))


def test_one_line_over_the_moving_background_stays_the_same_text() -> None:
    first = text_mask(band(0, "Hello from the first line", "and its second row"))
    assert not is_blank(first)
    for i in range(3, FRAMES, 3):
        assert same_text(first, text_mask(band(i, "Hello from the first line", "and its second row"))), i


def test_another_line_or_none_counts_as_changed() -> None:
    shown = text_mask(band(0, "Hello from the first line"))
    assert not same_text(shown, text_mask(band(9, "Another line of words here")))
    assert not same_text(shown, text_mask(band(9)))


def test_white_text_without_an_outline_over_a_dark_background_still_counts_as_text() -> None:
    image = Image.new("RGB", (480, 60), (70, 70, 90))
    ImageDraw.Draw(image).text((30, 14), "No outline here", font=ImageFont.load_default(size=26), fill="white")
    assert not is_blank(text_mask(np.asarray(image)))
