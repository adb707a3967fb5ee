"""Storage does not grow forever: a workflow's folder goes with its record, bytes are counted, purge on request."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import aiohttp
import redis

from config import keys
from state.retention import folder_bytes, workflow_folder
from tests.harness import Client, System, async_wait_until, wait_until
from tests.media import make_video


def _storage_total(metrics: str) -> float:
    found = re.search(r"^taskgate_storage_bytes (\S+)$", metrics, re.MULTILINE)
    assert found, "taskgate_storage_bytes is missing from /metrics"
    return float(found.group(1))


async def _measured(client: Client, task_id: str) -> dict | None:
    record = await client.task(task_id)
    return record if record["storage_bytes"] is not None else None


async def _metrics(client: Client) -> str:
    status, body, _ = await client.request("GET", "/metrics")
    assert status == 200
    return str(body)


async def test_an_expired_workflow_loses_its_folder_and_others_and_uploads_stay(
    make_system: Callable[..., System], redis_client: redis.Redis
) -> None:
    system = make_system({"TASKGATE_STATE_TTL_S": "4", "TASKGATE_GPU_LOCK_MONITOR__MONITOR_INTERVAL": "0.2"})
    system.start_worker(queues=["ffmpeg"])
    system.start_gateway()
    upload = system.share_dir / "uploads" / "in.mp4"
    make_video(upload, seconds=1.0)
    share = system.share_dir
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await client.submit("ffmpeg.extract_audio", {"video_path": "uploads/in.mp4"}, task_id="expires-first")
        assert (await client.wait("expires-first", timeout_s=60))["status"] == "SUCCESS"
        first = await async_wait_until(lambda: _measured(client, "expires-first"), 10, 0.05, "storage_bytes")
        first_bytes = folder_bytes(share / "workflows" / "expires-first")
        assert first_bytes > 10_000
        assert first["storage_bytes"] == first_bytes
        assert _storage_total(await _metrics(client)) == first_bytes

        # The second workflow is made late enough in the first one's life to outlive it by seconds.
        wait_until(lambda: 0 < redis_client.pttl(keys.workflow_state("expires-first")) < 1500, 10, 0.02, "TTL")
        await client.submit("ffmpeg.extract_audio", {"video_path": "uploads/in.mp4"}, task_id="stays")
        assert (await client.wait("stays", timeout_s=60))["status"] == "SUCCESS"

        wait_until(lambda: not (share / "workflows" / "expires-first").exists(), 20, 0.05, "the expired folder gone")
        assert (share / "workflows" / "stays" / "ffmpeg.extract_audio" / "audio.wav").is_file()
        assert redis_client.exists(keys.workflow_state("stays"))
        assert upload.is_file()
        assert (await client.request("GET", "/v1/tasks/expires-first"))[0] == 404
        total = _storage_total(await _metrics(client))
        assert total == folder_bytes(share / "workflows" / "stays")


async def test_purge_removes_a_finished_workflow_and_refuses_a_running_one(system: System, client: Client) -> None:
    make_video(system.share_dir / "uploads" / "in.mp4", seconds=1.0)
    await client.submit("ffmpeg.extract_audio", {"video_path": "uploads/in.mp4"}, task_id="purged")
    assert (await client.wait("purged", timeout_s=60))["status"] == "SUCCESS"
    await client.submit("system.sleep", {"seconds": 30}, task_id="busy")
    await client.wait("busy", statuses={"RUNNING"})

    status, body, _ = await client.request("DELETE", "/v1/tasks/busy?purge=true")
    assert status == 409, body
    assert "cancel it first" in body["detail"]
    status, body, _ = await client.request("DELETE", "/v1/tasks/purged?purge=true")
    assert status == 200, body
    assert body["storage_bytes"] == 0
    assert not (system.share_dir / "workflows" / "purged").exists()
    assert (system.share_dir / "uploads" / "in.mp4").is_file()
    assert (await client.request("GET", "/v1/tasks/purged"))[0] == 404
    status, listing, _ = await client.request("GET", "/v1/tasks")
    assert "purged" not in {t["task_id"] for t in listing["tasks"]}
    assert (await client.request("DELETE", "/v1/tasks/busy?purge=maybe"))[0] == 400
    assert (await client.request("DELETE", "/v1/tasks/busy"))[0] == 202


def test_workflow_folders_are_only_ever_under_workflows(tmp_path: Path) -> None:
    assert workflow_folder(tmp_path, "job-1") == tmp_path.resolve() / "workflows" / "job-1"
    for odd in ("", ".", "..", "../uploads", "a/b"):
        assert workflow_folder(tmp_path, odd) is None


async def test_with_a_retention_setting_files_go_before_the_record_but_never_while_a_stage_runs(
    make_system: Callable[..., System],
) -> None:
    system = make_system({"TASKGATE_STORAGE__RETENTION_S": "1", "TASKGATE_GPU_LOCK_MONITOR__MONITOR_INTERVAL": "0.2"})
    system.start_worker(queues=["ffmpeg", "system"])
    system.start_gateway()
    make_video(system.share_dir / "uploads" / "in.mp4", seconds=1.0)
    busy = system.share_dir / "workflows" / "busy"
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        for task_id in ("done", "busy"):
            await client.submit("ffmpeg.extract_audio", {"video_path": "uploads/in.mp4"}, task_id=task_id)
            assert (await client.wait(task_id, timeout_s=60))["status"] == "SUCCESS"
        await client.submit("system.sleep", {"seconds": 30}, task_id="busy")
        await client.wait("busy", statuses={"RUNNING"})

        record = await async_wait_until(lambda: _files_removed(client, "done"), 20, 0.05, "done's files removed")
        assert record["status"] == "SUCCESS"
        assert record["storage_bytes"] == 0
        assert not (system.share_dir / "workflows" / "done").exists()
        assert (busy / "ffmpeg.extract_audio" / "audio.wav").is_file()
        assert (system.share_dir / "uploads" / "in.mp4").is_file()
        assert (await client.request("DELETE", "/v1/tasks/busy"))[0] == 202


async def _files_removed(client: Client, task_id: str) -> dict | None:
    record = await client.task(task_id)
    return record if record["files_removed_at"] else None
