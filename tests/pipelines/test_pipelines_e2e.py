"""The built-in pipelines end to end: one request each, on real speech and real burnt-in text."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import av
import numpy as np
import pytest
import redis.asyncio as aioredis

from actors.subtitles.formats import parse_srt
from taskgate.embedded_redis import EmbeddedRedis
from tests.delivery.conftest import FAST_WEBHOOKS, webhooks_idle
from tests.delivery.receiver import Receiver
from tests.delivery.test_cli import taskgate
from tests.harness import Client, System, async_wait_until
from tests.media import make_textured_pair, run_ffmpeg
from tests.media_tasks.shared_system import shared_system
from tests.speech.audio import MEETING

QUEUES = ["system", "ffmpeg", "faster_whisper", "subtitles", "llm", "tts", "paddleocr", "inpainting", "webhooks"]


@pytest.fixture(scope="module")
def system(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """One gateway and one worker on every queue the pipelines use, with a talk video and a subtitled clip."""
    with shared_system(redis_server.url, tmp_path_factory.mktemp("pipelines"), QUEUES, FAST_WEBHOOKS) as system:
        talk = system.share_dir / "videos" / "talk.mp4"
        talk.parent.mkdir(parents=True)
        run_ffmpeg(
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-i", str(MEETING), "-t", "8.2",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(talk),
        )  # fmt: skip
        lines = [(0.3, 1.3, "Hello from the first line"), (1.6, 2.6, "A second line of text")]
        make_textured_pair(
            system.share_dir / "videos/burnt.mp4", system.share_dir / "videos/clean.mp4", lines, 3.0,
            fps=25, size=(480, 270), font_size=24, pan_px=3,
        )  # fmt: skip
        yield system


@pytest.fixture
async def client(system: System) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, system.base_url)


async def run(client: Client, task_name: str, data: dict[str, object], task_id: str, **extra: object) -> dict:
    await client.submit(task_name, data, task_id=task_id, **extra)
    record = await client.wait(task_id, timeout_s=300)
    assert record["status"] == "SUCCESS", json.dumps(record, indent=1)[:4000]
    assert record["task_name"] == task_name
    return record


def read_srt(system: System, path: str) -> list:
    return parse_srt((system.share_dir / path).read_text("utf-8"))


async def test_subtitle_video_writes_checked_subtitles_and_calls_back_once(system: System, client: Client) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        record = await run(
            client, "pipeline.subtitle_video", {"video_path": "videos/talk.mp4", "language": "en"}, "subs",
            callback=receiver.url("subs"),
        )  # fmt: skip
        stages = record["stages"]
        assert set(stages) == {
            "ffmpeg.extract_audio",
            "faster_whisper.transcribe_audio",
            "subtitles.generate_files",
            "pipeline.subtitle_video",
        }  # fmt: skip  (no diarization unless asked)
        out = stages["pipeline.subtitle_video"]["output"]
        assert out["language"] == "en"
        cues = read_srt(system, out["subtitle_paths"]["en"])
        assert "meeting" in " ".join(c.text for c in cues).lower()
        qc = json.loads((system.share_dir / out["qc_path"]).read_text())
        assert qc["compliant_share"] == 1.0, qc
        assert stages["pipeline.subtitle_video"]["progress"] == 1.0

        async def delivered() -> list | None:
            return receiver.events_for("subs") or None

        await async_wait_until(delivered, 30, 0.05, "the pipeline's webhook")
        await client.wait("subs")  # anything else queued would have been delivered by now too
        events = receiver.events_for("subs")
        assert len(events) == 1, [e["body"] for e in events]
        assert events[0]["body"]["task_name"] == "pipeline.subtitle_video"
    finally:
        await receiver.stop()


async def test_translate_video_gives_the_source_and_each_target_language(system: System, client: Client) -> None:
    data = {"video_path": "videos/talk.mp4", "source_language": "en", "target_languages": ["pt"], "engine": "marian"}
    record = await run(client, "pipeline.translate_video", data, "translate")
    out = record["stages"]["pipeline.translate_video"]["output"]
    assert set(out["subtitle_paths"]) == {"en", "pt"}
    source, target = read_srt(system, out["subtitle_paths"]["en"]), read_srt(system, out["subtitle_paths"]["pt"])
    assert len(source) == len(target) > 0
    assert [c.start_s for c in source] == [c.start_s for c in target]
    assert " ".join(c.text for c in source) != " ".join(c.text for c in target)


async def test_dub_video_gives_a_video_with_the_dub_track_that_plays(system: System, client: Client) -> None:
    data = {
        "video_path": "videos/talk.mp4", "source_language": "en", "target_language": "pt", "engine": "marian",
        "voice": "en_US-joe-medium",  # the one voice installed here reads the Portuguese lines
    }  # fmt: skip
    record = await run(client, "pipeline.dub_video", data, "dub")
    stages = record["stages"]
    assert "pyannote_audio.diarize_speakers" not in stages  # one voice: no diarization
    assert "ffmpeg.burn_subtitles" not in stages
    out = stages["pipeline.dub_video"]["output"]
    assert out["video_path"] == stages["ffmpeg.add_subtitle_tracks"]["output"]["video_path"]
    assert set(out["subtitle_paths"]) == {"en", "pt"}
    assert (system.share_dir / out["manifest_path"]).is_file()
    with av.open(str(system.share_dir / out["video_path"])) as container:
        assert [s.metadata.get("language") for s in container.streams.subtitles] == ["por"]
        audio = container.streams.audio[0]
        assert audio.metadata.get("language") == "por"
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio)])
    assert samples.size > 0
    assert float(np.abs(samples).max()) > 0.01


async def test_clean_video_reads_the_burnt_text_then_removes_it(system: System, client: Client) -> None:
    record = await run(client, "pipeline.clean_video", {"video_path": "videos/burnt.mp4"}, "clean")
    out = record["stages"]["pipeline.clean_video"]["output"]
    read = " ".join(c.text for c in read_srt(system, out["subtitle_paths"]["srt"])).upper().replace(" ", "")
    assert "FIRSTLINE" in read, read
    assert "SECONDLINE" in read, read
    check = await run(client, "paddleocr.extract_subtitles", {"video_path": out["video_path"]}, "clean-ocr")
    assert check["stages"]["paddleocr.extract_subtitles"]["output"]["subtitles_count"] == 0


async def test_cancelling_a_pipeline_cancels_its_stages(system: System, client: Client) -> None:
    data = {"video_path": "videos/talk.mp4", "target_languages": ["pt"], "engine": "marian"}
    await client.submit("pipeline.translate_video", data, task_id="cancelled")
    status, body, _ = await client.request("DELETE", "/v1/tasks/cancelled")
    assert status in (200, 202), body

    async def all_ended() -> dict | None:
        record = await client.task("cancelled")
        ended = all(s["status"] in ("SUCCESS", "FAILED", "CANCELLED") for s in record["stages"].values())
        return record if ended else None

    record = await async_wait_until(all_ended, 60, 0.05, "every stage ended")
    assert record["status"] == "CANCELLED"
    assert record["stages"]["llm.translate_subtitles"]["status"] == "CANCELLED"


AUDIO_FACTS = """\
name: audio_facts
description: The audio of a video, and what ffprobe says of it.
inputs:
  video_path: {type: path, required: true}
  sample_rate: {type: integer, default: 8000}
