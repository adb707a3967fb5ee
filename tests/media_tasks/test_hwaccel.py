"""Hardware decoding: used when configured, and a clean fall back to the CPU where it cannot start."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import aiohttp

from tests.harness import Client, System
from tests.media import make_subtitled_video


async def test_cuda_decoding_configured_on_a_host_without_it_still_extracts_frames(
    make_system: Callable[..., System],
) -> None:
    system = make_system({"TASKGATE_FFMPEG__HWACCEL": "cuda"})
    system.start_worker(queues=["ffmpeg"], processes=1, threads=1)
    system.start_gateway()
    make_subtitled_video(system.share_dir / "clip.mp4", [(0.5, 1.5, "Hello")], seconds=2.0)

    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await client.submit("ffmpeg.extract_keyframes", {"video_path": "clip.mp4", "count": 2}, task_id="hw")
        record = await client.wait("hw", timeout_s=60)

    assert record["status"] == "SUCCESS", record
    assert len(record["stages"]["ffmpeg.extract_keyframes"]["output"]["frames"]) == 2
    # A host with a GPU decodes there; elsewhere the CPU does, after a logged fall back.
    gpu_host = shutil.which("nvidia-smi") is not None
    assert ("ffmpeg_hwaccel_failed" in system.logs("worker")) is not gpu_host
