"""Bad input never yields a 500; idempotent submits; cancel; listing; the task catalogue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.harness import Client, System

PROBLEM = "application/problem+json"


GATEWAY_FILES = dict.fromkeys(("v.mp4", "a.mp4", "b", "m.mp4"), b"")  # submits check that input files exist
GATEWAY_ENV = {"TASKGATE_MAX_BODY_BYTES": "4096"}


async def expect_problem(gw: Client, status: int, method: str, path: str, **kwargs) -> dict:
    got, body, headers = await gw.request(method, path, **kwargs)
    assert got == status, body
    assert headers["Content-Type"].startswith(PROBLEM)
    assert body["status"] == status
    assert body["title"]
    return body


async def test_malformed_json_is_400(gw: Client) -> None:
    body = await expect_problem(gw, 400, "POST", "/v1/tasks", data=b'{"task_name": ')
    assert "not valid JSON" in body["detail"]


async def test_oversized_body_is_413(gw: Client) -> None:
    big = {"task_name": "system.ping", "input_data": {}, "pad": "x" * 10_000}
    body = await expect_problem(gw, 413, "POST", "/v1/tasks", json=big)
    assert "4096" in body["detail"]


async def test_unknown_route_is_404_and_wrong_method_405(gw: Client) -> None:
    await expect_problem(gw, 404, "GET", "/v1/nothing-here")
    body = await expect_problem(gw, 405, "PATCH", "/v1/tasks")
    assert "POST" in body["detail"]


async def test_unknown_task_name_is_422(gw: Client) -> None:
    body = await expect_problem(gw, 422, "POST", "/v1/tasks", json={"task_name": "nope.nothing", "input_data": {}})
    assert "task-types" in body["detail"]


@pytest.mark.parametrize(
    ("input_data", "pointer"),
    [
        ({}, "$.input_data"),
        ({"video_path": 5}, "$.input_data.video_path"),
        ({"video_path": "v.mp4", "sample_rate": "high"}, "$.input_data.sample_rate"),
        ({"video_path": "v.mp4", "extra": 1}, "$.input_data.extra"),
        ({"video_path": "v.mp4", "format": "avi"}, "$.input_data.format"),
        ({"video_path": "../secrets/v.mp4"}, "$.input_data.video_path"),
        ({"video_path": "/etc/passwd"}, "$.input_data.video_path"),
    ],
)
async def test_invalid_input_is_422_with_the_field_path(gw: Client, input_data: dict, pointer: str) -> None:
    body = await expect_problem(
        gw, 422, "POST", "/v1/tasks", json={"task_name": "ffmpeg.extract_audio", "input_data": input_data}
    )
    assert body["errors"][0]["pointer"] == pointer


async def test_symlink_leaving_the_root_is_422(gw: Client, gateway_only: System, tmp_path: Path) -> None:
    link = gateway_only.share_dir / "out"
    link.unlink(missing_ok=True)
    link.symlink_to(tmp_path)
    body = await expect_problem(
        gw, 422, "POST", "/v1/tasks", json={"task_name": "ffmpeg.probe", "input_data": {"media_path": "out/x.mp4"}}
    )
    assert "symlink" in body["detail"]


@pytest.mark.parametrize("task_id", ["-leading-dash", "has space", "x" * 129, "slash/inside", ""])
async def test_bad_task_id_is_422(gw: Client, task_id: str) -> None:
    body = await expect_problem(
        gw, 422, "POST", "/v1/tasks", json={"task_name": "system.ping", "task_id": task_id, "input_data": {}}
    )
    assert body["errors"][0]["pointer"] == "$.task_id"


async def test_unknown_top_level_field_is_422(gw: Client) -> None:
    await expect_problem(gw, 422, "POST", "/v1/tasks", json={"task_name": "system.ping", "input": {}})


async def test_two_concurrent_identical_submits_create_one_task(gw: Client, redis_client) -> None:
    payload = {"task_name": "system.ping", "task_id": "same", "input_data": {}}
    results = await asyncio.gather(*(gw.request("POST", "/v1/tasks", json=payload) for _ in range(10)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] * 9 + [202]
    assert redis_client.hlen("dramatiq:system.msgs") == 1  # one message queued (in its lane or on the list)


async def test_same_id_same_task_other_input_is_409(gw: Client) -> None:
    await gw.submit("ffmpeg.probe", {"media_path": "a.mp4"}, task_id="t409")
    body = await expect_problem(
        gw,
        409,
        "POST",
        "/v1/tasks",
        json={"task_name": "ffmpeg.probe", "task_id": "t409", "input_data": {"media_path": "b"}},
    )
    assert "different input_data" in body["detail"]


async def test_cancel_of_a_pending_task_ends_it_and_it_never_runs(gw: Client) -> None:
    await gw.submit("system.ping", {}, task_id="to-cancel")
    status, body, _ = await gw.request("DELETE", "/v1/tasks/to-cancel")
    assert status == 200
    assert body["status"] == "CANCELLED"
    await expect_problem(gw, 409, "DELETE", "/v1/tasks/to-cancel")
    status, result, _ = await gw.request("GET", "/v1/tasks/to-cancel/result")
    assert status == 200
    assert result["status"] == "CANCELLED"


async def test_result_of_a_pending_task_is_409_and_unknown_id_404(gw: Client) -> None:
    await gw.submit("system.ping", {}, task_id="waiting")
    await expect_problem(gw, 409, "GET", "/v1/tasks/waiting/result")
    await expect_problem(gw, 404, "GET", "/v1/tasks/never-made")
    await expect_problem(gw, 404, "DELETE", "/v1/tasks/never-made")


async def test_listing_filters_and_bounds(gw: Client) -> None:
    for i in range(3):
        await gw.submit("system.ping", {}, task_id=f"list-{i}")
    await gw.submit("ffmpeg.probe", {"media_path": "m.mp4"}, task_id="list-probe")
    status, body, _ = await gw.request("GET", "/v1/tasks?task_name=system.ping&limit=2")
    assert status == 200
    assert [t["task_id"] for t in body["tasks"]] == ["list-2", "list-1"]
    status, body, _ = await gw.request("GET", "/v1/tasks?status=PENDING")
    assert {t["task_id"] for t in body["tasks"]} == {"list-0", "list-1", "list-2", "list-probe"}
    await expect_problem(gw, 400, "GET", "/v1/tasks?status=DONE")
    await expect_problem(gw, 400, "GET", "/v1/tasks?limit=0")


async def test_task_types_lists_every_task_with_schema_queue_and_gpu_use(gw: Client) -> None:
    status, body, _ = await gw.request("GET", "/v1/task-types")
    assert status == 200
    by_name = {t["task_name"]: t for t in body["task_types"]}
    audio = by_name["ffmpeg.extract_audio"]
    assert audio["queue"] == "ffmpeg"
    assert audio["uses_gpu"] is False
    assert "audio_path" in audio["output_fields"]
    schema = audio["input_schema"]["$defs"]["ExtractAudioInput"]
    assert schema["required"] == ["video_path"]
    assert schema["properties"]["sample_rate"]["default"] == 16000


async def test_health_and_readiness(gw: Client) -> None:
    assert (await gw.request("GET", "/healthz"))[0] == 200
    status, body, _ = await gw.request("GET", "/readyz")
    assert (status, body["redis"]) == (200, "ok")


async def test_chained_stage_is_a_new_stage_of_the_same_workflow(gw: Client) -> None:
    await gw.submit("ffmpeg.extract_audio", {"video_path": "v.mp4"}, task_id="chain")
    body = await gw.submit(
        "ffmpeg.probe", {"media_path": "${{ stages.ffmpeg.extract_audio.output.audio_path }}"}, task_id="chain"
    )
    assert list(body["stages"]) == ["ffmpeg.extract_audio", "ffmpeg.probe"]
    assert body["task_name"] == "ffmpeg.probe"
