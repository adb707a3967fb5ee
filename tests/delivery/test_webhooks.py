"""Signed webhooks through a real gateway, real workers and a real receiver: retries, 4xx, redelivery."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp

from actors.webhooks.events import event_id
from state import StageError, StateStore, Status, now_ms
from tests.delivery.conftest import FAST_WEBHOOKS, webhooks_idle
from tests.delivery.receiver import Receiver
from tests.harness import Client, System, async_wait_until
from tests.media import make_video


async def _started(make_system: Callable[..., System], env: dict[str, str] | None = None) -> System:
    system = make_system({**FAST_WEBHOOKS, **(env or {})})
    system.start_worker()
    system.start_gateway()
    return system


async def _delivery_state(client: Client, task_id: str, state: str) -> dict | None:
    record = await client.task(task_id)
    status = record["callback_status"]
    return record if status and status["state"] == state else None


async def test_success_event_is_signed_and_recorded_then_redelivered_with_the_same_id(
    make_system: Callable[..., System], receiver: Receiver
) -> None:
    system = await _started(make_system)
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await client.submit("system.ping", {}, task_id="hook-ok", callback=receiver.url("ok"))
        record = await async_wait_until(lambda: _delivery_state(client, "hook-ok", "delivered"), 30, 0.05)

        [event] = receiver.events_for("hook-ok")
        body = event["body"]
        assert body["event_id"] == event_id("hook-ok", "system.ping", "SUCCESS") == event["headers"]["webhook-id"]
        assert body["type"] == "task.succeeded"
        assert body["status"] == "SUCCESS"
        assert body["task_name"] == "system.ping"
        assert body["output"] == {"pong": True}
        assert body["status_url"] == f"{system.base_url}/v1/tasks/hook-ok"
        assert body["finished_at"] == record["stages"]["system.ping"]["finished_at"]
        assert event["headers"]["webhook-signature"].startswith("v1,")
        assert abs(int(event["headers"]["webhook-timestamp"]) - time.time()) < 60
        [attempt] = record["callback_status"]["attempts"]
        assert attempt["status_code"] == 200
        assert attempt["error"] is None
        assert attempt["chain"] == "auto"
        assert record["stages"]["system.ping"]["callback_status"] == record["callback_status"]

        status, again, _ = await client.request("POST", "/v1/tasks/hook-ok/callback/redeliver")
        assert status == 202, again
        await async_wait_until(lambda: _attempts(client, "hook-ok", 2), 30, 0.05)
        first, second = receiver.events_for("hook-ok")
        assert second["headers"]["webhook-id"] == first["headers"]["webhook-id"]
        assert second["raw"] == first["raw"]
    assert receiver.bad_signatures == 0


async def _attempts(client: Client, task_id: str, count: int) -> bool:
    status = (await client.task(task_id))["callback_status"]
    return bool(status and len(status["attempts"]) >= count and status["state"] != "retrying")


async def test_5xx_is_retried_until_success_and_4xx_is_not_retried(
    make_system: Callable[..., System], receiver: Receiver
) -> None:
    system = await _started(make_system)
    receiver.scripts["flaky"] = [500, 500]
    receiver.scripts["bad"] = [400]
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await client.submit("system.ping", {}, task_id="hook-flaky", callback=receiver.url("flaky"))
        await client.submit("system.ping", {}, task_id="hook-bad", callback=receiver.url("bad"))
        flaky = await async_wait_until(lambda: _delivery_state(client, "hook-flaky", "delivered"), 30, 0.05)
        bad = await async_wait_until(lambda: _delivery_state(client, "hook-bad", "failed"), 30, 0.05)

    assert [a["status_code"] for a in flaky["callback_status"]["attempts"]] == [500, 500, 200]
    assert [a["attempt"] for a in flaky["callback_status"]["attempts"]] == [1, 2, 3]
    events = receiver.events_for("hook-flaky")
    assert len({e["headers"]["webhook-id"] for e in events}) == 1
    assert len({e["raw"] for e in events}) == 1
    assert [a["status_code"] for a in bad["callback_status"]["attempts"]] == [400]
    assert bad["callback_status"]["next_attempt_at"] is None
    assert len(receiver.events_for("hook-bad")) == 1


async def test_failed_stage_event_carries_the_error_and_a_stage_ended_outside_a_worker_is_sent(
    make_system: Callable[..., System], receiver: Receiver, aredis
) -> None:
    system = await _started(make_system)
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        (system.share_dir / "broken.mp4").write_text("not a video")
        await client.submit(
            "ffmpeg.probe", {"media_path": "broken.mp4"}, task_id="hook-fail", callback=receiver.url("fail")
        )
        await async_wait_until(lambda: _delivery_state(client, "hook-fail", "delivered"), 30, 0.05)
        [event] = receiver.events_for("hook-fail")
        assert event["body"]["type"] == "task.failed"
        assert event["body"]["error"]["type"] == "InputFileError"
        assert "output" not in event["body"]

        # The monitor ends stages through the same store call; no worker or lifecycle is involved here.
        store = StateStore(aredis, 3600)
        await store.create_stage("hook-monitor", "system.ping", {}, receiver.url("monitor"))

        def fail(stage):
            stage.status, stage.finished_at_ms = Status.FAILED, now_ms()
            stage.error = StageError(type="WorkerLost", message="the worker died")
            return stage

        await store.update_stage("hook-monitor", "system.ping", fail)
        await async_wait_until(lambda: _delivery_state(client, "hook-monitor", "delivered"), 30, 0.05)
        [event] = receiver.events_for("hook-monitor")
        assert event["body"]["error"] == {"type": "WorkerLost", "message": "the worker died"}


async def test_an_event_committed_while_the_gateway_is_down_is_sent_when_it_returns(
    make_system: Callable[..., System], receiver: Receiver, aredis
) -> None:
    system = await _started(make_system)
    system.kill("gateway")
    store = StateStore(aredis, 3600)
    await store.create_stage("hook-later", "system.ping", {}, receiver.url("later"))

    def cancel(stage):
        stage.status, stage.finished_at_ms = Status.CANCELLED, now_ms()
        return stage

    await store.update_stage("hook-later", "system.ping", cancel)
    assert await aredis.zcard("taskgate:webhooks:outbox") == 1
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await async_wait_until(lambda: _delivery_state(client, "hook-later", "delivered"), 30, 0.05)
    assert [e["body"]["type"] for e in receiver.events_for("hook-later")] == ["task.cancelled"]
    assert await aredis.zcard("taskgate:webhooks:outbox") == 0


async def test_worker_killed_mid_task_leads_to_exactly_one_event(
    make_system: Callable[..., System], receiver: Receiver, aredis
) -> None:
    env = {"TASKGATE_BROKER_HEARTBEAT_TIMEOUT_S": "2", "TASKGATE_BROKER_MAINTENANCE_CHANCE": "1000000"}
    system = make_system({**FAST_WEBHOOKS, **env})
    clip = make_video(system.share_dir / "src" / "clip.mp4", seconds=1.0)
    receiver.files["clip.mp4"] = clip.read_bytes()
    receiver.gate.clear()
    system.start_worker("worker", queues=["ffmpeg"])
    system.start_worker("hooks", queues=["webhooks"])
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        url = f"{receiver.base_url}/files/clip.mp4?slow=1"
        await client.submit("ffmpeg.probe", {"media_path": url}, task_id="hook-crash", callback=receiver.url("crash"))
        await async_wait_until(lambda: _is_set(receiver.slow_started), 30)
        system.kill("worker")
        receiver.gate.set()
        system.start_worker("worker2", queues=["ffmpeg"])
        record = await async_wait_until(lambda: _delivery_state(client, "hook-crash", "delivered"), 60, 0.1)
        await async_wait_until(lambda: webhooks_idle(aredis), 30, 0.05)

    assert record["status"] == "SUCCESS"
    assert record["stages"]["ffmpeg.probe"]["attempts"] == 2
    events = receiver.events_for("hook-crash")
    assert [e["body"]["status"] for e in events] == ["SUCCESS"]


async def _is_set(event) -> bool:
    return event.is_set()
