"""The order ``actors/worker/lua/fetch.lua`` takes messages in, on the session's Redis: submits made by the
store's submit script, takes made by the broker's fetch (no worker; the ack set is what a worker's would be)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis

from actors.messages import decode_message, stage_message
from actors.worker.broker import WakingRedisBroker
from config import keys
from redis_io import Channel
from state import Placement, StateStore
from state.models import now_ms
from state.records import waiter_entry
from state.sync_store import SyncStageStore


@pytest.fixture
def broker(redis_url: str) -> Iterator[WakingRedisBroker]:
    made = WakingRedisBroker(client=redis.Redis.from_url(redis_url), middleware=[])  # type: ignore[no-untyped-call]
    made.aging_ms = 60_000
    yield made
    made.client.close()


async def _submit(store: StateStore, task_id: str, priority: str, client: str, weight: int = 1) -> None:
    placement = Placement(priority=priority, client=client, weight=weight)
    message = stage_message("system", "system.ping", task_id)
    await store.create_stage(task_id, "system.ping", {}, None, message, placement=placement)


def _take(broker: WakingRedisBroker, count: int, now: int | None = None) -> list[str]:
    taken = broker.do_fetch("system", count, now)
    return [decode_message(data).args[0]["workflow_id"] for data in taken if data is not None]


async def test_bands_in_order_clients_in_weighted_turns_and_taken_ids_join_the_ack_set(
    aredis: aioredis.Redis, broker: WakingRedisBroker, redis_client: redis.Redis
) -> None:
    store = StateStore(aredis, 3600)
    for i in range(4):
        await _submit(store, f"a{i}", "normal", "a", weight=2)
    await _submit(store, "b0", "normal", "b")
    await _submit(store, "b1", "normal", "b")
    await _submit(store, "low0", "low", "a", weight=2)  # a weight is the key's, the same on every submit
    await _submit(store, "high0", "high", "c")
    assert redis_client.llen(keys.lanes_queued("system")) == 8  # what an autoscaler reads
    assert _take(broker, 1) == ["high0"]
    assert _take(broker, 6) == ["a0", "a1", "b0", "a2", "a3", "b1"]  # a's weight 2: two per turn
    assert _take(broker, 5) == ["low0"]
    acked = redis_client.smembers(keys.dramatiq_acks(broker.broker_id, "system"))
    assert len(acked) == 8  # a worker killed now has every one of them put back
    assert redis_client.exists(*keys.lane_keys("system", "normal"), keys.lanes_queued("system")) == 0


async def test_a_message_put_back_goes_first_and_an_aged_low_beats_fresh_highs(
    aredis: aioredis.Redis, broker: WakingRedisBroker, redis_client: redis.Redis
) -> None:
    store = StateStore(aredis, 3600)
    await _submit(store, "old-low", "low", "a")
    later = now_ms() + 2 * broker.aging_ms + 1000  # the low one has waited past two aging steps by then
    for i in range(3):
        await _submit(store, f"high{i}", "high", "b")
    message = stage_message("system", "system.ping", "put-back")
    redis_client.hset(keys.dramatiq_messages("system"), message.message_id, message.payload)
    redis_client.rpush(keys.dramatiq_queue("system"), message.message_id)  # as Dramatiq's requeue does
    assert _take(broker, 1, later) == ["put-back"]
    assert _take(broker, 1, later) == ["old-low"]  # counts as high now, and waited longest
    assert _take(broker, 1) == ["high0"]


async def test_a_paused_queue_and_a_drained_host_take_nothing(
    aredis: aioredis.Redis, broker: WakingRedisBroker, redis_client: redis.Redis
) -> None:
    await _submit(StateStore(aredis, 3600), "waiting", "normal", "a")
    redis_client.hset(keys.PAUSED_QUEUES, "system", "{}")
    assert _take(broker, 1) == []
    redis_client.hdel(keys.PAUSED_QUEUES, "system")
    redis_client.hset(keys.DRAINED_HOSTS, broker.host, "{}")
    assert _take(broker, 1) == []
    redis_client.hdel(keys.DRAINED_HOSTS, broker.host)
    assert _take(broker, 1) == ["waiting"]


def test_a_queue_whose_every_task_takes_a_gpu_prefetches_one() -> None:
    from actors.worker.app import gpu_queues
    from config import load_settings

    assert gpu_queues(load_settings({})) == frozenset()  # system mixes GPU and CPU tasks: per thread
    assert gpu_queues(load_settings({"TASKGATE_FASTER_WHISPER__DEVICE": "cuda"})) == {"faster_whisper"}
    broker = WakingRedisBroker(middleware=[])  # type: ignore[no-untyped-call]
    broker.lanes, broker.gpu_queues = True, frozenset({"faster_whisper"})
    assert broker.consume("faster_whisper", prefetch=8).prefetch == 1
    assert broker.consume("system", prefetch=8).prefetch == 4  # Dramatiq asks for twice its 4 threads
    broker.lanes = False
    assert broker.consume("system", prefetch=8).prefetch == 8


async def test_a_stage_handed_over_by_its_dependency_queues_in_its_clients_lane(
    aredis: aioredis.Redis, broker: WakingRedisBroker, redis_client: redis.Redis
) -> None:
    store = StateStore(aredis, 3600)
    await _submit(store, "chain", "high", "b")  # the awaited stage, PENDING: a waiter can park on it
    await _submit(store, "other", "high", "a")
    sync = SyncStageStore(Channel(redis_client), 3600)
    for task_id, lane in (("chain", "high|1|b"), ("chain", "")):  # with a lane; as parked before lanes existed
        waiting = stage_message("system", "system.sleep", task_id)
        entry = waiter_entry("system", "system.sleep", waiting.message_id, waiting.payload, lane)
        if not lane:
            entry = entry.replace(b"\t\t", b"\t", 1)  # the four-field entry of an older worker
        assert sync.park(task_id, "system.ping", entry)
        assert sync.hand_over(task_id, "system.ping") == 1
    assert redis_client.llen(keys.lane("system", "high", "b")) == 2  # its own message, then the handed-over one
    assert _take(broker, 4) == ["chain", "chain", "other", "chain"]  # the old entry went to the list: first


async def test_a_lone_clients_normal_stream_is_taken_in_submit_order_and_a_put_back_message_still_goes_first(
    aredis: aioredis.Redis, broker: WakingRedisBroker, redis_client: redis.Redis
) -> None:
    store = StateStore(aredis, 3600)
    for i in range(5):
        await _submit(store, f"n{i}", "normal", "open")
    assert _take(broker, 2) == ["n0", "n1"]  # the quiet case: nothing paused, put back or in other bands
    message = stage_message("system", "system.ping", "put-back")
    redis_client.hset(keys.dramatiq_messages("system"), message.message_id, message.payload)
    redis_client.rpush(keys.dramatiq_queue("system"), message.message_id)
    assert _take(broker, 2) == ["put-back", "n2"]
    await _submit(store, "low0", "low", "open")
    assert _take(broker, 2) == ["n3", "n4"]  # a low band with work: its head is read, normal still first
    assert _take(broker, 2) == ["low0"]
    assert redis_client.exists(*keys.lane_keys("system", "normal"), *keys.lane_keys("system", "low")) == 0
    assert redis_client.exists(keys.lanes_queued("system"), keys.lane("system", "normal", "open")) == 0
