"""A worker killed in the middle of a long transcription: the re-run resumes after the last finished chunk."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.harness import Client, System, wait_until
from tests.monitor.helpers import fast_env
from tests.subtitles.prompts import lay_out, write_wav

STAGE = "faster_whisper.transcribe_audio"


async def test_a_killed_transcription_resumes_from_its_last_finished_chunk(
    make_system: Callable[..., System], share_dir: Path
) -> None:
    audio, utterances = lay_out(20, seed=11)  # about 90 s: three chunks of about 30 s
    write_wav(share_dir / "long.wav", audio)
    env = fast_env(
        broker_heartbeat_timeout_s=1, broker_maintenance_chance=1_000_000, gpu_lock_monitor__task_timeout_levels="{}"
    )
    system = make_system(env)
    system.start_worker()
    system.start_gateway()
    chunks = share_dir / "workflows" / "resume" / STAGE / "chunks"
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await client.submit(
            STAGE, {"audio_path": "long.wav", "chunk_s": 30, "beam_size": 1, "language": "en"}, task_id="resume"
        )
        wait_until((chunks / "00001.json").is_file, timeout_s=180, interval_s=0.05, what="two chunks done")
        kept = {p.name: p.stat().st_mtime_ns for p in chunks.glob("0000[01].json")}
        for pid in system.worker_pids():
            os.kill(pid, signal.SIGKILL)
        record = await client.wait("resume", timeout_s=240)

    assert record["status"] == "SUCCESS", record
    stage = record["stages"][STAGE]
    assert stage["attempts"] == 2
    out = stage["output"]
    assert out["chunks"] == 3
    assert out["chunks_resumed"] >= 2
    # the finished chunks were read back, not transcribed again
    assert {name: (chunks / name).stat().st_mtime_ns for name in kept} == kept
    assert "transcription_resumed" in system.logs("worker")
    segments = (share_dir / out["segments_file"]).read_text()
    assert abs(out["audio_duration_s"] - len(audio) / 16000) < 0.05
    # words from the first and the last chunk are both in the result
    first, last = utterances[0].text.split()[-1].strip(".,").lower(), utterances[-1].text.split()[0].lower()
    assert first in segments.lower()
    assert last in segments.lower()
