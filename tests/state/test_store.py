"""The store against a real redis-server: idempotent creates, CAS transitions, TTL and the index."""

import asyncio

import pytest
import redis.asyncio as aioredis

from state import (
    CreateOutcome,
    IllegalTransition,
    QueuedMessage,
    StageFinished,
    StageRecord,
    StateStore,
    Status,
    TaskConflict,
    TaskNotFound,
    workflow_view,
)
from state.task_metrics import parse_figures

TTL_S = 3600


@pytest.fixture
def store(aredis: aioredis.Redis) -> StateStore:
    return StateStore(aredis, TTL_S)


def set_status(status: Status):
    def change(stage: StageRecord) -> StageRecord:
        stage.status = status
        return stage

    return change


async def test_identical_creates_racing_create_exactly_once(store: StateStore) -> None:
    results = await asyncio.gather(*(store.create_stage("w1", "system.ping", {"a": 1}) for _ in range(25)))
    outcomes = [outcome for outcome, _ in results]
    assert outcomes.count(CreateOutcome.CREATED) == 1
    assert outcomes.count(CreateOutcome.EXISTS) == 24
    assert all(wf.latest_stage.input_data == {"a": 1} for _, wf in results)


async def test_a_new_stage_and_its_message_are_queued_together(store: StateStore, aredis) -> None:
    message = QueuedMessage(queue="system", message_id="m-1", payload=b"{}")
    outcome, _ = await store.create_stage("w1", "system.ping", {}, message=message)
    again, _ = await store.create_stage("w1", "system.ping", {}, message=QueuedMessage("system", "m-2", b"{}"))
    assert (outcome, again) == (CreateOutcome.CREATED, CreateOutcome.EXISTS)
    assert await aredis.lrange("dramatiq:system", 0, -1) == [b"m-1"]
    assert await aredis.hkeys("dramatiq:system.msgs") == [b"m-1"]
    assert await aredis.llen("taskgate:wake:system") == 1


async def test_same_task_with_other_input_conflicts(store: StateStore) -> None:
    await store.create_stage("w1", "system.ping", {"a": 1})
    with pytest.raises(TaskConflict, match="different input_data"):
        await store.create_stage("w1", "system.ping", {"a": 2})


async def test_another_task_name_adds_a_stage_and_becomes_latest(store: StateStore) -> None:
    await store.create_stage("w1", "ffmpeg.extract_audio", {"video_path": "v.mp4"})
    await store.update_stage("w1", "ffmpeg.extract_audio", set_status(Status.RUNNING))
    await store.create_stage("w1", "ffmpeg.probe", {"media_path": "x"})
    wf = await store.get("w1")
    assert list(wf.stages) == ["ffmpeg.extract_audio", "ffmpeg.probe"]
    view = workflow_view(wf)
    assert view["status"] == "PENDING"
    assert view["task_name"] == "ffmpeg.probe"
    assert view["input_params"] == {"video_path": "v.mp4"}


async def test_state_key_has_the_configured_ttl(store: StateStore, aredis: aioredis.Redis) -> None:
    await store.create_stage("w1", "system.ping", {})
    ttl = await aredis.ttl("workflow_state:w1")
    assert TTL_S - 5 <= ttl <= TTL_S


async def test_success_is_never_overwritten(store: StateStore) -> None:
    await store.create_stage("w1", "system.ping", {})
    await store.update_stage("w1", "system.ping", set_status(Status.RUNNING))
    await store.update_stage("w1", "system.ping", set_status(Status.SUCCESS))
    for status in (Status.RUNNING, Status.FAILED, Status.PENDING):
        with pytest.raises(IllegalTransition):
            await store.update_stage("w1", "system.ping", set_status(status))
    assert (await store.get("w1")).latest_stage.status == Status.SUCCESS


