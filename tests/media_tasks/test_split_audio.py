"""ffmpeg.split_audio_segments through the gateway and a real worker."""

from __future__ import annotations

import json
import wave
from typing import Any

import pytest

from tests.harness import Client, System
from tests.media import run_ffmpeg


@pytest.fixture(scope="module")
def audio(media_system: System) -> str:
    """A 6 s mono 16 kHz tone under the storage root."""
    target = media_system.share_dir / "audio" / "tone.wav"
    target.parent.mkdir(parents=True)
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=6",
        "-ac",
        "1",
        "-ar",
        "16000",
        str(target),
    )
    return "audio/tone.wav"


def wav_seconds(system: System, rel: str) -> float:
    with wave.open(str(system.share_dir / rel)) as wav:
        return float(wav.getnframes() / wav.getframerate())


async def split(client: Client, task_id: str, **data: Any) -> dict[str, Any]:
    await client.submit("ffmpeg.split_audio_segments", data, task_id=task_id)
    record = await client.wait(task_id, timeout_s=60)
    return record


SRT = """1
00:00:00,000 --> 00:00:00,400
Hi.

2
00:00:00,500 --> 00:00:01,200
How are you?

3
00:00:02,000 --> 00:00:05,000
I am fine, thank you.

4
00:00:05,500 --> 00:00:06,000
Bye.
"""


async def test_short_cues_join_their_neighbours_and_each_segment_is_a_wav_of_its_length(
    media_system: System, media_client: Client, audio: str
) -> None:
    (media_system.share_dir / "audio" / "talk.srt").write_text(SRT)
    record = await split(media_client, "split-srt", audio_path=audio, subtitle_path="audio/talk.srt")

    assert record["status"] == "SUCCESS", record
    output = record["stages"]["ffmpeg.split_audio_segments"]["output"]
    segments = output["segments"]
    assert [(s["start_s"], s["end_s"], s["text"]) for s in segments] == [
        (0.0, 1.2, "Hi. How are you?"),
        (2.0, 6.0, "I am fine, thank you. Bye."),
    ]
    assert all("speaker" not in s for s in segments)
    assert output["audio_segments_dir"] == "workflows/split-srt/ffmpeg.split_audio_segments/segments"
    for segment in segments:
        assert abs(wav_seconds(media_system, segment["path"]) - (segment["end_s"] - segment["start_s"])) < 0.05


async def test_grouping_by_speaker_never_mixes_speakers(media_system: System, media_client: Client, audio: str) -> None:
    cues = [
        {"start": 0.0, "end": 0.5, "text": "Ready?", "speaker": "A"},
        {"start": 0.6, "end": 1.0, "text": "Yes.", "speaker": "B"},
        {"start": 1.1, "end": 3.0, "text": "Then let us start.", "speaker": "A"},
    ]
    (media_system.share_dir / "audio" / "talk.json").write_text(json.dumps({"segments": cues}))

    grouped = await split(
        media_client, "split-by-speaker", audio_path=audio, subtitle_path="audio/talk.json", group_by_speaker=True
    )
    mixed = await split(media_client, "split-mixed", audio_path=audio, subtitle_path="audio/talk.json")

    grouped_segments = grouped["stages"]["ffmpeg.split_audio_segments"]["output"]["segments"]
    assert [(s["start_s"], s["end_s"], s["speaker"]) for s in grouped_segments] == [
        (0.0, 0.5, "A"),
        (0.6, 1.0, "B"),
        (1.1, 3.0, "A"),
    ]
    mixed_segments = mixed["stages"]["ffmpeg.split_audio_segments"]["output"]["segments"]
    assert [(s["start_s"], s["end_s"], s.get("speaker")) for s in mixed_segments] == [
        (0.0, 1.0, None),
        (1.1, 3.0, "A"),
    ]
    assert mixed_segments[0]["text"] == "Ready? Yes."


async def test_a_cue_longer_than_the_maximum_is_cut_into_equal_parts(
    media_system: System, media_client: Client, audio: str
) -> None:
    (media_system.share_dir / "audio" / "long.srt").write_text("1\n00:00:00,000 --> 00:00:05,000\nA long speech.\n")
    record = await split(
        media_client, "split-long", audio_path=audio, subtitle_path="audio/long.srt", max_duration_s=2.0
    )

    segments = record["stages"]["ffmpeg.split_audio_segments"]["output"]["segments"]
    assert [(s["start_s"], s["end_s"]) for s in segments] == [(0.0, 1.667), (1.667, 3.333), (3.333, 5.0)]
    assert all(s["end_s"] - s["start_s"] <= 2.0 for s in segments)


async def test_min_above_max_is_refused_at_submit(media_client: Client, audio: str) -> None:
    status, body, _ = await media_client.request(
        "POST",
        "/v1/tasks",
        json={
            "task_name": "ffmpeg.split_audio_segments",
            "input_data": {"audio_path": audio, "subtitle_path": "x.srt", "min_duration_s": 5, "max_duration_s": 2},
        },
    )
    assert status == 422
    assert "min_duration_s must not exceed max_duration_s" in json.dumps(body)


async def test_a_subtitle_file_without_cues_fails_saying_so(
    media_system: System, media_client: Client, audio: str
) -> None:
    (media_system.share_dir / "audio" / "junk.srt").write_text("this is not a subtitle file")
    record = await split(media_client, "split-junk", audio_path=audio, subtitle_path="audio/junk.srt")
    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "InputFileError"
    assert "contains no subtitle cues" in record["error"]["message"]
