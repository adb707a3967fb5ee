"""paddleocr.* end to end: a worker reads burnt-in subtitles of generated videos into SRT, VTT and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from actors.subtitles.formats import parse_srt
from tests.harness import Client, System
from tests.media import make_subtitled_video
from tests.ocr.conftest import LINES


@pytest.fixture(scope="module")
def videos(ocr_system: System) -> dict[str, str]:
    """A 6 s subtitled clip (H.264), the same in VP9, and a clip without any text."""
    root = ocr_system.share_dir
    make_subtitled_video(root / "in" / "subs.mp4", LINES)
    make_subtitled_video(root / "in" / "subs_vp9.mkv", LINES, codec="libvpx-vp9")
    make_subtitled_video(root / "in" / "plain.mp4", [], seconds=3.0)
    return {"subs": "in/subs.mp4", "vp9": "in/subs_vp9.mkv", "plain": "in/plain.mp4"}


def assert_matches_lines(srt: str) -> None:
    cues = parse_srt(srt)
    assert [c.text for c in cues] == [text for _, _, text in LINES]
    for cue, (start, end, _) in zip(cues, LINES, strict=True):
        assert abs(cue.start_s - start) <= 0.5, cue
        assert abs(cue.end_s - end) <= 0.5, cue


async def run_task(client: Client, task_name: str, data: dict[str, Any], task_id: str) -> dict[str, Any]:
    await client.submit(task_name, data, task_id=task_id)
    return await client.wait(task_id, timeout_s=120)


@pytest.mark.parametrize("video", ["subs", "vp9"])
async def test_extract_subtitles_gives_cues_matching_the_lines_within_half_a_second(
    ocr_system: System, ocr_client: Client, videos: dict[str, str], video: str
) -> None:
    record = await run_task(ocr_client, "paddleocr.extract_subtitles", {"video_path": videos[video]}, f"ex-{video}")

    assert record["status"] == "SUCCESS", record
    stage = record["stages"]["paddleocr.extract_subtitles"]
    output = stage["output"]
    root = ocr_system.share_dir
    assert_matches_lines((root / output["srt_path"]).read_text())
    assert (root / output["vtt_path"]).read_text().startswith("WEBVTT")
    assert [c["text"] for c in json.loads((root / output["json_path"]).read_text())["cues"]] == [t for *_, t in LINES]
    assert output["subtitles_count"] == 3
    assert output["ocr_calls"] <= 3 * len(LINES)  # once per distinct image, not once per frame (60 frames)
    assert not (root / f"workflows/ex-{video}/paddleocr.extract_subtitles/crops").exists()
    assert stage["progress"] == 1.0


async def test_each_stage_alone_chained_under_one_task_id_gives_the_same_subtitles(
    ocr_system: System, ocr_client: Client, videos: dict[str, str]
) -> None:
    task_id = "chain"
    stages: list[tuple[str, dict[str, Any]]] = [
        ("ffmpeg.extract_keyframes", {"video_path": videos["subs"], "count": 8}),
        (
            "paddleocr.detect_subtitle_area",
            {"keyframe_dir": "${{ stages.ffmpeg.extract_keyframes.output.keyframe_dir }}"},
        ),
        (
            "ffmpeg.crop_subtitle_images",
            {
                "video_path": videos["subs"],
                "subtitle_area": "${{ stages.paddleocr.detect_subtitle_area.output.subtitle_area }}",
            },
        ),
        ("paddleocr.perform_ocr", {"manifest_path": "${{ stages.ffmpeg.crop_subtitle_images.output.manifest_path }}"}),
        (
            "paddleocr.postprocess_and_finalize",
            {"ocr_results_file": "${{ stages.paddleocr.perform_ocr.output.ocr_results_file }}"},
        ),
    ]
    for task_name, data in stages:  # submitted at once: each waits for the stage it refers to
        await ocr_client.submit(task_name, data, task_id=task_id)
    record = await ocr_client.wait(task_id, timeout_s=120, stage="paddleocr.postprocess_and_finalize")

    assert record["status"] == "SUCCESS", record
    outputs = {name: s["output"] for name, s in record["stages"].items()}
    area = outputs["paddleocr.detect_subtitle_area"]
    assert area["frames_used"] == 8
    assert area["confidence"] >= 0.9
    x1, y1, x2, y2 = area["subtitle_area"]
    assert (x1, x2) == (0, 480)
    assert 180 <= y1 < 210
    assert 240 < y2 <= 270
    ocr = outputs["paddleocr.perform_ocr"]
    assert ocr["frames_ocr_count"] == 60
    assert ocr["ocr_calls"] <= 3 * len(LINES)
    final = outputs["paddleocr.postprocess_and_finalize"]
    root = ocr_system.share_dir
    assert_matches_lines((root / final["srt_path"]).read_text())
    assert not (root / outputs["ffmpeg.crop_subtitle_images"]["cropped_images_dir"]).exists()


async def test_detect_subtitle_area_from_a_video(ocr_client: Client, videos: dict[str, str]) -> None:
    record = await run_task(
        ocr_client, "paddleocr.detect_subtitle_area", {"video_path": videos["subs"], "keyframes": 6}, "area-video"
    )
    assert record["status"] == "SUCCESS", record
    output = record["stages"]["paddleocr.detect_subtitle_area"]["output"]
    assert output["frames_used"] == 6
    assert 180 <= output["subtitle_area"][1] < 210


async def test_every_frame_ocr_reads_each_crop_and_agrees(
    ocr_system: System, ocr_client: Client, videos: dict[str, str]
) -> None:
    data = {"video_path": videos["subs"], "subtitle_area": [0, 195, 480, 255], "fps": 4, "dedup": False}
    record = await run_task(ocr_client, "paddleocr.extract_subtitles", data, "every-frame")
    assert record["status"] == "SUCCESS", record
    output = record["stages"]["paddleocr.extract_subtitles"]["output"]
    assert output["ocr_calls"] == 24
    assert_matches_lines((ocr_system.share_dir / output["srt_path"]).read_text())


async def test_a_video_without_text_gives_an_empty_subtitle_file(
    ocr_system: System, ocr_client: Client, videos: dict[str, str]
) -> None:
    record = await run_task(ocr_client, "paddleocr.extract_subtitles", {"video_path": videos["plain"]}, "plain")
    assert record["status"] == "SUCCESS", record
    output = record["stages"]["paddleocr.extract_subtitles"]["output"]
    assert output["subtitles_count"] == 0
    assert (ocr_system.share_dir / output["srt_path"]).read_text() == ""


async def test_detecting_an_area_in_a_video_without_text_fails_saying_so(
    ocr_client: Client, videos: dict[str, str]
) -> None:
    record = await run_task(ocr_client, "paddleocr.detect_subtitle_area", {"video_path": videos["plain"]}, "plain-area")
    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "InputError"
    assert "no text found in 12 keyframes" in record["error"]["message"]


def _write_bad(root: Path, kind: str) -> str:
    (root / "bad").mkdir(exist_ok=True)
    if kind == "not-a-video":
        (root / "bad" / "notes.mp4").write_text("not a video at all")
        return "bad/notes.mp4"
    whole = (root / "in" / "subs.mp4").read_bytes()
    (root / "bad" / "cut.mp4").write_bytes(whole[: len(whole) // 3])
    return "bad/cut.mp4"


@pytest.mark.parametrize("kind", ["not-a-video", "corrupt"])
async def test_bad_videos_fail_extract_subtitles_with_a_clear_message(
    ocr_system: System, ocr_client: Client, videos: dict[str, str], kind: str
) -> None:
    path = _write_bad(ocr_system.share_dir, kind)
    record = await run_task(ocr_client, "paddleocr.extract_subtitles", {"video_path": path}, f"bad-{kind}")
    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "InputFileError"
    assert "is not a media file ffmpeg can read" in record["error"]["message"]


async def test_an_area_outside_the_frame_fails_extract_subtitles(ocr_client: Client, videos: dict[str, str]) -> None:
    data = {"video_path": videos["subs"], "subtitle_area": [0, 200, 480, 400]}
    record = await run_task(ocr_client, "paddleocr.extract_subtitles", data, "outside")
    assert record["status"] == "FAILED"
    assert "outside the 480x270 frame" in record["error"]["message"]


async def test_perform_ocr_on_a_folder_without_manifest_or_fps_says_what_to_pass(
    ocr_system: System, ocr_client: Client
) -> None:
    (ocr_system.share_dir / "loose").mkdir()
    record = await run_task(ocr_client, "paddleocr.perform_ocr", {"cropped_images_dir": "loose"}, "loose")
    assert record["status"] == "FAILED"
    assert "has no manifest.json" in record["error"]["message"]


async def test_paddleocr_requested_without_its_package_fails_saying_how_to_provide_it(
    ocr_client: Client, videos: dict[str, str]
) -> None:
    record = await run_task(
        ocr_client, "paddleocr.extract_subtitles", {"video_path": videos["subs"], "engine": "paddleocr"}, "paddle"
    )
    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "EngineUnavailable"
    assert "pip install paddleocr" in record["error"]["message"]
    assert "text_detection_model_dir" in record["error"]["message"]
    assert record["stages"]["paddleocr.extract_subtitles"]["attempts"] == 1


async def test_the_worker_loads_the_ocr_model_once_and_reuses_it(
    ocr_system: System, ocr_client: Client, videos: dict[str, str]
) -> None:
    data = {"video_path": videos["subs"], "subtitle_area": [0, 195, 480, 255], "fps": 2}
    for task_id in ("reuse-1", "reuse-2"):
        assert (await run_task(ocr_client, "paddleocr.extract_subtitles", data, task_id))["status"] == "SUCCESS"

    loads = [json.loads(line) for line in ocr_system.logs("worker").splitlines() if "ocr_engine_loaded" in line]
    assert [(load["engine"], load["device"]) for load in loads] == [("rapidocr", "cpu")]