async def test_concurrent_writers_do_not_lose_updates(store: StateStore) -> None:
    await store.create_stage("w1", "system.ping", {})
    await store.update_stage("w1", "system.ping", set_status(Status.RUNNING))

    def add_event(i: int):
        def change(stage: StageRecord) -> StageRecord:
            stage.events.append({"i": i})
            return stage

        return change

    await asyncio.gather(*(store.update_stage("w1", "system.ping", add_event(i)) for i in range(30)))
    stage, _ = await store.get_stage("w1", "system.ping")
    assert sorted(e["i"] for e in stage.events) == list(range(30))


async def test_cancel_of_pending_ends_it_and_cancel_of_finished_is_refused(store: StateStore) -> None:
    await store.create_stage("w1", "system.ping", {})
    stage = await store.request_cancel("w1")
    assert stage.status == Status.CANCELLED
    with pytest.raises(StageFinished):
        await store.request_cancel("w1")


async def test_cancel_of_running_only_asks(store: StateStore) -> None:
    await store.create_stage("w1", "system.ping", {})
    await store.update_stage("w1", "system.ping", set_status(Status.RUNNING))
    stage = await store.request_cancel("w1")
    assert stage.status == Status.RUNNING
    assert await store.cancel_requested("w1", "system.ping")


async def test_unknown_ids_raise_not_found(store: StateStore) -> None:
    with pytest.raises(TaskNotFound):
        await store.get("nope")
    with pytest.raises(TaskNotFound):
        await store.update_stage("nope", "system.ping", set_status(Status.RUNNING))


async def test_listing_reads_the_index_newest_first_with_filters(store: StateStore) -> None:
    for i in range(5):
        await store.create_stage(f"w{i}", "system.ping" if i % 2 else "ffmpeg.probe", {"i": i})
    await store.update_stage("w3", "system.ping", set_status(Status.RUNNING))
    assert [w.meta.workflow_id for w in await store.list_recent(None, None, 3)] == ["w4", "w3", "w2"]
    assert [w.meta.workflow_id for w in await store.list_recent("system.ping", None, 10)] == ["w3", "w1"]
    assert [w.meta.workflow_id for w in await store.list_recent(None, "RUNNING", 10)] == ["w3"]


async def test_progress_is_clamped_and_dropped_when_the_stage_ends(store: StateStore) -> None:
    await store.create_stage("w1", "system.ping", {})
    await store.update_stage("w1", "system.ping", set_status(Status.RUNNING))
    await store.set_progress("w1", "system.ping", 1.7)
    assert (await store.get("w1")).progress["system.ping"] == 1.0
    await store.update_stage("w1", "system.ping", set_status(Status.FAILED))
    assert "system.ping" not in (await store.get("w1")).progress


async def test_task_figures_change_with_the_transition_and_only_when_it_is_made(store: StateStore, aredis) -> None:
    from state import Fence, LeaseNotHeld

    await store.create_stage("w1", "system.ping", {})

    def start(stage: StageRecord) -> StageRecord:
        stage.status = Status.RUNNING
        stage.started_at_ms = stage.created_at_ms + 250
        return stage

    await store.update_stage("w1", "system.ping", start)
    figures = await aredis.hgetall("taskgate:metrics:tasks")
    assert parse_figures(figures).histograms["queue_wait_seconds"]["system.ping"].count == 1
    assert figures[b"queue_wait_seconds_bucket:system.ping:0.5"] == b"1"

    def succeed(stage: StageRecord) -> StageRecord:
        stage.status = Status.SUCCESS
        stage.finished_at_ms = (stage.started_at_ms or 0) + 1500
        return stage

    with pytest.raises(LeaseNotHeld):
        await store.update_stage("w1", "system.ping", succeed, fence=Fence("gpu_lock:0:holders", "gone"))
    assert b"finished_total:system.ping:success" not in await aredis.hgetall("taskgate:metrics:tasks")

    await store.update_stage("w1", "system.ping", succeed)
    figures = await aredis.hgetall("taskgate:metrics:tasks")
    assert figures[b"finished_total:system.ping:success"] == b"1"
    assert figures[b"run_seconds_bucket:system.ping:2.5"] == b"1"
    assert float(figures[b"run_seconds_sum:system.ping"]) == pytest.approx(1.5)
