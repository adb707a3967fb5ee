"""faster_whisper.transcribe_audio through the gateway and a real worker, on the bundled tiny.en model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.harness import Client, System, async_wait_until
from tests.speech.audio import long_speech

STAGE = "faster_whisper.transcribe_audio"


async def _progress_while_running(client: Client, task_id: str) -> float:
    async def running_share() -> float | None:
        stage = (await client.task(task_id))["stages"][STAGE]
        assert stage["status"] in ("PENDING", "RUNNING"), stage
        progress = stage.get("progress")
        return progress if stage["status"] == "RUNNING" and progress and 0 < progress < 1 else None

    share: float = await async_wait_until(running_share, 60, 0.03, "progress between 0 and 1 while running")
    return share


def _segments(share: Path, output: dict) -> dict:
    return json.loads((share / output["segments_file"]).read_text())


async def test_second_task_reuses_the_model_and_progress_shows_while_running(
    speech_share: Path, system: System, client: Client
) -> None:
    long_speech(speech_share / "audio" / "long.wav", 40.0)

    await client.submit(STAGE, {"audio_path": "audio/long.wav", "beam_size": 1, "language": "en"}, task_id="long")
    assert 0 < await _progress_while_running(client, "long") < 1
    first = await client.wait("long", timeout_s=120)
    assert first["status"] == "SUCCESS", first
    out = first["stages"][STAGE]["output"]
    assert out["model_cache"] == "loaded"
    assert out["model"] == "tiny.en"
    assert out["segments_file"] == f"workflows/long/{STAGE}/segments.json"
    assert abs(out["audio_duration_s"] - 40.0) < 0.05
    assert out["batch_size"] == 1  # the CPU default: VAD windows decoded one by one, progress after each
    segments = _segments(speech_share, out)["segments"]
    assert len(segments) == out["segments_count"] > 3
    assert all(s["words"] for s in segments)

    await client.submit(
        STAGE, {"audio_path": "audio/meeting.ogg", "language": "en", "word_timestamps": False}, task_id="short"
    )
    second = await client.wait("short", timeout_s=60)
    assert second["status"] == "SUCCESS", second
    out = second["stages"][STAGE]["output"]
    assert out["model_cache"] == "reused"
    assert (out["language"], out["language_probability"]) == ("en", 1.0)
    data = _segments(speech_share, out)
    text = " ".join(s["text"] for s in data["segments"]).lower()
    assert "meeting" in text
    assert "friday" in text
    assert all(s["words"] == [] for s in data["segments"])
    assert system.logs("worker").count('"model_loaded"') == 1


async def test_options_the_model_cannot_honour_fail_the_stage_saying_why(
    speech_share: Path, system: System, client: Client
) -> None:
    (speech_share / "models" / "empty").mkdir(parents=True)
    cases = {
        "translate": ({"task": "translate", "language": "en"}, "InputError", "cannot translate"),
        "bad-folder": ({"model": "models/empty"}, "InputError", "lacks model.bin"),
    }
    for task_id, (extra, _, _) in cases.items():
        await client.submit(STAGE, {"audio_path": "audio/meeting.ogg", **extra}, task_id=task_id)
    for task_id, (_, error_type, message) in cases.items():
        record = await client.wait(task_id, timeout_s=60)
        assert record["status"] == "FAILED", record
        assert record["error"]["type"] == error_type
        assert message in record["error"]["message"]
        assert record["stages"][STAGE]["attempts"] == 1


async def test_bad_options_are_refused_at_submit(make_system: Callable[..., System]) -> None:
    gateway_only = make_system()
    gateway_only.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, gateway_only.base_url)
        for bad in (
            {"beam_size": 0},
            {"task": "summarise"},
            {"language": "English"},
            {"vad": True},
            {"batch_size": 2, "vad_filter": False},
        ):
            status, body, _ = await client.request(
                "POST", "/v1/tasks", json={"task_name": STAGE, "input_data": {"audio_path": "a.wav", **bad}}
            )
            assert status == 422, (bad, body)


async def test_cancel_stops_a_running_transcription(speech_share: Path, system: System, client: Client) -> None:
    long_speech(speech_share / "audio" / "long.wav", 60.0)
    await client.submit(STAGE, {"audio_path": "audio/long.wav", "language": "en"}, task_id="stop-me")
    await _progress_while_running(client, "stop-me")
    status, _, _ = await client.request("DELETE", "/v1/tasks/stop-me")
    assert status == 202
    record = await client.wait("stop-me", timeout_s=30)
    assert record["status"] == "CANCELLED", record
