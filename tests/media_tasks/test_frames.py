"""ffmpeg.extract_keyframes and ffmpeg.crop_subtitle_images through the gateway and a real worker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.harness import Client, System
from tests.media import make_subtitled_video, run_ffmpeg

LINES = [(0.5, 2.0, "Hello from the first line"), (2.5, 4.0, "A second line of text")]


@pytest.fixture(scope="module")
def videos(media_system: System) -> dict[str, str]:
    """Subtitled 6 s clips (480x270, 10 fps) in three codecs, under the storage root."""
    root = media_system.share_dir
    make_subtitled_video(root / "in" / "h264.mp4", LINES)
    make_subtitled_video(root / "in" / "mpeg4.avi", LINES, codec="mpeg4")
    make_subtitled_video(root / "in" / "vp9.mkv", LINES, codec="libvpx-vp9")
    return {"h264": "in/h264.mp4", "mpeg4": "in/mpeg4.avi", "vp9": "in/vp9.mkv"}


def pixels(root: Path, rel: str) -> np.ndarray:
    with Image.open(root / rel) as image:
        return np.asarray(image.convert("RGB"))


async def run_task(client: Client, task_name: str, data: dict[str, Any], task_id: str) -> dict[str, Any]:
    await client.submit(task_name, data, task_id=task_id)
    return await client.wait(task_id, timeout_s=60)


async def test_keyframes_are_spread_evenly_and_repeat_exactly(
    media_system: System, media_client: Client, videos: dict[str, str]
) -> None:
    outputs = []
    for task_id in ("kf-a", "kf-b"):
        record = await run_task(
            media_client, "ffmpeg.extract_keyframes", {"video_path": videos["h264"], "count": 5}, task_id
        )
        assert record["status"] == "SUCCESS", record
        outputs.append(record["stages"]["ffmpeg.extract_keyframes"]["output"])

    first, second = outputs
    assert [f["time_s"] for f in first["frames"]] == [0.6, 1.8, 3.0, 4.2, 5.4]
    assert first["keyframe_dir"] == "workflows/kf-a/ffmpeg.extract_keyframes/keyframes"
    for a, b in zip(first["frames"], second["frames"], strict=True):
        assert a["time_s"] == b["time_s"]
        assert pixels(media_system.share_dir, a["path"]).shape == (270, 480, 3)
        assert np.array_equal(pixels(media_system.share_dir, a["path"]), pixels(media_system.share_dir, b["path"]))


async def test_keyframes_by_interval_start_at_zero_and_stay_inside_the_video(
    media_client: Client, videos: dict[str, str]
) -> None:
    record = await run_task(
        media_client, "ffmpeg.extract_keyframes", {"video_path": videos["h264"], "interval_s": 2}, "kf-interval"
    )
    assert record["status"] == "SUCCESS", record
    assert [f["time_s"] for f in record["stages"]["ffmpeg.extract_keyframes"]["output"]["frames"]] == [0.0, 2.0, 4.0]


async def test_crops_have_the_area_size_and_manifest_times_one_step_apart(
    media_system: System, media_client: Client, videos: dict[str, str]
) -> None:
    data = {"video_path": videos["h264"], "subtitle_area": [40, 200, 440, 260], "fps": 5}
    record = await run_task(media_client, "ffmpeg.crop_subtitle_images", data, "crop-h264")

    assert record["status"] == "SUCCESS", record
    output = record["stages"]["ffmpeg.crop_subtitle_images"]["output"]
    assert output["frames_count"] == 30
    manifest = json.loads((media_system.share_dir / output["manifest_path"]).read_text())
    assert [f["time_s"] for f in manifest["frames"]] == [round(i / 5, 3) for i in range(30)]
    assert manifest["subtitle_area"] == [40, 200, 440, 260]
    crop = pixels(media_system.share_dir, f"{output['cropped_images_dir']}/{manifest['frames'][5]['file']}")
    assert crop.shape == (60, 400, 3)
    assert (crop.mean(axis=2) > 230).any()  # t=1.0 s: white subtitle pixels inside the crop


@pytest.mark.parametrize("codec", ["mpeg4", "vp9"])
async def test_non_h264_videos_give_keyframes_and_crops(
    media_client: Client, videos: dict[str, str], codec: str
) -> None:
    keyframes = await run_task(
        media_client, "ffmpeg.extract_keyframes", {"video_path": videos[codec], "count": 3}, f"kf-{codec}"
    )
    crops = await run_task(
        media_client,
        "ffmpeg.crop_subtitle_images",
        {"video_path": videos[codec], "subtitle_area": [0, 190, 480, 270], "fps": 2},
        f"crop-{codec}",
    )

    assert keyframes["status"] == "SUCCESS", keyframes
    assert len(keyframes["stages"]["ffmpeg.extract_keyframes"]["output"]["frames"]) == 3
    assert crops["status"] == "SUCCESS", crops
    assert crops["stages"]["ffmpeg.crop_subtitle_images"]["output"]["frames_count"] == 12


async def test_an_area_outside_the_frame_fails_naming_the_frame_size(
    media_client: Client, videos: dict[str, str]
) -> None:
    data = {"video_path": videos["h264"], "subtitle_area": [0, 200, 640, 300]}
    record = await run_task(media_client, "ffmpeg.crop_subtitle_images", data, "crop-outside")
    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "InputError"
    assert "outside the 480x270 frame" in record["error"]["message"]


async def test_an_empty_area_is_refused(media_client: Client, videos: dict[str, str]) -> None:
    data = {"video_path": videos["h264"], "subtitle_area": [100, 200, 100, 260]}
    record = await run_task(media_client, "ffmpeg.crop_subtitle_images", data, "crop-empty")
    assert record["status"] == "FAILED"
    assert "is empty" in record["error"]["message"]


def _not_a_video(root: Path) -> str:
    (root / "bad").mkdir(exist_ok=True)
    (root / "bad" / "notes.mp4").write_text("these are meeting notes, not a video")
    return "bad/notes.mp4"


def _corrupt(root: Path) -> str:
    whole = (root / "in" / "h264.mp4").read_bytes()
    (root / "bad").mkdir(exist_ok=True)
    (root / "bad" / "truncated.mp4").write_bytes(whole[: len(whole) // 3])
    return "bad/truncated.mp4"


def _zero_length(root: Path) -> str:

    target = root / "bad" / "zero.mp4"
    target.parent.mkdir(exist_ok=True)
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=duration=1:size=320x240:rate=25",
        "-frames:v",
        "0",
        "-c:v",
        "libx264",
        str(target),
    )
    return "bad/zero.mp4"


@pytest.mark.parametrize(
    ("make", "expected"),
    [(_not_a_video, "not a media file"), (_corrupt, "not a media file"), (_zero_length, "no video frames")],
    ids=["not-a-video", "corrupt", "zero-length"],
)
@pytest.mark.parametrize("task_name", ["ffmpeg.extract_keyframes", "ffmpeg.crop_subtitle_images"])
async def test_bad_videos_fail_the_stage_with_a_clear_message(
    media_system: System,
    media_client: Client,
    videos: dict[str, str],
    *,
    make: Callable[[Path], str],
    expected: str,
    task_name: str,
) -> None:
    path = make(media_system.share_dir)
    data: dict[str, Any] = {"video_path": path}
    if task_name == "ffmpeg.crop_subtitle_images":
        data["subtitle_area"] = [0, 0, 100, 100]
    task_id = f"bad-{task_name.split('.')[1]}-{Path(path).stem}"
    record = await run_task(media_client, task_name, data, task_id)

    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "InputFileError"
    assert expected in record["error"]["message"]
    assert path in record["error"]["message"]
