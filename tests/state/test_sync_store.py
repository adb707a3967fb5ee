"""The worker's synchronous store: the same compare-and-set as ``StateStore``, from a worker thread."""

import functools
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from config import keys
from redis_io.channel import Channel
from state import IllegalTransition, StageRecord, StateStore, Status, TaskNotFound, changes
from state.effects import Effects
from state.side_effects import Companions
from state.sync_store import SyncStageStore
from state.tracking import RunInfo, SyncTracker

TTL_S = 3600


def set_status(status: Status):
    def change(stage: StageRecord) -> StageRecord:
        stage.status = status
        return stage

    return change


@pytest.fixture
def sync_store(redis_client: redis.Redis) -> SyncStageStore:
    return SyncStageStore(Channel(redis_client), TTL_S)


async def test_workflow_and_another_reply_come_in_one_round_trip(
    aredis: aioredis.Redis, sync_store: SyncStageStore, redis_client: redis.Redis
) -> None:
    await StateStore(aredis, TTL_S).create_stage("w1", "system.ping", {"a": 1})
    redis_client.set(keys.CONFIG_VERSION, 7)
    workflow, version = sync_store.get_with("w1", ("GET", keys.CONFIG_VERSION))
    assert workflow.stages["system.ping"].input_data == {"a": 1}
    assert version == b"7"
    with pytest.raises(TaskNotFound):
        sync_store.get_with("nope", ("GET", keys.CONFIG_VERSION))


async def test_stale_known_revision_is_read_again_and_the_change_applied_to_the_current_record(
    aredis: aioredis.Redis, sync_store: SyncStageStore
) -> None:
    store = StateStore(aredis, TTL_S)
    await store.create_stage("w1", "system.ping", {})
    known = sync_store.get_stage("w1", "system.ping")
    await store.update_stage("w1", "system.ping", set_status(Status.RUNNING))  # another writer moves it on

    seen: list[Status] = []

    def cancel(stage: StageRecord) -> StageRecord:
        seen.append(stage.status)
        stage.status = Status.CANCELLED
        return stage

    new, rev = sync_store.update_stage_at("w1", "system.ping", cancel, known=known)
    assert seen == [Status.PENDING, Status.RUNNING]  # tried on the stale record, then on the current one
    assert (new.status, rev) == (Status.CANCELLED, 3)
    assert (await store.get("w1")).latest_stage.status == Status.CANCELLED


async def test_effects_commit_once_with_the_change_and_never_without_it(
    aredis: aioredis.Redis, sync_store: SyncStageStore, redis_client: redis.Redis
) -> None:
    store = StateStore(aredis, TTL_S)
    await store.create_stage("w1", "system.ping", {})
    stale = sync_store.get_stage("w1", "system.ping")
    await store.update_stage("w1", "system.ping", set_status(Status.RUNNING))

    def also(effects: Effects, _new: StageRecord) -> None:
        effects.hset("test:effects", "field", "value")
        effects.hincrby("test:effects", "count", 2)
        effects.hdel("test:effects", "gone", "also-gone")
        effects.zadd_after("test:deadlines", 60_000, "w1")

    redis_client.hset("test:effects", mapping={"gone": 1, "also-gone": 1})
    # The first attempt loses the race (stale revision): its effects must not run; the retry's run once.
    sync_store.update_stage_at("w1", "system.ping", set_status(Status.CANCELLED), known=stale, also=also)
    assert redis_client.hgetall("test:effects") == {b"field": b"value", b"count": b"2"}
    assert redis_client.zscore("test:deadlines", "w1") > redis_client.time()[0] * 1000

    redis_client.delete("test:effects", "test:deadlines")
    with pytest.raises(IllegalTransition):
        sync_store.update_stage_at("w1", "system.ping", set_status(Status.RUNNING), also=also)
    assert redis_client.exists("test:effects", "test:deadlines") == 0


async def test_a_workers_task_figures_wait_in_the_batch_until_due_and_a_failed_commit_keeps_them(
    aredis: aioredis.Redis, redis_client: redis.Redis
) -> None:
    from state import Fence, LeaseNotHeld
    from state.counter_batch import CounterBatch
    from state.task_metrics import parse_figures

    succeed = functools.partial(changes.succeed, output={"pong": True})

    store = StateStore(aredis, TTL_S)
    batch = CounterBatch(flush_after_s=3600)  # not due yet: the endings leave the figures in the batch
    sync_store = SyncStageStore(Channel(redis_client), TTL_S, batch)
    for wid in ("w1", "w2"):
        await store.create_stage(wid, "system.ping", {})
        sync_store.update_stage_at(wid, "system.ping", changes.start)
    sync_store.update_stage_at("w1", "system.ping", succeed)
    assert not redis_client.exists(keys.TASK_METRICS)

    batch.flush_after_s = 0  # due: the next ending carries the batch
    with pytest.raises(LeaseNotHeld):  # the script that was to write the batch does not commit: it is kept
        sync_store.update_stage_at("w2", "system.ping", succeed, fence=Fence("gpu_lock:0:holders", "gone"))
    assert not redis_client.exists(keys.TASK_METRICS)

    sync_store.update_stage_at("w2", "system.ping", succeed)
    figures = parse_figures(redis_client.hgetall(keys.TASK_METRICS))
    assert figures.finished == {("system.ping", "success"): 2}
    assert figures.histograms["queue_wait_seconds"]["system.ping"].count == 2
    assert batch.overdue(0) == {}  # nothing left behind


def _zrem_calls(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
    return int(stats.get("cmdstat_zrem", {}).get("calls", 0))


async def test_a_runs_heartbeat_is_removed_by_its_ending_only_once_the_sidecar_beat_it(
    aredis: aioredis.Redis, sync_store: SyncStageStore, redis_client: redis.Redis
) -> None:
    store, tracker = StateStore(aredis, TTL_S), SyncTracker(redis_client)
    limits = {"warning": 60.0, "soft": 120.0, "hard": 180.0}
    zrems = {}
    for wid, beaten in (("quiet", False), ("beaten", True)):
        rid = f"{wid}|system.ping"
        info = RunInfo(workflow_id=wid, task_name="system.ping", host="h", pid=1, started_ms=1, limits_s=limits)
        await store.create_stage(wid, "system.ping", {})
        sync_store.update_stage_at(
            wid, "system.ping", set_status(Status.RUNNING), also=Companions(track=lambda _, run=info: run)
        )
        if beaten:
            assert tracker.beat({rid: True}, [])[1] == []  # tracked: beaten, and its stage flagged
            assert redis_client.zscore(keys.RUN_HEARTBEATS, rid) is not None
            assert redis_client.hget(keys.workflow_state(wid), "beat:system.ping") == b"1"
        before = _zrem_calls(redis_client)
        sync_store.update_stage_at(wid, "system.ping", set_status(Status.SUCCESS), also=Companions(tracked=info))
        zrems[wid] = _zrem_calls(redis_client) - before
        assert redis_client.zscore(keys.RUN_HEARTBEATS, rid) is None
        assert tracker.get(rid) is None
        assert not redis_client.hexists(keys.workflow_state(wid), "beat:system.ping")  # the flag went with the end
        assert tracker.beat({rid: True}, [])[1] == [rid]  # untracked: the sidecar drops its note, no beat added
        assert redis_client.zscore(keys.RUN_HEARTBEATS, rid) is None
    assert zrems == {"quiet": 1, "beaten": 2}  # the checks entry; the heartbeat only once it existed
