"""Pipeline definitions: refused at load with the path of the error; kept, listed and submitted in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from aiohttp.test_utils import TestClient, TestServer

from actors.pipeline.check import check_definition
from actors.pipeline.definition import DefinitionError, parse_definition
from actors.pipeline.tasks import builtin_definitions
from config import load_settings
from gateway.app import create_app
from gateway.context import SETTINGS
from gateway.openapi import build_document
from gateway.pipeline_folder import read_folder
from state import StateStore

AUDIO = {
    "name": "audio_text",
    "inputs": {"video_path": {"type": "path", "required": True}, "language": {"type": "string"}},
    "stages": [
        {"task": "ffmpeg.extract_audio", "input": {"video_path": "${{ inputs.video_path }}"}},
        {
            "task": "faster_whisper.transcribe_audio",
            "input": {
                "audio_path": "${{ stages.ffmpeg.extract_audio.output.audio_path }}",
                "language": "${{ inputs.language }}",
            },
        },
    ],
    "output": {"segments_file": "${{ stages.faster_whisper.transcribe_audio.output.segments_file }}"},
}


def changed(path: list[Any], value: Any) -> dict[str, Any]:
    doc = yaml.safe_load(yaml.safe_dump(AUDIO))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def refusal(doc: dict[str, Any]) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        check_definition(parse_definition(yaml.safe_dump(doc)))
    return caught.value


def test_the_builtins_are_written_in_the_definition_format_and_pass_the_checks() -> None:
    assert set(builtin_definitions()) == {
        "pipeline.subtitle_video", "pipeline.translate_video", "pipeline.dub_video", "pipeline.clean_video"
    }  # fmt: skip
    check_definition(parse_definition(yaml.safe_dump(AUDIO)))


@pytest.mark.parametrize(
    ("path", "value", "pointer", "words"),
    [
        (["stages", 1, "task"], "faster_whisper.transcribe", "stages[1].task", "did you mean"),
        (["stages", 1, "input", "audio_path"], "${{ stages.ffmpeg.probe.output.audio_path }}",
         "stages[1].input.audio_path", "unknown stage 'ffmpeg.probe'"),
        (["stages", 1, "input", "audio_path"], "${{ stages.ffmpeg.extract_audio.output.audio }}",
         "stages[1].input.audio_path", "no output field 'audio'"),
        (["stages", 1, "input", "audio_path"], "${{ stages.ffmpeg.extract_audio.output.duration_s }}",
         "stages[1].input.audio_path", "does not fit"),
        (["stages", 1, "input", "beam_size"], "${{ inputs.language }}", "stages[1].input.beam_size", "does not fit"),
        (["stages", 1, "input", "beam"], 5, "stages[1].input.beam", "did you mean 'beam_size'"),
        (["stages", 1, "input", "beam_size"], "five", "stages[1].input.beam_size", "does not fit"),
        (["stages", 1, "input", "language"], "${{ inputs.lang }}", "stages[1].input.language", "unknown input 'lang'"),
        (["stages", 1, "input", "audio_path"], "${{ stage.ffmpeg.extract_audio.output.audio_path }}",
         "stages[1].input.audio_path", "is not a reference"),
        (["stages", 0, "input"], {}, "stages[0].input", "needs input field 'video_path'"),
        (["stages", 1, "when"], "inputs.missing", "stages[1].when", "does not declare"),
        (["stages", 1, "task"], "ffmpeg.extract_audio", "stages[1].task", "appears twice"),
        (["inputs", "language", "type"], "colour", "inputs.language.type", "the input types are string, path"),
        (["output", "segments_file"], "${{ stages.subtitles.generate_files.output.srt_path }}",
         "output.segments_file", "unknown stage"),
        (["stages", 0, "input", "video_path"], {"$merge": []}, "stages[0].input.video_path", "in `output` only"),
    ],
)  # fmt: skip
def test_a_definition_that_cannot_run_is_refused_naming_the_path(
    path: list[Any], value: Any, pointer: str, words: str
) -> None:
    error = refusal(changed(path, value))
    assert error.pointer == pointer, error
    assert words in str(error)


def test_a_cycle_is_refused_naming_its_stages() -> None:
    doc = changed(
        ["stages", 0, "input", "video_path"], "${{ stages.faster_whisper.transcribe_audio.output.segments_file }}"
    )
    error = refusal(doc)
    assert "cycle" in str(error)
    assert "ffmpeg.extract_audio -> faster_whisper.transcribe_audio" in str(error)
    assert error.pointer.startswith("stages[")


def test_text_that_is_not_yaml_or_not_a_mapping_is_refused() -> None:
    with pytest.raises(DefinitionError, match="neither YAML nor JSON"):
        parse_definition("name: [unclosed")
    with pytest.raises(DefinitionError, match="mapping"):
        parse_definition("- a list")


@pytest.fixture
async def gateway(redis_url: str, share_dir: Path) -> AsyncIterator[TestClient]:
    (share_dir / "v.mp4").write_bytes(b"not read at submit")
    env = {
        "TASKGATE_REDIS_URL": redis_url,
        "TASKGATE_SHARE_DIR": str(share_dir),
        "TASKGATE_GPU_LOCK_MONITOR__ENABLED": "false",
    }
    client = TestClient(TestServer(create_app(load_settings(env))))
    await client.start_server()
    yield client
    await client.close()


async def test_a_kept_pipeline_is_listed_and_submitted_like_a_task(gateway: TestClient, redis_url: str) -> None:
    resp = await gateway.put("/v1/pipelines/audio_text", data=yaml.safe_dump(AUDIO))
    assert resp.status == 201, await resp.text()
    listed = await (await gateway.get("/v1/pipelines")).json()
    names = {p["task_name"]: p["builtin"] for p in listed["pipelines"]}
    assert names["pipeline.audio_text"] is False
    assert names["pipeline.dub_video"] is True

    body = {"task_name": "pipeline.audio_text", "task_id": "kept-1", "input_data": {"video_path": "v.mp4"}}
    resp = await gateway.post("/v1/tasks", json=body)
    assert resp.status == 202, await resp.text()
    record = await resp.json()
    assert record["task_name"] == "pipeline.audio_text"
    assert set(record["stages"]) == {"ffmpeg.extract_audio", "faster_whisper.transcribe_audio", "pipeline.audio_text"}
    own = record["stages"]["pipeline.audio_text"]
    assert own["progress"] == 0.0
    assert own["input_data"]["output"] == AUDIO["output"]
    assert "language" not in record["stages"]["faster_whisper.transcribe_audio"]["input_data"]  # not given: left out
    client = redis.Redis.from_url(redis_url)
    queued = [client.hget("dramatiq:system.msgs", m) for m in client.lrange("dramatiq:system", 0, -1)]
    client.close()
    assert any(b'"actor_name":"pipeline.run"' in m and b'"task_name":"pipeline.audio_text"' in m for m in queued)

    resp = await gateway.post("/v1/tasks", json=body)  # the same submit again: found, not created twice
    assert resp.status == 200


async def test_bad_definitions_and_unknown_pipelines_are_422s_and_nothing_is_half_created(
    gateway: TestClient, redis_url: str
) -> None:
    bad = changed(["stages", 1, "input", "audio_path"], "${{ stages.ffmpeg.extract_audio.output.audio }}")
    resp = await gateway.put("/v1/pipelines/audio_text", data=yaml.safe_dump(bad))
    assert resp.status == 422
    problem = await resp.json()
    assert problem["errors"][0]["pointer"] == "stages[1].input.audio_path"
    resp = await gateway.put("/v1/pipelines/dub_video", json={**AUDIO, "name": "dub_video"})
    assert resp.status == 422
    assert "built-in" in (await resp.json())["detail"]

    resp = await gateway.post("/v1/tasks", json={"task_name": "pipeline.nope", "input_data": {}})
    assert resp.status == 422
    detail = (await resp.json())["detail"]
    assert "pipeline.subtitle_video" in detail
    assert "pipeline.clean_video" in detail

    # An inner stage refuses its input (an unknown profile): the whole pipeline is refused, nothing written.
    data = {"video_path": "v.mp4", "profile": "cinema"}
    body = {"task_name": "pipeline.subtitle_video", "task_id": "half", "input_data": data}
    resp = await gateway.post("/v1/tasks", json=body)
    assert resp.status == 422
    problem = await resp.json()
    assert problem["errors"][0]["pointer"] == "$.input_data.profile"
    assert "subtitles.generate_files" in problem["detail"]
    client = redis.Redis.from_url(redis_url)
    assert not client.exists("workflow_state:half")
    assert client.llen("dramatiq:ffmpeg") == 0
    client.close()


async def test_pipelines_have_their_input_schema_in_task_types_and_openapi(gateway: TestClient) -> None:
    types = {t["task_name"]: t for t in (await (await gateway.get("/v1/task-types")).json())["task_types"]}
    assert {"pipeline.subtitle_video", "pipeline.dub_video", "pipeline.run"} <= set(types)
    app = gateway.server.app  # the document as /openapi.json builds it (its lazy cache warns in-process)
    text = str(build_document(app, app[SETTINGS]))
    assert "DubVideoInput" in text
    assert "target_language" in text


async def test_a_pipelines_folder_is_checked_and_kept_at_start(redis_url: str, share_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "audio_text.yaml").write_text(yaml.safe_dump(AUDIO))
    env = {
        "TASKGATE_REDIS_URL": redis_url,
        "TASKGATE_SHARE_DIR": str(share_dir),
        "TASKGATE_GPU_LOCK_MONITOR__ENABLED": "false",
        "TASKGATE_PIPELINES_DIR": str(folder),
    }
    client = TestClient(TestServer(create_app(load_settings(env))))
    await client.start_server()
    try:
        resp = await client.get("/v1/pipelines/audio_text")
        assert resp.status == 200
        assert (await resp.json())["stages"][0]["task"] == "ffmpeg.extract_audio"
    finally:
        await client.close()

    bad = changed(["stages", 1, "input", "audio_path"], "${{ stages.ffmpeg.extract_audio.output.duration_s }}")
    (folder / "audio_text.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(DefinitionError, match=r"audio_text.yaml.*stages\[1\]\.input\.audio_path"):
        read_folder(folder)  # what the start runs: a bad definition stops it


async def test_only_the_stages_needed_are_created_and_progress_is_weighted(gateway: TestClient, aredis: Any) -> None:
    same = {"video_path": "v.mp4", "source_language": "en", "target_languages": ["en"]}
    body = {"task_name": "pipeline.translate_video", "task_id": "same-language", "input_data": same}
    resp = await gateway.post("/v1/tasks", json=body)
    assert resp.status == 202, await resp.text()
    stages = (await resp.json())["stages"]
    assert "llm.translate_subtitles" not in stages  # nothing to translate into
    assert "llm.translate_subtitles" not in stages["pipeline.translate_video"]["input_data"]["weights"]

    data = {"video_path": "v.mp4", "target_language": "fr", "voices": {"SPEAKER_00": "en_US-joe-medium"}}
    body = {"task_name": "pipeline.dub_video", "task_id": "two-voices", "input_data": data}
    resp = await gateway.post("/v1/tasks", json=body)
    assert resp.status == 202, await resp.text()
    stages = (await resp.json())["stages"]
    assert "pyannote_audio.diarize_speakers" in stages  # a voice per speaker needs the speakers
    assert "llm.translate_subtitles" in stages  # the source language is not known to be French
    weights = stages["pipeline.dub_video"]["input_data"]["weights"]

    store = StateStore(aredis, 3600)
    await store.set_progress("two-voices", "faster_whisper.transcribe_audio", 0.5)
    record = await (await gateway.get("/v1/tasks/two-voices")).json()
    expected = 0.5 * weights["faster_whisper.transcribe_audio"] / sum(weights.values())
    assert record["stages"]["pipeline.dub_video"]["progress"] == pytest.approx(expected, abs=1e-4)
