"""Subtitles through the gateway and a real worker: real recorded speech to timed, checked subtitle files."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from actors.subtitles.formats import Cue, parse_srt, to_srt
from taskgate.embedded_redis import EmbeddedRedis
from tests.harness import Client, System
from tests.media import run_ffmpeg
from tests.subtitles.prompts import lay_out, write_wav
from tests.subtitles.scoring import start_errors

PROMPTS = 10  # about 45 s of real speech
CUSTOM = {"max_chars_per_line": 42, "max_lines": 2, "min_duration_s": 1, "max_duration_s": 7, "max_cps": 20}


@pytest.fixture(scope="module")
def share(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("subtitles-share")


@pytest.fixture(scope="module")
def running(redis_server: EmbeddedRedis, share: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """One gateway and one worker for the module's tests."""
    system = System(redis_server.url, share, tmp_path_factory.mktemp("subtitles-logs"))
    try:
        system.start_worker(threads=2)
        system.start_gateway()
        yield system
    finally:
        system.stop()


@pytest.fixture
async def client(running: System) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, running.base_url)


async def test_real_speech_gets_cues_that_start_with_each_utterance_and_a_qc_report(
    client: Client, share: Path
) -> None:
    audio, utterances = lay_out(PROMPTS, seed=3)
    write_wav(share / "prompts.wav", audio)
    stages = [
        ("ffmpeg.extract_audio", {"video_path": "prompts.wav"}),
        (
            "faster_whisper.transcribe_audio",
            {"audio_path": "${{ stages.ffmpeg.extract_audio.output.audio_path }}", "language": "en"},
        ),
        (
            "subtitles.generate_files",
            {"segments_file": "${{ stages.faster_whisper.transcribe_audio.output.segments_file }}"},
        ),
    ]
    for name, data in stages:
        await client.submit(name, data, task_id="prompts")
    record = await client.wait("prompts", timeout_s=240)

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["subtitles.generate_files"]["output"]
    cues = parse_srt((share / out["srt_path"]).read_text())
    errors = start_errors(cues, utterances)
    # tiny.en may drop a one-word prompt; the others start within a quarter second of the speech (most within 50 ms)
    assert sum(e <= 0.25 for e in errors) >= 0.8 * len(errors), errors
    assert sorted(errors)[len(errors) // 2] <= 0.08, errors
    qc = json.loads((share / out["qc_path"]).read_text())
    assert out["qc_path"].endswith("subtitles.generate_files/subtitles.qc.json")
    assert qc["profile"] == out["profile"] == "netflix"
    assert qc["cue_count"] == len(cues) == out["cues_count"]
    assert out["compliant_share"] == qc["compliant_share"] >= 0.9

    # the same file checked on its own, against the slower children's profile
    await client.submit("subtitles.check_file", {"subtitle_path": out["srt_path"], "profile": "children"}, task_id="qc")
    checked = await client.wait("qc", timeout_s=60)
    assert checked["status"] == "SUCCESS", checked
    result = checked["stages"]["subtitles.check_file"]["output"]
    assert (result["profile"], result["cue_count"]) == ("children", len(cues))
    assert result["compliant_share"] <= out["compliant_share"]
    # a custom profile: every number given
    await client.submit("subtitles.check_file", {"subtitle_path": out["srt_path"], "profile": CUSTOM}, task_id="qc2")
    custom = await client.wait("qc2", timeout_s=60)
    assert custom["status"] == "SUCCESS", custom
    assert custom["stages"]["subtitles.check_file"]["output"]["profile"] == "custom"
    report = json.loads((share / result["qc_path"]).read_text())
    assert report["rules"] == result["rules"]
    assert [c["index"] for c in report["cues"]] == list(range(1, len(cues) + 1))


async def test_check_file_reports_each_broken_rule_of_an_edited_file(client: Client, share: Path) -> None:
    edited = [
        Cue(start_s=1.0, end_s=1.4, text="Short."),
        Cue(start_s=1.42, end_s=4.0, text="A line that runs well past forty-two characters"),
        Cue(start_s=5.0, end_s=7.0, text="Fine."),
    ]
    (share / "edited.srt").write_text(to_srt(edited))
    await client.submit("subtitles.check_file", {"subtitle_path": "edited.srt", "fps": 24}, task_id="edited")
    record = await client.wait("edited", timeout_s=60)

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["subtitles.check_file"]["output"]
    assert (out["cue_count"], out["compliant_cues"]) == (3, 1)
    report = json.loads((share / out["qc_path"]).read_text())
    assert [c["broken"] for c in report["cues"]] == [["min_duration_s", "min_gap_frames"], ["max_chars_per_line"], []]
    assert report["fps"] == 24

    # the frame rate of the video the subtitles belong to sets the 2-frame gap: at 10 fps it is 0.2 s
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "1", "-pix_fmt", "yuv420p", str(share / "v.mp4")
    )
    await client.submit("subtitles.check_file", {"subtitle_path": "edited.srt", "video_path": "v.mp4"}, task_id="fps")
    by_video = await client.wait("fps", timeout_s=60)
    assert by_video["status"] == "SUCCESS", by_video
    report = json.loads((share / by_video["stages"]["subtitles.check_file"]["output"]["qc_path"]).read_text())
    assert report["fps"] == 10


