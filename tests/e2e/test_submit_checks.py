"""What a submit is told: missing files, malformed references, field suggestions, live workers, list filters."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from tests.e2e.test_gateway_contract import expect_problem
from tests.harness import Client, System, async_wait_until

AUDIO_REF = "${{ stages.ffmpeg.extract_audio.output.audio_path }}"


GATEWAY_FILES = {"videos/in.mp4": b"not checked at submit"}  # a gateway without workers, with one video


async def submit_problem(gw: Client, task_name: str, input_data: dict, status: int = 422) -> dict:
    return await expect_problem(
        gw, status, "POST", "/v1/tasks", json={"task_name": task_name, "input_data": input_data}
    )


async def test_a_missing_input_file_is_422_at_its_field_but_references_and_urls_pass(
    gw: Client, gateway_only: System
) -> None:
    body = await submit_problem(gw, "ffmpeg.extract_audio", {"video_path": "videos/nope.mp4"})
    assert body["errors"][0]["pointer"] == "$.input_data.video_path"
    assert "no file 'videos/nope.mp4' in the storage root" in body["detail"]
    assert str(gateway_only.share_dir) not in body["detail"]

    await gw.submit("ffmpeg.extract_audio", {"video_path": "videos/in.mp4"}, task_id="present")
    await gw.submit("ffmpeg.probe", {"media_path": AUDIO_REF}, task_id="present")
    await gw.submit("ffmpeg.probe", {"media_path": "http://127.0.0.1:9/later.mp4"}, task_id="by-url")


async def test_a_malformed_reference_is_422_explaining_the_syntax(gw: Client) -> None:
    body = await submit_problem(gw, "ffmpeg.probe", {"media_path": "${{ ffmpeg.extract_audio.audio_path }}"})
    assert body["errors"][0]["pointer"] == "$.input_data.media_path"
    assert "is not a reference; write ${{ stages.<task_name>.output.<field> }}" in body["detail"]
    assert AUDIO_REF in body["detail"]


async def test_an_unknown_field_is_pointed_at_with_the_closest_name_and_the_allowed_ones(gw: Client) -> None:
    body = await submit_problem(gw, "ffmpeg.extract_audio", {"vidoe_path": "videos/in.mp4"})
    assert body["errors"][0]["pointer"] == "$.input_data.vidoe_path"
    assert "did you mean `video_path`?" in body["detail"]
    assert "Allowed fields: video_path, " in body["detail"]
    assert "sample_rate" in body["detail"]


async def test_an_enum_error_lists_the_allowed_values(gw: Client) -> None:
    body = await submit_problem(gw, "ffmpeg.extract_audio", {"video_path": "videos/in.mp4", "format": "avi"})
    assert body["errors"][0]["pointer"] == "$.input_data.format"
    assert "allowed values: flac, mp3, wav" in body["detail"]


async def test_input_instead_of_input_data_says_input_data_is_missing(gw: Client) -> None:
    body = await expect_problem(
        gw, 422, "POST", "/v1/tasks", json={"task_name": "ffmpeg.probe", "input": {"media_path": "videos/in.mp4"}}
    )
    assert body["errors"][0]["pointer"] == "$.input_data"
    assert body["detail"].startswith("`input_data` is missing; unknown field `input`")
    assert "did you mean `input_data`?" in body["detail"]


async def test_query_string_errors_are_titled_as_such(gw: Client) -> None:
    for query in ("status=DONE", "limit=0", "limit=many"):
        body = await expect_problem(gw, 400, "GET", f"/v1/tasks?{query}")
        assert body["title"] == "A query parameter is not valid"
    body = await expect_problem(gw, 400, "GET", "/v1/files?limit=x")
    assert body["type"] == "urn:taskgate:problem:bad-query"


async def test_the_task_name_filter_says_which_stage_matched_and_filters_on_its_status(gw: Client) -> None:
    await gw.submit("ffmpeg.extract_audio", {"video_path": "videos/in.mp4"}, task_id="two-stages")
    await gw.submit("ffmpeg.probe", {"media_path": AUDIO_REF}, task_id="two-stages")
    status, body, _ = await gw.request("DELETE", "/v1/tasks/two-stages")
    assert status in (200, 202), body

    _, listed, _ = await gw.request("GET", "/v1/tasks?task_name=ffmpeg.extract_audio")
    [row] = [t for t in listed["tasks"] if t["task_id"] == "two-stages"]
    assert row["task_name"] == "ffmpeg.probe"
    assert row["matched_stage"]["task_name"] == "ffmpeg.extract_audio"
    by_stage = {
        t["task_id"]
        for t in (
            await gw.request("GET", f"/v1/tasks?task_name=ffmpeg.extract_audio&status={row['matched_stage']['status']}")
        )[1]["tasks"]
    }
    assert "two-stages" in by_stage


async def test_task_types_show_live_workers_and_engines_and_a_submit_without_a_worker_warns(
    make_system: Callable[..., System],
) -> None:
    system = make_system({"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})
    system.start_worker(queues=["system", "llm"])
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)

        async def catalogue() -> dict | None:
            _, body, _ = await client.request("GET", "/v1/task-types")
            types = {t["task_name"]: t for t in body["task_types"]}
            return types if types["system.ping"]["worker_alive"] else None

        types = await async_wait_until(catalogue, 30, 0.2, "the worker's first heartbeat")
        assert types["system.ping"]["engine_ready"] is True
        assert types["llm.translate_subtitles"]["worker_alive"] is True
        assert types["llm.translate_subtitles"]["engine_ready"] is False
        assert "OPENAI_API_KEY" in types["llm.translate_subtitles"]["engine_problem"]
        assert types["ffmpeg.probe"]["worker_alive"] is False
        assert types["ffmpeg.probe"]["engine_ready"] is None

        served = await client.submit("system.ping", {}, task_id="served")
        assert "warnings" not in served
        (system.share_dir / "a.mp4").write_bytes(b"x")
        status, queued, _ = await client.request(
            "POST", "/v1/tasks", json={"task_name": "ffmpeg.probe", "input_data": {"media_path": "a.mp4"}}
        )
        assert status == 202
        assert queued["warnings"] == [
            "no live worker serves queue 'ffmpeg': the task waits in the queue until one starts "
            "(taskgate worker --queues ffmpeg)"
        ]
