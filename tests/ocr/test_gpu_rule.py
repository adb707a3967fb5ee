"""The GPU lease: taken for OCR stages only when OCR runs on CUDA, never for the CPU default."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

import actors.registry  # noqa: F401  (registers every task)
from actors.registry import get_spec
from config.engines import OcrSettings
from config.settings import Settings
from tests.harness import Client, System
from tests.media import make_subtitled_video

OCR_TASKS = ("paddleocr.detect_subtitle_area", "paddleocr.perform_ocr", "paddleocr.extract_subtitles")


def test_ocr_tasks_use_the_gpu_only_when_ocr_runs_on_cuda() -> None:
    cpu, cuda = Settings(), Settings(ocr=OcrSettings(device="cuda"))
    for name in OCR_TASKS:
        assert not get_spec(name).uses_gpu(cpu)
        assert get_spec(name).uses_gpu(cuda)
    assert not get_spec("paddleocr.postprocess_and_finalize").uses_gpu(cuda)


async def test_ocr_on_cuda_holds_a_lease_and_says_what_is_missing_on_a_cpu_host(
    make_system: Callable[..., System],
) -> None:
    system = make_system({"TASKGATE_OCR__DEVICE": "cuda"})
    system.start_worker(queues=["paddleocr"], processes=1, threads=1)
    system.start_gateway()
    make_subtitled_video(system.share_dir / "clip.mp4", [(0.2, 0.8, "Hello")], seconds=1.0)

    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        data = {"video_path": "clip.mp4", "subtitle_area": [0, 200, 480, 270]}
        await client.submit("paddleocr.extract_subtitles", data, task_id="on-cuda")
        record = await client.wait("on-cuda", timeout_s=60)

    stage = record["stages"]["paddleocr.extract_subtitles"]
    assert stage["gpu"] is not None, stage  # the lifecycle took (and released) a lease for the stage
    assert stage["gpu"]["released_at"] is not None
    if record["status"] == "FAILED":  # a host without onnxruntime-gpu
        assert record["error"]["type"] == "EngineUnavailable"
        assert "install onnxruntime-gpu" in record["error"]["message"]
