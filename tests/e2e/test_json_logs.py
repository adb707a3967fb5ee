"""The JSON log: every line any process writes is one JSON object; tracebacks are a string field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import dramatiq

from actors.worker.app import build_broker
from config import load_settings
from tests.harness import Client, System, wait_until

TASKS = 6


def _objects(text: str) -> list[dict[str, object]]:
    """Parse every line as one JSON object (a merged or broken line fails here)."""
    objects = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"line {number} is not one JSON object: {line[:300]!r}") from exc
        assert isinstance(value, dict), line[:300]
        objects.append(value)
    return objects


def _send_malformed(redis_url: str) -> None:
    """Queue a message whose context the lifecycle cannot read: Dramatiq logs the error with its traceback."""
    broker, _ = build_broker(load_settings({"TASKGATE_REDIS_URL": redis_url}))
    broker.enqueue(dramatiq.Message(queue_name="ffmpeg", actor_name="ffmpeg.probe", args=({},), kwargs={}, options={}))
    broker.close()


async def test_failing_tasks_log_tracebacks_as_strings_one_json_object_per_line(
    make_system: Callable[..., System], share_dir: Path, redis_url: str
) -> None:
    system = make_system()
    system.start_worker(queues=["ffmpeg"], processes=2, threads=2)  # four threads in two processes share one pipe
    system.start_gateway()
    (share_dir / "not-media.mp4").write_text("this is text, not a video\n" * 100)
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        for i in range(TASKS):
            await client.submit("ffmpeg.probe", {"media_path": "not-media.mp4"}, task_id=f"bad-{i}")
        _send_malformed(redis_url)
        for i in range(TASKS):
            assert (await client.wait(f"bad-{i}", timeout_s=60))["status"] == "FAILED"
    wait_until(lambda: "Failed to process message" in system.logs("worker"), 30, what="Dramatiq's error")
    system.stop()  # every process has written its last line

    worker = _objects(system.logs("worker"))
    _objects(system.logs("gateway"))
    assert sum(o.get("event") == "stage_failed" for o in worker) == TASKS  # ours
    failures = [o for o in worker if str(o.get("event", "")).startswith("Failed to process message")]
    assert failures
    for failure in failures:
        assert failure["level"] == "error"
        assert failure["logger"].startswith("dramatiq")  # type: ignore[union-attr]
        trace = failure["exception"]
        assert isinstance(trace, str)
        assert trace.startswith("Traceback (most recent call last):")
        assert "exc_info" not in failure
    assert any(o.get("event") == "worker_pool_started" for o in worker)  # ours, from the supervisor
    assert any("Dramatiq" in str(o.get("event")) and "booting up" in str(o.get("event")) for o in worker)
