"""A stage waiting for an earlier stage's output is parked on it and queued by its ending, never polled."""

from __future__ import annotations

import redis

from tests.harness import Client, System, wait_until


async def test_a_waiting_stage_is_parked_then_started_by_the_ending_of_the_stage_it_waits_for(
    system: System, client: Client, redis_client: redis.Redis
) -> None:
    await client.submit("system.gpu_hold", {"seconds": 1.5}, task_id="chain")
    await client.submit("system.sleep", {"seconds": "${{ stages.system.gpu_hold.output.held_s }}"}, task_id="chain")

    def parked() -> bool:
        return bool(redis_client.hexists("workflow_state:chain", "waiters:system.gpu_hold"))

    wait_until(parked, timeout_s=30, what="the sleep parked on the hold")
    assert redis_client.zcard("dramatiq:system.DQ") == 0  # nothing waits in the delay queue
    done = await client.wait("chain", stage="system.sleep", timeout_s=60)
    hold = (await client.wait("chain", stage="system.gpu_hold"))["stages"]["system.gpu_hold"]
    sleep = done["stages"]["system.sleep"]
    assert sleep["status"] == "SUCCESS", sleep
    assert sleep["output"]["slept_s"] >= hold["output"]["held_s"]
    assert sleep["attempts"] == 1
    assert sleep["started_at"] >= hold["finished_at"]
    assert not parked()


async def test_a_waiter_on_a_stage_that_fails_is_handed_over_and_fails_naming_it(
    system: System, client: Client
) -> None:
    (system.share_dir / "notes.mp4").write_text("not a video")
    await client.submit("ffmpeg.probe", {"media_path": "notes.mp4"}, task_id="broken-chain")
    await client.submit(
        "system.sleep", {"seconds": "${{ stages.ffmpeg.probe.output.duration_s }}"}, task_id="broken-chain"
    )
    body = await client.wait("broken-chain", stage="system.sleep", timeout_s=60)
    sleep = body["stages"]["system.sleep"]
    assert sleep["status"] == "FAILED"
    assert "ffmpeg.probe" in sleep["error"]["message"]
