"""Issue 6 benchmark: faster_whisper.transcribe_audio on a 60 s clip with tiny.en on CPU.

Figures: the real-time factor of pure inference (the engine adapters called in this process: decode and
transcribe, model already loaded), and the latency of a cold and a warm task on one worker, submit to
SUCCESS over HTTP. Target: the warm task's latency within 10 % of pure inference measured in this run.

Run: .venv/bin/python bench/bench_whisper.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.faster_whisper.engine import Options, transcribe
from actors.faster_whisper.models import load_model, model_key, resolve_model
from actors.ffmpeg.pcm import decode_mono
from actors.worker.warm import WarmModels
from bench.system import running_system
from config.engines import WhisperSettings
from tests.console.sse import SseReader
from tests.harness import Client, System
from tests.speech.audio import long_speech

CLIP_S = 60.0
TARGET_RATIO = 1.10
STAGE = "faster_whisper.transcribe_audio"


def pure_inference(clip: Path, runs: int) -> list[float]:
    """Return the seconds of each direct adapter call (decode + transcribe) on a loaded model."""
    settings = WhisperSettings()
    source, shown = resolve_model(None, settings, clip.parent, "en")  # tiny.en: the English default
    model, _ = load_model(model_key(source, settings, None), settings, WarmModels())
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        transcribe(model, decode_mono(clip, clip.name), Options(), shown)
        times.append(time.perf_counter() - started)
    return times


async def task_latency(client: Client, task_id: str) -> tuple[float, dict]:
    """Submit one transcription and return (seconds from submit to SUCCESS, stage output)."""
    started = time.perf_counter()
    await client.submit(STAGE, {"audio_path": "long.wav"}, task_id=task_id)
    # Follow the task's events (as the CLI's --wait does) rather than poll: a 50 ms poll costs the gateway and
    # this process CPU that the inference, on every core, would otherwise have.
    async with client.session.get(f"{client.base_url}/v1/tasks/{task_id}/events") as response:
        await SseReader(response).until(lambda frame: frame.event == "end", timeout_s=300)
    elapsed = time.perf_counter() - started
    record = await client.task(task_id)
    assert record["status"] == "SUCCESS", record
    return elapsed, record["stages"][STAGE]["output"]


async def tasks(system: System) -> list[tuple[str, float, dict]]:
    """Run a cold then two warm tasks on one worker process."""
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        results = []
        for task_id in ("cold", "warm-1", "warm-2"):
            elapsed, output = await task_latency(client, task_id)
            results.append((task_id, elapsed, output))
        return results


def main() -> int:
    with running_system(["faster_whisper"]) as system:
        clip = long_speech(system.share_dir / "long.wav", CLIP_S)
        before = pure_inference(clip, runs=2)
        results = asyncio.run(tasks(system))
        after = pure_inference(clip, runs=1)

    pure = min(before + after)
    print(f"clip: {CLIP_S:.0f} s of espeak-ng speech, tiny.en int8 on CPU, word timestamps + VAD, beam 5")
    print(f"pure inference (adapter in-process): {', '.join(f'{t:.2f}' for t in before + after)} s; best {pure:.2f} s")
    print(f"real-time factor: {pure / CLIP_S:.3f} ({CLIP_S / pure:.1f}x faster than real time)")
    for task_id, elapsed, output in results:
        print(
            f"task {task_id:7s}: {elapsed:.2f} s submit->SUCCESS (in-task transcribe {output['transcribe_s']:.2f} s, "
            f"model {output['model_cache']}, platform overhead {elapsed - output['transcribe_s']:.2f} s), "
            f"{elapsed / pure:.2f}x pure inference"
        )
    cold = results[0][1]
    warm = min(elapsed for _, elapsed, _ in results[1:])
    print(f"cold/warm latency: {cold:.2f} s / {warm:.2f} s = {cold / warm:.2f}x")
    ratio = warm / pure
    passed = ratio <= TARGET_RATIO and all(out["model_cache"] == "reused" for _, _, out in results[1:])
    print(f"warm task / pure inference = {ratio:.3f} (target <= {TARGET_RATIO:.2f}): {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
