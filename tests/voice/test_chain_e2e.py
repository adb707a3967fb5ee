"""A whole dub submitted at once under one task_id, and a dub cancelled between its lines."""

from __future__ import annotations

import json

from tests.harness import Client, System, async_wait_until
from tests.media import run_ffmpeg
from tests.speech.audio import MEETING
from tests.voice.signal import loud_spans

CHAIN = [
    ("ffmpeg.extract_audio", {"video_path": "videos/talk.mp4"}),
    (
        "faster_whisper.transcribe_audio",
        {"audio_path": "${{ stages.ffmpeg.extract_audio.output.audio_path }}", "language": "en"},
    ),
    (
        "tts.synthesize_subtitles",
        {
            "subtitle_path": "${{ stages.faster_whisper.transcribe_audio.output.segments_file }}",
            "duration_s": "${{ stages.ffmpeg.extract_audio.output.duration_s }}",
            "max_speed": 2.0,
        },
    ),
    (
        "ffmpeg.mux_audio",
        {
            "video_path": "videos/talk.mp4",
            "audio_path": "${{ stages.tts.synthesize_subtitles.output.audio_path }}",
            "mode": "mix",
            "original_volume": 0.1,
        },
    ),
]


async def test_extract_transcribe_dub_and_mux_submitted_at_once_chain_under_one_task_id(
    voice_system: System, voice_client: Client
) -> None:
    talk = voice_system.share_dir / "videos" / "talk.mp4"
    talk.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-i", str(MEETING), "-t", "8.2",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(talk),
    )  # fmt: skip
    for task_name, input_data in CHAIN:
        await voice_client.submit(task_name, input_data, task_id="talk")
    record = await voice_client.wait("talk", timeout_s=180)
    assert record["status"] == "SUCCESS", record
    stages = record["stages"]
    assert list(stages) == [name for name, _ in CHAIN]
    finished = [stages[name]["finished_at"] for name, _ in CHAIN]
    assert finished == sorted(finished)

    segments = stages["faster_whisper.transcribe_audio"]["output"]["segments_count"]
    dub = stages["tts.synthesize_subtitles"]["output"]
    assert dub["cues_count"] == segments > 0
    manifest = json.loads((voice_system.share_dir / dub["manifest_path"]).read_text())
    assert "meeting" in " ".join(c["text"] for c in manifest["cues"]).lower()
    audio_s = stages["ffmpeg.extract_audio"]["output"]["duration_s"]
    assert abs(manifest["duration_s"] - audio_s) < 0.01
    out = stages["ffmpeg.mux_audio"]["output"]
    assert abs(out["duration_s"] - 8.2) < 0.05
    assert abs(audio_s - 8.2) < 0.05
    assert loud_spans(voice_system.share_dir / out["video_path"])


async def test_a_dub_reports_progress_per_line_and_stops_between_lines_when_cancelled(
    voice_system: System, voice_client: Client
) -> None:
    cues = [{"start": 2.0 * i, "end": 2.0 * i + 1.8, "text": f"This is line number {i} of many."} for i in range(60)]
    subs = voice_system.share_dir / "subs" / "many.json"
    subs.parent.mkdir(parents=True, exist_ok=True)
    subs.write_text(json.dumps({"cues": cues}))
    await voice_client.submit("tts.synthesize_subtitles", {"subtitle_path": "subs/many.json"}, task_id="many")

    async def partway() -> float | None:
        stage = (await voice_client.task("many"))["stages"]["tts.synthesize_subtitles"]
        assert stage["status"] in ("PENDING", "RUNNING"), stage
        progress = stage.get("progress")
        return progress if progress and 0 < progress < 1 else None

    assert 0 < await async_wait_until(partway, 60, 0.05, "progress between 0 and 1") < 1
    status, _, _ = await voice_client.request("DELETE", "/v1/tasks/many")
    assert status == 202
    record = await voice_client.wait("many", timeout_s=30)
    assert record["status"] == "CANCELLED", record
    folder = voice_system.share_dir / "workflows" / "many" / "tts.synthesize_subtitles"
    assert not (folder / "dub.wav").exists()
    assert not (folder / "manifest.json").exists()
