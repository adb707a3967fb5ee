"""pyannote_audio.* through the gateway and a real worker, on a tiny random-weight pipeline loaded from disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.harness import Client, System

DIARIZE = "pyannote_audio.diarize_speakers"
SEGMENTS = "pyannote_audio.get_speaker_segments"
VALIDATE = "pyannote_audio.validate_diarization"
FROM_DIARIZE = "${{ stages.pyannote_audio.diarize_speakers.output.diarization_file }}"


@pytest.fixture
async def diarizer(
    speech_share: Path, tiny_pipeline: Path, make_system: Callable[..., System]
) -> tuple[System, Client]:
    system = make_system({"TASKGATE_PYANNOTE__PIPELINE": str(tiny_pipeline)})
    system.start_worker(queues=["pyannote_audio"])
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        yield system, Client(session, system.base_url)


async def test_diarization_honours_num_speakers_and_loads_the_pipeline_once(diarizer, speech_share: Path) -> None:
    system, client = diarizer
    await client.submit(DIARIZE, {"audio_path": "audio/two_voices.ogg", "num_speakers": 2}, task_id="two")
    await client.submit(SEGMENTS, {"diarization_file": FROM_DIARIZE, "speaker": "SPEAKER_00"}, task_id="two")
    await client.submit(VALIDATE, {"diarization_file": FROM_DIARIZE, "max_speakers": 2}, task_id="two")
    record = await client.wait("two", timeout_s=120)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][DIARIZE]["output"]
    assert out["speakers"] == sorted(out["speakers"])
    assert len(out["speakers"]) == 2
    assert out["pipeline_cache"] == "loaded"
    assert out["diarization_file"] == f"workflows/two/{DIARIZE}/diarization.json"
    data = json.loads((speech_share / out["diarization_file"]).read_text())
    assert len(data["segments"]) == out["segments_count"] > 0
    assert all(0 <= s["start"] < s["end"] <= data["duration_s"] for s in data["segments"])
    assert {s["speaker"] for s in data["segments"]} == set(out["speakers"])
    assert abs(data["duration_s"] - 15.63) < 0.05

    chosen = record["stages"][SEGMENTS]["output"]
    assert chosen["segments"]
    assert {s["speaker"] for s in chosen["segments"]} == {"SPEAKER_00"}
    assert [s["speaker"] for s in chosen["speakers"]] == ["SPEAKER_00"]
    check = record["stages"][VALIDATE]["output"]
    assert check["speakers_count"] == 2
    assert check["segments_count"] == out["segments_count"]
    assert check["valid"] == (check["problems_count"] == 0)

    await client.submit(DIARIZE, {"audio_path": "audio/two_voices.ogg", "num_speakers": 3}, task_id="three")
    record = await client.wait("three", timeout_s=120)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][DIARIZE]["output"]
    assert len(out["speakers"]) == 3
    assert out["pipeline_cache"] == "reused"
    assert system.logs("worker").count('"model_loaded"') == 1


async def test_diarization_tasks_fail_with_what_to_fix(diarizer, speech_share: Path) -> None:
    _system, client = diarizer
    (speech_share / "d.json").write_text(json.dumps({"segments": [{"speaker": "A", "start": 0, "end": 0.05}]}))
    await client.submit(SEGMENTS, {"diarization_file": "d.json", "speaker": "Z"}, task_id="who")
    await client.submit(VALIDATE, {"diarization_file": "d.json"}, task_id="short")
    await client.submit(DIARIZE, {"audio_path": "d.json"}, task_id="not-audio")
    who = await client.wait("who")
    assert who["status"] == "FAILED"
    assert who["error"]["message"] == "speaker 'Z' is not in 'd.json' (speakers: A)"
    short = (await client.wait("short"))["stages"][VALIDATE]["output"]
    assert short["valid"] is False
    assert [p["kind"] for p in short["problems"]] == ["too_short"]
    not_audio = await client.wait("not-audio", timeout_s=60)
    assert not_audio["error"]["type"] == "InputFileError"
    status, body, _ = await client.request(
        "POST",
        "/v1/tasks",
        json={"task_name": DIARIZE, "input_data": {"audio_path": "a.wav", "num_speakers": 2, "max_speakers": 3}},
    )
    assert status == 422
    assert "not both" in json.dumps(body)


async def test_a_corrupt_pipeline_folder_fails_the_stage_naming_the_setting(
    speech_share: Path, make_system: Callable[..., System], tmp_path: Path
) -> None:
    corrupt = tmp_path / "pipeline"
    (corrupt / "segmentation").mkdir(parents=True)
    (corrupt / "config.yaml").write_text(
        "pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n  params:\n"
        "    segmentation: $model/segmentation\n    embedding: $model/segmentation\n"
        "    clustering: AgglomerativeClustering\n"
    )
    (corrupt / "segmentation" / "pytorch_model.bin").write_bytes(b"not a checkpoint" * 64)
    system = make_system({"TASKGATE_PYANNOTE__PIPELINE": str(corrupt)})
    system.start_worker(queues=["pyannote_audio"])
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await client.submit(DIARIZE, {"audio_path": "audio/two_voices.ogg"}, task_id="unconfigured")
        record = await client.wait("unconfigured", timeout_s=60)
    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "EngineUnavailable"
    assert "TASKGATE_PYANNOTE__PIPELINE" in record["error"]["message"]
    assert "cannot load the diarization pipeline" in record["error"]["message"]
