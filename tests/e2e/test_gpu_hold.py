"""system.gpu_hold: GPU tasks take their lease through the lifecycle and the stage record shows it."""

from __future__ import annotations

import asyncio

from tests.harness import Client, System


async def test_two_gpu_tasks_on_one_device_hold_it_one_after_the_other(system: System, client: Client) -> None:
    await asyncio.gather(
        client.submit("system.gpu_hold", {"seconds": 0.6}, task_id="hold-a"),
        client.submit("system.gpu_hold", {"seconds": 0.6}, task_id="hold-b"),
    )
    first, second = sorted(
        [(await client.wait(t, timeout_s=60))["stages"]["system.gpu_hold"] for t in ("hold-a", "hold-b")],
        key=lambda stage: stage["gpu"]["fencing_token"],
    )
    for stage in (first, second):
        assert stage["status"] == "SUCCESS", stage
        assert stage["output"]["device"] == 0
        assert set(stage["gpu"]) >= {"device", "fencing_token", "waited_s", "acquired_at", "released_at"}
    assert first["gpu"]["released_at"] <= second["gpu"]["acquired_at"]
    assert second["gpu"]["fencing_token"] > first["gpu"]["fencing_token"]


async def test_task_types_mark_gpu_tasks(client: Client) -> None:
    _, body, _ = await client.request("GET", "/v1/task-types")
    uses_gpu = {t["task_name"]: t["uses_gpu"] for t in body["task_types"]}
    assert uses_gpu["system.gpu_hold"] is True
    assert uses_gpu["ffmpeg.extract_audio"] is False
    memory = {t["task_name"]: t["gpu_memory_mb"] for t in body["task_types"]}
    assert memory["system.gpu_hold"] == 1024  # the system queue's default; gpu_lock.task_memory_mb overrides it
    assert memory["faster_whisper.transcribe_audio"] == 5200