async def test_a_subtitle_file_that_does_not_parse_fails_the_stage_naming_the_line(client: Client, share: Path) -> None:
    (share / "broken.vtt").write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi.\n\nno timing here\nBad.\n")
    await client.submit("subtitles.check_file", {"subtitle_path": "broken.vtt"}, task_id="broken")
    record = await client.wait("broken", timeout_s=60)

    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "InputFileError"
    assert "line 6" in record["error"]["message"]
    assert not list((share / "workflows" / "broken").rglob("*.qc.json"))


@pytest.mark.parametrize(
    ("profile", "fragment"),
    [
        ("youtube", "matching regex '^(netflix|bbc|children)"),
        ({**CUSTOM, "min_duration_s": 8}, "<= 3.0 - at `$.input_data.profile.min_duration_s`"),
        ({**CUSTOM, "max_duration_s": 2}, ">= 3.0 - at `$.input_data.profile.max_duration_s`"),
        ({**CUSTOM, "max_lines": 6}, "<= 4 - at `$.input_data.profile.max_lines`"),
        ({"max_cps": 20}, "missing required field `max_chars_per_line`"),
    ],
)
async def test_a_bad_profile_is_refused_at_submission(client: Client, profile: str | dict, fragment: str) -> None:
    for task_name, extra in (
        ("subtitles.generate_files", {"segments_file": "x.json"}),
        ("subtitles.check_file", {"subtitle_path": "x.srt"}),
    ):
        status, body, headers = await client.request(
            "POST", "/v1/tasks", json={"task_name": task_name, "input_data": {**extra, "profile": profile}}
        )
        assert status == 422, body
        assert headers["Content-Type"].startswith("application/problem+json")
        assert fragment in json.dumps(body), body


async def test_an_empty_transcript_gives_valid_empty_files_and_a_report_that_says_so(
    client: Client, share: Path
) -> None:
    (share / "silence.json").write_text(json.dumps({"language": "en", "segments": []}))
    await client.submit(
        "subtitles.generate_files", {"segments_file": "silence.json", "formats": ["srt", "vtt", "ass"]}, task_id="empty"
    )
    record = await client.wait("empty", timeout_s=60)

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["subtitles.generate_files"]["output"]
    assert out["cues_count"] == 0
    assert (share / out["srt_path"]).read_text() == ""
    assert (share / out["vtt_path"]).read_text().startswith("WEBVTT")
    assert "[Events]" in (share / out["ass_path"]).read_text()
    qc = json.loads((share / out["qc_path"]).read_text())
    assert qc["cue_count"] == 0
    assert "no cues" in qc["note"]
    assert not list((share / "workflows" / "empty").rglob("*.partial"))
    shutil.rmtree(share / "workflows" / "empty")
