"""inpainting.remove_subtitles on bad input: 422 at submit where it can be known, else a failed stage saying why."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Client, System, async_wait_until
from tests.media import make_video, read_frames


@pytest.fixture(scope="module")
def plain(inpaint_system: System) -> str:
    """A 2 s test pattern with a tone: no subtitles."""
    make_video(inpaint_system.share_dir / "in/plain.mp4", 2.0)
    return "in/plain.mp4"


@pytest.mark.parametrize(
    ("extra", "pointer", "words"),
    [
        ({"start_s": 3.0, "end_s": 1.0}, "$.input_data", "start_s (3.0) must be before end_s"),
        ({"engine": "photoshop"}, "$.input_data.engine", "Invalid enum value 'photoshop'"),
        ({"method": "blur"}, "$.input_data.method", "Invalid enum value 'blur'"),
        ({"subtitle_area": [0, 200, 0, 270]}, "$.input_data", "x1 < x2"),
        ({"dilate_px": -1}, "$.input_data.dilate_px", ">= 0"),
        ({"quality": "ultra"}, "$.input_data.quality", "Invalid enum value 'ultra'"),
        ({"lookahead_s": 60}, "$.input_data.lookahead_s", "<= 10"),
    ],
)
async def test_input_known_to_be_wrong_is_refused_at_submit(
    inpaint_client: Client, extra: dict[str, Any], pointer: str, words: str
) -> None:
    payload = {"task_name": "inpainting.remove_subtitles", "input_data": {"video_path": "in/plain.mp4", **extra}}
    status, body, headers = await inpaint_client.request("POST", "/v1/tasks", json=payload)
    assert status == 422, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["errors"][0]["pointer"] == pointer
    assert words in body["detail"]


async def run_task(client: Client, data: dict[str, Any], task_id: str) -> dict[str, Any]:
    await client.submit("inpainting.remove_subtitles", data, task_id=task_id)
    return await client.wait(task_id, timeout_s=60)


async def test_a_file_that_is_not_a_video_fails_saying_so(inpaint_system: System, inpaint_client: Client) -> None:
    (inpaint_system.share_dir / "in").mkdir(exist_ok=True)
    (inpaint_system.share_dir / "in/notes.mp4").write_text("not a video at all")
    record = await run_task(inpaint_client, {"video_path": "in/notes.mp4"}, "not-a-video")
    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "InputFileError"
    assert "is not a media file ffmpeg can read" in record["error"]["message"]


async def test_an_area_outside_the_frame_is_refused_at_submit_naming_the_frame_size(
    inpaint_client: Client, plain: str
) -> None:
    data = {"video_path": plain, "subtitle_area": [0, 200, 320, 400]}
    payload = {"task_name": "inpainting.remove_subtitles", "input_data": data}
    status, body, headers = await inpaint_client.request("POST", "/v1/tasks", json=payload)
    assert status == 422, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["errors"][0]["pointer"] == "$.input_data.subtitle_area"
    assert "outside the 320x240 frame" in body["detail"]
    assert "y2 at most 240" in body["detail"]


async def test_start_past_the_end_of_the_video_fails_saying_so(inpaint_client: Client, plain: str) -> None:
    record = await run_task(inpaint_client, {"video_path": plain, "start_s": 9.0}, "late-start")
    assert record["status"] == "FAILED"
    assert "past the end" in record["error"]["message"]


async def test_lama_without_a_model_fails_naming_the_setting(inpaint_client: Client, plain: str) -> None:
    record = await run_task(inpaint_client, {"video_path": plain, "engine": "lama"}, "no-lama")
    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "EngineUnavailable"
    assert "inpainting.lama_model_path" in record["error"]["message"]
    assert record["stages"]["inpainting.remove_subtitles"]["attempts"] == 1


async def test_a_video_without_subtitles_comes_back_unchanged(
    inpaint_system: System, inpaint_client: Client, plain: str
) -> None:
    record = await run_task(inpaint_client, {"video_path": plain}, "no-subtitles")
    assert record["status"] == "SUCCESS", record
    output = record["stages"]["inpainting.remove_subtitles"]["output"]
    assert output["frames_inpainted"] == 0
    assert output["subtitle_area"] is None
    assert output["frames_total"] == 50
    root = inpaint_system.share_dir
    pairs = zip(read_frames(root / plain), read_frames(root / output["video_path"]), strict=True)
    assert all((a == b).all() for a, b in pairs)  # the same pictures, bit for bit


def ffmpeg_children(system: System) -> list[int]:
    """Return the ffmpeg processes below the worker processes."""
    found, stack = [], list(system.worker_pids())
    while stack:
        pid = stack.pop()
        listed = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
        for child in (int(p) for p in listed.split()):
            stack.append(child)
            comm = Path(f"/proc/{child}/comm")
            if comm.exists() and comm.read_text().startswith("ffmpeg"):
                found.append(child)
    return found


async def test_cancel_stops_the_run_and_kills_its_ffmpeg_children(
    inpaint_system: System, inpaint_client: Client
) -> None:
    make_video(inpaint_system.share_dir / "in/long.mp4", 60.0, audio=False)
    data = {"video_path": "in/long.mp4", "subtitle_area": [0, 180, 320, 240]}
    await inpaint_client.submit("inpainting.remove_subtitles", data, task_id="cancel-me")

    async def streaming() -> bool:
        stage = (await inpaint_client.task("cancel-me"))["stages"]["inpainting.remove_subtitles"]
        return bool(stage["status"] == "RUNNING" and ffmpeg_children(inpaint_system))

    await async_wait_until(streaming, 60, 0.05, "the stream to be under way")
    status, body, _ = await inpaint_client.request("DELETE", "/v1/tasks/cancel-me")
    # 409 when aiohttp resent the (idempotent) DELETE on a dropped kept-alive connection and met its own cancel
    assert status == 202 or "already ended as CANCELLED" in body["detail"], body
    record = await inpaint_client.wait("cancel-me", timeout_s=10)

    assert record["status"] == "CANCELLED", record

    async def children_gone() -> bool:
        return not ffmpeg_children(inpaint_system)

    await async_wait_until(children_gone, 5, 0.05, "the ffmpeg children to be gone")
