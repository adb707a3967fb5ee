"""The lifecycle hooks in-process: a real Redis and a ``dramatiq.Worker`` in this process's threads.

Dramatiq's own tests run a stub worker the same way; a failure here points at a hook and its record, not
at a timeout in a subprocess's log.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis
import redis.asyncio as aioredis
from dramatiq.broker import MessageProxy
from dramatiq.middleware import SkipMessage

from actors.messages import decode_message, stage_message
from actors.worker.app import build_broker
from actors.worker.broker import WakingRedisBroker
from actors.worker.lifecycle import Lifecycle
from actors.worker.local_runs import RUNS_DIR_ENV, LocalRuns
from config import keys, load_settings
from state import StateStore, changes
from state.create_call import STAGE_OPTION
from state.tracking import SyncTracker
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
    assert SyncTracker(redis_client).get("inproc-ping|system.ping") is None  # the ending's script untracked it
    assert redis_client.zcard(keys.RUN_CHECKS) == 0
    assert redis_client.llen(keys.dramatiq_queue("system")) == 0


async def test_a_stage_that_ends_is_acked_by_the_same_script_that_records_its_end(
    worker: None, redis_url: str, redis_client: redis.Redis
) -> None:
    await _submit(redis_url, "inproc-acked", "system.ping", {})
    # the ack goes with the status change: whoever sees SUCCESS sees the message gone from the ack set too
    wait_until(lambda: redis_client.hget(keys.workflow_state("inproc-acked"), "status:system.ping") == b"SUCCESS", 30)
    acked = [k for k in redis_client.keys("dramatiq:__acks__.*.system") if redis_client.scard(k)]
    assert acked == []
    assert redis_client.hlen(keys.dramatiq_messages("system")) == 0


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


@pytest.fixture
def hooks(redis_url: str, share_dir: Path) -> Iterator[tuple[WakingRedisBroker, Lifecycle]]:
    """The broker and lifecycle middleware, for calling the start hook from the test's own thread."""
    settings = load_settings({"TASKGATE_REDIS_URL": redis_url, "TASKGATE_SHARE_DIR": str(share_dir)})
    broker, lifecycle = build_broker(settings)
    yield broker, lifecycle
    broker.close()


async def _queued(redis_url: str, workflow_id: str, sleep: dict[str, Any] | None = None) -> bytes:
    """Submit a system.ping stage (system.sleep with ``sleep``) and return its queued message as a fetch takes it."""
    if sleep is None:
        await _submit(redis_url, workflow_id, "system.ping", {})
    else:
        await _submit(redis_url, workflow_id, "system.sleep", sleep)
    client = redis.Redis.from_url(redis_url)
    (message_id,) = client.lrange(keys.dramatiq_queue("system"), 0, -1)
    payload: bytes = client.hget(keys.dramatiq_messages("system"), message_id)
    client.close()
    return payload


def _hgetall_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0))


async def test_a_stage_starts_from_the_record_its_message_carries_without_reading_the_workflow(
    hooks: tuple[WakingRedisBroker, Lifecycle], redis_url: str, redis_client: redis.Redis
) -> None:
    broker, lifecycle = hooks
    payload = await _queued(redis_url, "snap-fresh")
    carried = decode_message(payload).options[STAGE_OPTION]
    assert carried == _stage(redis_client, "snap-fresh", "system.ping")  # the record as the submit stored it
    reads = _hgetall_calls(redis_client)
    lifecycle.before_process_message(broker, MessageProxy(decode_message(payload)))
    assert _hgetall_calls(redis_client) == reads, "the start read the workflow"
    stage = _stage(redis_client, "snap-fresh", "system.ping")
    assert (stage["status"], stage["attempts"]) == ("RUNNING", 1)
    assert SyncTracker(redis_client).get("snap-fresh|system.ping") is not None  # tracked in the same script


async def test_a_stage_changed_after_its_submit_is_judged_on_a_fresh_read_never_on_the_carried_record(
    hooks: tuple[WakingRedisBroker, Lifecycle], redis_url: str, redis_client: redis.Redis
) -> None:
    broker, lifecycle = hooks
    payload = await _queued(redis_url, "snap-stale")  # the record it carries says PENDING
    client = aioredis.Redis.from_url(redis_url)
    cancelled = await StateStore(client, 3600).request_cancel("snap-stale")
    await client.aclose()
    assert cancelled.status == "CANCELLED"
    with pytest.raises(SkipMessage):
        lifecycle.before_process_message(broker, MessageProxy(decode_message(payload)))
    stage = _stage(redis_client, "snap-stale", "system.ping")
    assert (stage["status"], stage["attempts"], stage["started_at_ms"]) == ("CANCELLED", 0, None)
    assert redis_client.zcard(keys.RUN_CHECKS) == 0  # no run was tracked for it
    assert not redis_client.hexists(keys.workflow_state("snap-stale"), keys.run_field("system.ping"))


