"""The lifecycle hooks in-process: a real Redis and a ``dramatiq.Worker`` in this process's threads.

Dramatiq's own tests run a stub worker the same way; a failure here points at a hook and its record, not
at a timeout in a subprocess's log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis
import redis.asyncio as aioredis

from actors.worker.app import build_broker
from actors.worker.broker import stage_message
from config import keys, load_settings
from state import StateStore
from tests.harness import wait_until


@pytest.fixture
def worker(redis_url: str, share_dir: Path) -> Iterator[None]:
    """Run one in-process worker thread on the system queue, with the real lifecycle middleware."""
    settings = load_settings({"TASKGATE_REDIS_URL": redis_url, "TASKGATE_SHARE_DIR": str(share_dir)})
    broker, _lifecycle = build_broker(settings)
    running = dramatiq.Worker(broker, queues={"system"}, worker_threads=1, worker_timeout=100)
    running.start()
    yield
    running.stop()
    broker.close()


async def _submit(redis_url: str, workflow_id: str, task_name: str, input_data: dict[str, Any]) -> None:
    client = aioredis.Redis.from_url(redis_url)
    store = StateStore(client, 3600)
    message = stage_message("system", task_name, workflow_id)
    await store.create_stage(workflow_id, task_name, input_data, None, message)
    await store.channel.close()
    await client.aclose()


def _stage(client: redis.Redis, workflow_id: str, task_name: str) -> dict[str, Any]:
    raw = client.hget(keys.workflow_state(workflow_id), f"stage:{task_name}")
    return json.loads(raw) if raw else {}


async def test_the_hooks_start_run_and_commit_a_stage_and_stop_tracking_its_run(
    worker: None, redis_url: str, redis_client: redis.Redis
) -> None:
    await _submit(redis_url, "inproc-ping", "system.ping", {})
    done = wait_until(lambda: _stage(redis_client, "inproc-ping", "system.ping").get("status") == "SUCCESS", 30)
    assert done
    stage = _stage(redis_client, "inproc-ping", "system.ping")
    assert stage["output"] == {"pong": True}
    assert stage["attempts"] == 1
    assert stage["started_at_ms"] <= stage["finished_at_ms"]
    assert redis_client.hlen(keys.RUNS) == 0  # the ending's script stopped tracking the run
    assert redis_client.llen(keys.dramatiq_queue("system")) == 0


async def test_a_stage_whose_input_no_longer_matches_fails_at_start_with_the_field(
    worker: None, redis_url: str, redis_client: redis.Redis
) -> None:
    await _submit(redis_url, "inproc-bad", "system.sleep", {"seconds": -1})  # the gateway would refuse it
    wait_until(lambda: _stage(redis_client, "inproc-bad", "system.sleep").get("status") == "FAILED", 30)
    stage = _stage(redis_client, "inproc-bad", "system.sleep")
    assert stage["error"]["type"] == "InvalidInput"
    assert "seconds" in stage["error"]["message"]
    assert stage["attempts"] == 0  # it never started


async def test_a_message_for_a_workflow_that_expired_is_skipped_and_acked(
    worker: None, redis_url: str, redis_client: redis.Redis
) -> None:
    await _submit(redis_url, "inproc-gone", "system.ping", {})
    redis_client.delete(keys.workflow_state("inproc-gone"))  # expired before a worker took it
    wait_until(lambda: redis_client.llen(keys.dramatiq_queue("system")) == 0, 30)
    wait_until(lambda: redis_client.hlen(keys.dramatiq_messages("system")) == 0, 30, what="the message acked")
    assert _stage(redis_client, "inproc-gone", "system.ping") == {}
