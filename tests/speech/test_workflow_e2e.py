"""One workflow under one task_id: video -> audio -> transcript -> speakers -> subtitle files -> translation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from actors.subtitles.formats import parse_srt
from tests.harness import Client, System
from tests.language.fake_llm import FakeLlm
from tests.media import run_ffmpeg
from tests.speech.audio import TWO_VOICES

STAGES = [
    ("ffmpeg.extract_audio", {"video_path": "videos/talk.mp4"}),
    (
        "faster_whisper.transcribe_audio",
        {"audio_path": "${{ stages.ffmpeg.extract_audio.output.audio_path }}", "language": "en"},
    ),
    (
        "pyannote_audio.diarize_speakers",
        {"audio_path": "${{ stages.ffmpeg.extract_audio.output.audio_path }}", "num_speakers": 2},
    ),
    (
        "subtitles.generate_files",
        {
            "segments_file": "${{ stages.faster_whisper.transcribe_audio.output.segments_file }}",
            "diarization_file": "${{ stages.pyannote_audio.diarize_speakers.output.diarization_file }}",
            "formats": ["srt", "vtt"],
        },
    ),
    (
        "llm.translate_subtitles",
        {"subtitle_path": "${{ stages.subtitles.generate_files.output.srt_path }}", "target_language": "fr"},
    ),
]


@pytest.fixture
def fake_llm() -> Iterator[FakeLlm]:
    server = FakeLlm()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def talk_video(share_dir: Path) -> Path:
    """A test-pattern video whose sound is two voices taking turns."""
    target = share_dir / "videos" / "talk.mp4"
    target.parent.mkdir()
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10",
        "-i",
        str(TWO_VOICES),
        "-shortest",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(target),
    )
    return target


async def test_five_stages_submitted_at_once_run_in_order_and_chain_their_outputs(
    make_system: Callable[..., System], tiny_pipeline: Path, fake_llm: FakeLlm, talk_video: Path, share_dir: Path
) -> None:
    system = make_system(
        {
            "TASKGATE_PYANNOTE__PIPELINE": str(tiny_pipeline),
            "OPENAI_BASE_URL": fake_llm.url,
            "OPENAI_API_KEY": "sk-test-workflow-key-000000",
        }
    )
    system.start_worker(threads=4)
    system.start_gateway()
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        for task_name, input_data in STAGES:
            await client.submit(task_name, input_data, task_id="talk")
        record = await client.wait("talk", timeout_s=240)

    assert record["status"] == "SUCCESS", record
    assert list(record["stages"]) == [name for name, _ in STAGES]
    stages = record["stages"]
    finished = [stages[name]["finished_at"] for name, _ in STAGES]
    assert finished[0] < finished[1] < finished[3] < finished[4]
    assert finished[2] < finished[3]

    transcript = stages["faster_whisper.transcribe_audio"]["output"]
    assert transcript["segments_count"] > 0
    assert transcript["language"] == "en"
    speakers = stages["pyannote_audio.diarize_speakers"]["output"]["speakers"]
    assert len(speakers) == 2

    files = stages["subtitles.generate_files"]["output"]
    cues = parse_srt((share_dir / files["srt_path"]).read_text())
    assert len(cues) == files["cues_count"] > 0
    assert all(cue.text.split(":")[0] in speakers for cue in cues)
    assert (share_dir / files["vtt_path"]).read_text().startswith("WEBVTT")

    translated = parse_srt((share_dir / stages["llm.translate_subtitles"]["output"]["subtitle_path"]).read_text())
    assert [(c.start_s, c.end_s) for c in translated] == [(c.start_s, c.end_s) for c in cues]
    assert all("[fr]" in cue.text for cue in translated)
    assert fake_llm.seen