async def test_a_run_cut_off_from_its_stage_does_not_end_it_and_still_untracks_itself(
    hooks: tuple[WakingRedisBroker, Lifecycle],
    redis_url: str,
    redis_client: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker, lifecycle = hooks
    monkeypatch.setenv(RUNS_DIR_ENV, str(tmp_path))  # as a supervisor names it to its pools
    message = MessageProxy(decode_message(await _queued(redis_url, "cut-off")))
    lifecycle.before_process_message(broker, message)
    run = lifecycle.active
    assert run is not None
    assert run.attempt == 1
    assert SyncTracker(redis_client).get("cut-off|system.ping") is not None  # the start's script tracked it
    noted = LocalRuns(tmp_path).listed()  # and its process noted it for the host's sidecar
    assert [(rid, [pid for _, pid in notes]) for rid, notes in noted.items()] == [
        ("cut-off|system.ping", [os.getpid()])
    ]
    # The monitor gave up on the run meanwhile: the stage went back to PENDING under a new message.
    client = aioredis.Redis.from_url(redis_url)
    requeue = functools.partial(changes.requeue, reason="worker silent", message_id="m2")
    await StateStore(client, 3600).update_stage("cut-off", "system.ping", requeue)
    await client.aclose()
    lifecycle.after_process_message(broker, message, exception=RuntimeError("finished late"))
    stage = _stage(redis_client, "cut-off", "system.ping")
    assert (stage["status"], stage["error"], [e["type"] for e in stage["events"]]) == ("PENDING", None, ["requeued"])
    assert SyncTracker(redis_client).get("cut-off|system.ping") is None
    assert redis_client.zcard(keys.RUN_CHECKS) == 0
    assert LocalRuns(tmp_path).listed() == {}  # the run forgot itself: its ending was not recorded
    assert lifecycle.active is None


async def test_an_old_message_of_a_task_id_submitted_again_starts_the_new_record_never_the_one_it_carries(
    hooks: tuple[WakingRedisBroker, Lifecycle], redis_url: str, redis_client: redis.Redis
) -> None:
    broker, lifecycle = hooks
    old = await _queued(redis_url, "reborn", {"seconds": 0.5})
    redis_client.delete(keys.workflow_state("reborn"))  # expired (or purged) with its message still queued
    await _submit(redis_url, "reborn", "system.sleep", {"seconds": 0.25})  # the same id again: revision 1 again
    assert decode_message(old).options[STAGE_OPTION]["input_data"] == {"seconds": 0.5}
    lifecycle.before_process_message(broker, MessageProxy(decode_message(old)))
    stage = _stage(redis_client, "reborn", "system.sleep")
    assert (stage["status"], stage["input_data"]) == ("RUNNING", {"seconds": 0.25})  # read afresh, not carried
    run = lifecycle.active
    assert run is not None
    assert run.params.seconds == 0.25  # type: ignore[attr-defined]


async def test_a_stage_that_cannot_get_its_lease_fails_and_its_run_is_untracked_by_the_same_script(
    redis_url: str, share_dir: Path, redis_client: redis.Redis
) -> None:
    from gpu_lock import GpuLock, HolderInfo

    env = {"TASKGATE_REDIS_URL": redis_url, "TASKGATE_SHARE_DIR": str(share_dir)}
    settings = load_settings({**env, "TASKGATE_GPU_LOCK__MAX_WAIT_TIME": "0.3"})
    broker, _lifecycle = build_broker(settings)
    running = dramatiq.Worker(broker, queues={"system"}, worker_threads=1, worker_timeout=100)
    with GpuLock(redis_client, settings.gpu_lock).hold(HolderInfo(task_id="other", task_name="system.sleep")):
        running.start()
        try:
            await _submit(redis_url, "inproc-nolease", "system.sleep", {"seconds": 0.1, "gpu": True})
            wait_until(lambda: _stage(redis_client, "inproc-nolease", "system.sleep").get("status") == "FAILED", 30)
        finally:
            running.stop()
            broker.close()
    stage = _stage(redis_client, "inproc-nolease", "system.sleep")
    assert stage["error"]["type"] == "LockWaitTimeout"
    assert stage["attempts"] == 1
    assert SyncTracker(redis_client).get("inproc-nolease|system.sleep") is None
    assert redis_client.zcard(keys.RUN_CHECKS) == 0