stages:
  - task: ffmpeg.extract_audio
    input: {video_path: "${{ inputs.video_path }}", sample_rate: "${{ inputs.sample_rate }}"}
  - task: ffmpeg.probe
    input: {media_path: "${{ stages.ffmpeg.extract_audio.output.audio_path }}"}
output:
  audio_path: "${{ stages.ffmpeg.extract_audio.output.audio_path }}"
  duration_s: "${{ stages.ffmpeg.probe.output.duration_s }}"
"""


async def test_a_definition_file_is_kept_and_run_by_the_cli_and_listed(
    system: System, client: Client, tmp_path: Path
) -> None:
    (tmp_path / "facts.yaml").write_text(AUDIO_FACTS)
    args = ["submit", "--file", str(tmp_path / "facts.yaml"), "video_path=videos/talk.mp4", "--task-id", "facts"]
    done = await asyncio.to_thread(taskgate, system, *args, "--wait")
    assert done.returncode == 0, done.stderr
    record = await client.task("facts")
    assert record["task_name"] == "pipeline.audio_facts"
    out = record["stages"]["pipeline.audio_facts"]["output"]
    assert abs(out["duration_s"] - 8.2) < 0.1
    assert record["stages"]["ffmpeg.extract_audio"]["input_data"]["sample_rate"] == 8000  # the input's default
    status, listed, _ = await client.request("GET", "/v1/pipelines")
    assert status == 200
    assert "pipeline.audio_facts" in {p["task_name"] for p in listed["pipelines"]}
    status, audit, _ = await client.request("GET", "/v1/audit?action=pipeline.put")
    assert status == 200, audit
    assert any(e["action"] == "pipeline.put" for e in audit["entries"]), audit


async def test_a_batch_of_a_pipeline_expands_each_item_and_calls_back_once_when_both_ended(
    system: System, client: Client, redis_server: EmbeddedRedis
) -> None:
    receiver = Receiver()
    await receiver.start()
    redis = aioredis.Redis.from_url(redis_server.url)
    try:
        talk = {"video_path": "videos/talk.mp4"}
        bad = {
            "task_name": "pipeline.subtitle_video",
            "batch_id": "subs-bad",
            "items": [talk, {**talk, "profile": "nope"}],
        }
        status, refused, _ = await client.request("POST", "/v1/batches", json=bad)
        assert status == 422, refused
        assert "item 1" in refused["detail"], refused
        assert "subtitles.generate_files" in refused["detail"], refused
        status, _, _ = await client.request("GET", "/v1/batches/subs-bad")
        assert status == 404  # refused whole: nothing created
        status, _, _ = await client.request("GET", "/v1/tasks/subs-bad-0")
        assert status == 404

        items = [
            {"video_path": "videos/talk.mp4", "language": "en"},
            {"video_path": "videos/talk.mp4", "formats": ["vtt"]},
        ]
        body = {
            "task_name": "pipeline.subtitle_video",
            "items": items,
            "batch_id": "subs",
            "callback": receiver.url("b"),
        }
        status, created, _ = await client.request("POST", "/v1/batches", json=body)
        assert status == 201, created

        async def completed() -> dict | None:
            _, batch, _ = await client.request("GET", "/v1/batches/subs")
            return batch if batch["status"] == "COMPLETED" else None

        done = await async_wait_until(completed, 300, 0.2, "the pipeline batch completed")
        assert done["counts"]["SUCCESS"] == 2, done
        for index in range(2):
            record = await client.task(f"subs-{index}")
            assert record["task_name"] == "pipeline.subtitle_video"
            assert {s["status"] for s in record["stages"].values()} == {"SUCCESS"}, record
            out = record["stages"]["pipeline.subtitle_video"]["output"]
            assert read_srt(system, next(iter(out["subtitle_paths"].values())))

        def batch_events() -> list:
            return [e for e in receiver.events if e["body"].get("batch_id") == "subs"]

        async def called_back() -> list | None:
            return batch_events() or None

        await async_wait_until(called_back, 30, 0.05, "the batch's callback")
        await async_wait_until(lambda: webhooks_idle(redis), 30, 0.05, "webhooks sent")
        assert len(receiver.events) == 1, [e["body"] for e in receiver.events]  # none for the items' stages
        [event] = batch_events()
        assert event["body"]["type"] == "batch.completed"
        assert event["body"]["counts"]["SUCCESS"] == 2
    finally:
        await redis.aclose()
        await receiver.stop()
