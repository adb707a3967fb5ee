"""Live events over Server-Sent Events, against a real gateway, worker and redis-server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

import gpu_lock
from config import keys
from gateway.events import EventHub, replay
from tests.console.sse import Frame, SseReader
from tests.delivery.test_auth import ADMIN_KEY, USER_KEY, keyed_env
from tests.delivery.test_cli import taskgate
from tests.harness import Client, System, async_wait_until
from tests.monitor.helpers import fast_env

pytestmark = pytest.mark.e2e


def _stage(task_id: str, status: str | None = None) -> Callable[[Frame], bool]:
    def match(frame: Frame) -> bool:
        data = frame.data or {}
        return frame.event == "stage" and data.get("task_id") == task_id and status in (None, data["status"])

    return match


async def _open(session: aiohttp.ClientSession, url: str, **headers: str) -> SseReader:
    response = await session.get(url, headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    reader = SseReader(response)
    first = await reader.next()
    assert first is not None
    assert first.comment == "subscribed"  # subscribed before the caller acts
    return reader


async def test_stage_events_arrive_in_order_and_resume_from_last_event_id(system: System, client: Client) -> None:
    async with aiohttp.ClientSession() as session:
        live = await _open(session, f"{system.base_url}/v1/events?type=stage")
        _, metrics, _ = await client.request("GET", "/metrics")
        assert "\ntaskgate_event_clients 1.0\n" in metrics  # this gateway's connected stream clients
        await client.submit("system.ping", {}, task_id="ev-1")
        frames = await live.until(_stage("ev-1", "SUCCESS"))
        mine = [f for f in frames if _stage("ev-1")(f)]
        assert [f.data["status"] for f in mine] == ["PENDING", "RUNNING", "SUCCESS"]
        assert [f.data["rev"] for f in mine] == [1, 2, 3]
        assert all(f.data["task_name"] == "system.ping" and f.id for f in mine)
        live.response.close()

        resumed = await _open(session, f"{system.base_url}/v1/events?type=stage", **{"Last-Event-ID": mine[0].id or ""})
        again = await resumed.until(_stage("ev-1", "SUCCESS"))
        assert [f.data["status"] for f in again if _stage("ev-1")(f)] == ["RUNNING", "SUCCESS"]
        resumed.response.close()


async def test_filters_by_status_and_task_name(system: System, client: Client) -> None:
    async with aiohttp.ClientSession() as session:
        done = await _open(session, f"{system.base_url}/v1/events?status=SUCCESS&task_name=system.ping")
        await client.submit("system.sleep", {"seconds": 0}, task_id="ev-sleep")
        await client.submit("system.ping", {}, task_id="ev-ping")
        frames = await done.until(_stage("ev-ping"))
        assert all(f.data["status"] == "SUCCESS" and f.data["task_name"] == "system.ping" for f in frames if f.data)
        done.response.close()
        status, body, _ = await client.request("GET", "/v1/events?status=DONE")
        assert status == 400, body


async def test_task_stream_starts_with_a_snapshot_and_ends_after_its_last_stage(system: System, client: Client) -> None:
    await client.submit("system.gpu_hold", {"seconds": 0.5}, task_id="ev-gpu")
    async with aiohttp.ClientSession() as session:
        reader = await _open(session, f"{system.base_url}/v1/tasks/ev-gpu/events")
        frames = await reader.until(lambda f: f.event == "end")
        assert frames[0].event == "snapshot"
        assert frames[0].data["task_id"] == "ev-gpu"
        assert frames[-1].data == {"task_id": "ev-gpu", "status": "SUCCESS"}
        kinds = [(f.event, (f.data or {}).get("action") or (f.data or {}).get("status")) for f in frames]
        assert ("lease", "granted") in kinds, kinds  # the release follows the fenced commit of the end
        assert ("stage", "SUCCESS") in kinds
        assert any(f.event == "progress" for f in frames)
        assert await reader.next() is None  # the gateway closed the stream
        ended = await _open(session, f"{system.base_url}/v1/tasks/ev-gpu/events")
        assert [(f.event) for f in await ended.until(lambda f: f.event == "end")] == ["snapshot", "end"]
        assert await ended.next() is None
        async with session.get(f"{system.base_url}/v1/tasks/nope/events") as missing:
            assert missing.status == 404
            assert missing.content_type == "application/problem+json"


async def test_workers_up_and_down_tier_events_and_keepalives_flow(make_system: Callable[..., System]) -> None:
    system = make_system(fast_env(events__keepalive_s=0.2))
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        reader = await _open(session, f"{system.base_url}/v1/events?type=worker,tier")
        system.start_worker(queues=["system"])
        up = (await reader.until(lambda f: f.event == "worker", timeout_s=30))[-1].data
        assert up["action"] == "up"
        assert ":" in up["worker"]
        assert any(f.comment == "keep-alive" for f in await reader.until(lambda f: f.comment == "keep-alive"))
        await Client(session, system.base_url).submit("system.sleep", {"seconds": 0.8}, task_id="ev-slow")
        tier = (await reader.until(lambda f: f.event == "tier"))[-1].data
        assert (tier["kind"], tier["task_id"], tier["task_name"]) == ("warning", "ev-slow", "system.sleep")
        system.kill("worker")
        down = await reader.until(lambda f: f.event == "worker" and f.data["action"] == "down", timeout_s=30)
        assert up["worker"] in {f.data["worker"] for f in down if f.event == "worker"}
        reader.response.close()


async def test_user_keys_see_task_events_only_and_the_cli_follows_with_one(make_system: Callable[..., System]) -> None:
    system = make_system(keyed_env())
    system.start_worker(queues=["system"])
    system.start_gateway()
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    user = {"Authorization": f"Bearer {USER_KEY}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{system.base_url}/v1/events") as refused:
            assert refused.status == 401
        async with session.get(f"{system.base_url}/v1/events?type=stage,lease", headers=user) as forbidden:
            assert forbidden.status == 403
            assert forbidden.content_type == "application/problem+json"
        as_user = await _open(session, f"{system.base_url}/v1/events", **user)
        as_admin = await _open(session, f"{system.base_url}/v1/events", **admin)
        api = Client(aiohttp.ClientSession(headers=admin), system.base_url)
        await api.submit("system.gpu_hold", {"seconds": 0}, task_id="ev-keyed")
        seen_admin = await as_admin.until(_stage("ev-keyed", "SUCCESS"))
        seen_user = await as_user.until(_stage("ev-keyed", "SUCCESS"))
        await api.session.close()
        as_user.response.close()
        as_admin.response.close()
    assert {f.event for f in seen_admin} >= {"stage", "lease"}
    assert {f.event for f in seen_user} <= {"stage", "progress"}

    # The CLI follows a task through its event stream, with a user key.
    async with aiohttp.ClientSession(headers=user) as session:
        await Client(session, system.base_url).submit("system.sleep", {"seconds": 0.6}, task_id="ev-follow")
    followed = await asyncio.to_thread(taskgate, system, "status", "ev-follow", "--follow", key=USER_KEY)
    assert followed.returncode == 0, followed.stderr
    assert "task ev-follow: SUCCESS" in followed.stdout
    assert "system.sleep  SUCCESS" in followed.stdout
    assert "100.0% SUCCESS" in followed.stderr
    gone = await asyncio.to_thread(taskgate, system, "status", "nope", "--follow", key=USER_KEY)
    assert gone.returncode == 3, gone.stderr


async def test_a_client_that_falls_behind_is_dropped_and_memory_stays_bounded(
    redis_url: str, aredis: aioredis.Redis
) -> None:
    drops: list[None] = []
    hub = EventHub(redis_url, aredis, queue_size=3, on_drop=lambda: drops.append(None))
    slow = await hub.subscribe(lambda e: True)
    for i in range(10):
        await aredis.xadd(keys.EVENTS, {"type": "stage", "task_id": f"t{i}", "status": "PENDING", "rev": "1"})
    await async_wait_until(lambda: _true(slow.overflowed), what="the slow client dropped")
    assert slow.queue.qsize() == 3
    assert slow not in hub.subscribers
    assert hub.dropped_total == len(drops) == 1
    fresh = await hub.subscribe(lambda e: e.data["task_id"] == "late")
    await aredis.xadd(keys.EVENTS, {"type": "stage", "task_id": "late", "status": "PENDING", "rev": "1"})
    event = await asyncio.wait_for(fresh.queue.get(), 10)
    assert event.data == {
        "type": "stage",
        "task_id": "late",
        "status": "PENDING",
        "rev": 1,
        "at_ms": event.data["at_ms"],
    }
    assert event.wire.startswith(f"id: {event.id}\nevent: stage\ndata: ".encode())
    assert json.loads(event.wire.split(b"data: ", 1)[1]) == event.data
    await hub.close()


async def _true(value: bool) -> bool:
    return value


def test_the_lua_cap_of_the_events_stream_matches_the_setting() -> None:
    lib = (Path(gpu_lock.__file__).with_name("lua") / "lib.lua").read_text()
    assert f"local EVENTS_KEPT = {keys.EVENTS_KEPT}\n" in lib


async def test_a_resume_older_than_the_window_replays_what_is_left_and_says_so(aredis: aioredis.Redis) -> None:
    ids = [await aredis.xadd(keys.EVENTS, {"type": "stage", "task_id": f"w{i}", "rev": "1"}) for i in range(4)]
    await aredis.xtrim(keys.EVENTS, maxlen=2, approximate=False)  # what MAXLEN ~ does to old entries
    left, gap = await replay(aredis, ids[0].decode(), lambda e: True)
    assert gap
    assert [e.data["task_id"] for e in left] == ["w2", "w3"]
    left, gap = await replay(aredis, ids[2].decode(), lambda e: e.data["task_id"] != "none")
    assert not gap
    assert [e.id for e in left] == [ids[3].decode()]
