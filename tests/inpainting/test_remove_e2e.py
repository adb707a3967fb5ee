"""inpainting.remove_subtitles end to end: the repaired clip against the same clip generated without text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Client, System
from tests.inpainting.quality import measure, streams, text_frame_indexes
from tests.media import make_textured_pair

FPS, SECONDS, SIZE = 25, 3.0, (480, 270)
FRAMES = round(FPS * SECONDS)
LINES = [(0.4, 1.4, "Hello from the first line"), (1.8, 2.8, "A second line of text")]
TEXT_FRAMES = text_frame_indexes(LINES, FPS, FRAMES)


@pytest.fixture(scope="module")
def clips(inpaint_system: System) -> dict[str, str]:
    """Subtitled and clean clips over a panning textured background, the same from a still camera."""
    root = inpaint_system.share_dir
    for name, pan_px in (("pan", 3), ("still", 0)):
        make_textured_pair(
            root / f"in/{name}.mp4",
            root / f"in/{name}_clean.mp4",
            LINES,
            SECONDS,
            fps=FPS,
            size=SIZE,
            font_size=24,
            pan_px=pan_px,
        )
    return {"pan": "in/pan.mp4", "still": "in/still.mp4"}


async def remove(client: Client, data: dict[str, Any], task_id: str) -> dict[str, Any]:
    await client.submit("inpainting.remove_subtitles", data, task_id=task_id)
    return await client.wait(task_id, timeout_s=120)


def output_of(record: dict[str, Any]) -> dict[str, Any]:
    assert record["status"] == "SUCCESS", record
    return dict(record["stages"]["inpainting.remove_subtitles"]["output"])


@pytest.mark.parametrize("camera", ["pan", "still"])
async def test_removed_subtitles_leave_the_clean_picture(
    inpaint_system: System, inpaint_client: Client, clips: dict[str, str], camera: str
) -> None:
    output = output_of(await remove(inpaint_client, {"video_path": clips[camera]}, f"remove-{camera}"))

    root = inpaint_system.share_dir
    repaired, clean, given = root / output["video_path"], root / f"in/{camera}_clean.mp4", root / clips[camera]
    quality = measure(repaired, clean, given, output["subtitle_area"], TEXT_FRAMES)
    assert quality.input_band_text_db < 20  # the burnt-in text is there to remove
    assert quality.band_text_db >= 30, quality
    assert quality.band_plain_db >= 34, quality  # frames without text: only the re-encode of fine grass
    assert quality.outside_db >= 38, quality
    assert output["frames_total"] == FRAMES
    assert abs(output["frames_inpainted"] - len(TEXT_FRAMES)) <= 2
    assert output["ocr_calls"] <= 3 * len(LINES)  # the mask is reused while a line stays up
    x1, y1, x2, y2 = output["subtitle_area"]
    assert (x1, x2) == (0, SIZE[0])
    assert 170 <= y1 < 215 < y2 <= SIZE[1]


async def test_the_output_keeps_size_rate_length_and_the_audio_packets(
    inpaint_system: System, inpaint_client: Client, clips: dict[str, str]
) -> None:
    output = output_of(await remove(inpaint_client, {"video_path": clips["pan"]}, "remove-streams"))

    root = inpaint_system.share_dir
    before, after = streams(root / clips["pan"]), streams(root / output["video_path"])
    assert output["video_path"].endswith(".mp4")
    assert after.video_codec == "h264"
    assert (after.width, after.height, after.rate, after.frames) == (before.width, before.height, before.rate, FRAMES)
    assert after.audio_codec == before.audio_codec == "aac"
    assert after.audio_packets == before.audio_packets  # copied, not re-encoded


async def test_our_own_ocr_finds_no_subtitles_in_the_output(
    inpaint_system: System, inpaint_client: Client, clips: dict[str, str]
) -> None:
    output = output_of(await remove(inpaint_client, {"video_path": clips["pan"]}, "remove-then-ocr"))
    await inpaint_client.submit(
        "paddleocr.extract_subtitles", {"video_path": output["video_path"]}, task_id="ocr-after-removal"
    )
    record = await inpaint_client.wait("ocr-after-removal", timeout_s=120)
    assert record["status"] == "SUCCESS", record
    assert record["stages"]["paddleocr.extract_subtitles"]["output"]["subtitles_count"] == 0
    assert (inpaint_system.share_dir / "in/pan.mp4").is_file()


async def test_only_frames_between_start_and_end_are_repaired(
    inpaint_system: System, inpaint_client: Client, clips: dict[str, str]
) -> None:
    data = {"video_path": clips["pan"], "subtitle_area": [0, 190, 480, 270], "start_s": 1.6, "end_s": 3.0}
    output = output_of(await remove(inpaint_client, data, "remove-window"))

    second_line = {i for i in TEXT_FRAMES if i >= 1.6 * FPS}
    assert abs(output["frames_inpainted"] - len(second_line)) <= 2
    root = inpaint_system.share_dir
    first_line = TEXT_FRAMES - second_line
    kept = measure(
        root / output["video_path"], root / "in/pan_clean.mp4", root / clips["pan"], [0, 190, 480, 270], first_line
    )
    assert kept.band_text_db < 20  # the first line was left on screen
