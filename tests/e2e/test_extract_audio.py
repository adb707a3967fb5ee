"""The walking skeleton: submit ffmpeg.extract_audio over HTTP and get a 16 kHz mono WAV."""

from __future__ import annotations

import wave
from pathlib import Path

from tests.harness import Client, System
from tests.media import make_video


async def test_extract_audio_ends_success_with_a_16khz_mono_wav(system: System, client: Client) -> None:
    make_video(system.share_dir / "videos" / "in.mp4", seconds=2.0)

    accepted = await client.submit("ffmpeg.extract_audio", {"video_path": "videos/in.mp4"}, task_id="job-1")
    assert accepted["status"] in ("PENDING", "RUNNING", "SUCCESS")
    record = await client.wait("job-1")

    assert record["status"] == "SUCCESS", record
    stage = record["stages"]["ffmpeg.extract_audio"]
    output = stage["output"]
    assert output["audio_path"] == "workflows/job-1/ffmpeg.extract_audio/audio.wav"
    with wave.open(str(system.share_dir / output["audio_path"])) as wav:
        assert wav.getframerate() == 16000
        assert wav.getnchannels() == 1
        assert abs(wav.getnframes() / 16000 - 2.0) < 0.1
    assert abs(output["duration_s"] - 2.0) < 0.1
    assert stage["started_at"]
    assert stage["finished_at"]
    assert stage["duration_s"] >= 0
    assert stage["attempts"] == 1


async def test_submit_answers_202_with_location(system: System, client: Client) -> None:
    make_video(system.share_dir / "in.mp4")
    status, body, headers = await client.request(
        "POST", "/v1/tasks", json={"task_name": "ffmpeg.probe", "input_data": {"media_path": "in.mp4"}}
    )
    assert status == 202
    assert headers["Location"] == f"/v1/tasks/{body['task_id']}"
    record = await client.wait(body["task_id"])
    streams = record["stages"]["ffmpeg.probe"]["output"]["streams"]
    assert {s["type"] for s in streams} == {"video", "audio"}


async def test_missing_input_file_is_refused_at_submit_naming_the_file(system: System, client: Client) -> None:
    status, body, _ = await client.request(
        "POST", "/v1/tasks", json={"task_name": "ffmpeg.extract_audio", "input_data": {"video_path": "videos/nope.mp4"}}
    )
    assert status == 422
    assert body["errors"][0]["pointer"] == "$.input_data.video_path"
    assert "videos/nope.mp4" in body["detail"]


async def test_not_a_video_fails_with_a_clear_message_and_no_server_path(system: System, client: Client) -> None:
    (system.share_dir / "notes.mp4").write_text("this is not a video")
    await client.submit("ffmpeg.extract_audio", {"video_path": "notes.mp4"}, task_id="bad-media")
    record = await client.wait("bad-media")
    assert record["status"] == "FAILED"
    message = record["error"]["message"]
    assert message == "'notes.mp4' is not a media file ffmpeg can read: Invalid data found when processing input"
    assert str(system.share_dir) not in message
    assert "Errno" not in message


async def test_video_without_audio_fails_saying_so(system: System, client: Client, tmp_path: Path) -> None:
    make_video(system.share_dir / "silent.mp4", audio=False)
    await client.submit("ffmpeg.extract_audio", {"video_path": "silent.mp4"}, task_id="silent")
    record = await client.wait("silent")
    assert record["status"] == "FAILED"
    assert "no audio stream" in record["error"]["message"]


async def test_a_finished_task_is_no_longer_tracked_as_running(system: System, client: Client, redis_client) -> None:
    await client.submit("system.sleep", {"seconds": 0.5}, task_id="tracked")
    await client.wait("tracked", statuses={"RUNNING"})
    assert redis_client.hget("workflow_state:tracked", "run:system.sleep")  # its run record, with the stage
    assert redis_client.zscore("taskgate:runs:checks", "tracked|system.sleep")
    assert (await client.wait("tracked"))["status"] == "SUCCESS"
    assert not redis_client.hget("workflow_state:tracked", "run:system.sleep")
    assert not redis_client.zscore("taskgate:runs:checks", "tracked|system.sleep")
    assert not redis_client.zscore("taskgate:runs:heartbeats", "tracked|system.sleep")
