"""``make gpu-check``: run the GPU engines once on CUDA under the memory-weighted lease and print what each used.

Needs an NVIDIA GPU (``nvidia-smi``); without one it stops at once with exit status 2 and says so. It never
runs in the tests. It starts its own system (Redis, a worker with three threads, a gateway) whose lock has
one memory-weighted device per GPU (memory read from ``nvidia-smi``, less a 1024 MiB reserve), with the
engines on ``cuda`` and ``gpu_lock.measure_memory: auto``; then

1. runs each engine once, alone, with a small model (faster-whisper tiny.en, Piper, the OCR engine,
   pyannote), and prints each stage's ``gpu`` record: device, MiB granted, MiB measured;
2. runs two engines at once (faster-whisper and TTS) on one device and shows that their leases overlapped.

Run: ``make gpu-check`` (or ``.venv/bin/python -m bench.gpu_check``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from bench.system import running_system
from tests.harness import Client

RESERVE_MB = 1024
ENGINES_ON_CUDA = {
    "TASKGATE_FASTER_WHISPER__DEVICE": "cuda",
    "TASKGATE_TTS__DEVICE": "cuda",
    "TASKGATE_OCR__DEVICE": "cuda",
    "TASKGATE_PYANNOTE__DEVICE": "cuda",
    "TASKGATE_GPU_LOCK__MEASURE_MEMORY": "auto",
    "TASKGATE_GPU_LOCK__RESERVE_MB": str(RESERVE_MB),
}
QUEUES = ["faster_whisper", "tts", "paddleocr", "pyannote_audio", "system"]


def stop(message: str, status: int = 2) -> None:
    """Print why the check cannot run and exit with ``status``."""
    print(f"gpu-check: {message}", file=sys.stderr)
    sys.exit(status)


def gpus() -> list[dict[str, int]]:
    """Return each GPU's index and total memory (MiB) from nvidia-smi; exit 2 with a message when there is none."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        stop("no NVIDIA GPU here (nvidia-smi is not on PATH); run it on a machine with one")
    out = subprocess.run(
        [smi, "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=False,
    )
    rows = [line.split(",") for line in out.stdout.strip().splitlines() if line.strip()]
    if out.returncode != 0 or not rows:
        stop(f"nvidia-smi lists no GPU ({out.stderr.strip() or 'no output'})")
    return [{"index": int(i), "memory_mb": int(float(mb))} for i, mb in rows]


def prepare(share: Path) -> None:
    """Write the inputs: a spoken sentence (espeak-ng) and a folder of text images."""
    from PIL import Image, ImageDraw

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        stop("espeak-ng is needed for the speech input (apt-get install espeak-ng)")
    subprocess.run([espeak, "-w", str(share / "speech.wav"), "The GPU check speaks one short sentence."], check=True)
    frames = share / "frames"
    frames.mkdir()
    for i in range(3):
        image = Image.new("RGB", (640, 120), "black")
        ImageDraw.Draw(image).text((20, 40), f"GPU check line {i}", fill="white")
        image.save(frames / f"{i:06d}.png")


JOBS: dict[str, tuple[str, dict[str, Any]]] = {
    "whisper": ("faster_whisper.transcribe_audio", {"audio_path": "speech.wav"}),
    "tts": ("tts.synthesize", {"text": "The GPU check speaks one short sentence."}),
    "ocr": ("paddleocr.perform_ocr", {"cropped_images_dir": "frames", "fps": 1}),
    "diarize": ("pyannote_audio.diarize_speakers", {"audio_path": "speech.wav"}),
}


def _gpu_line(name: str, stage: dict[str, Any]) -> str:
    gpu = stage.get("gpu") or {}
    if stage["status"] != "SUCCESS":
        return f"  {name:8} {stage['status']}: {(stage.get('error') or {}).get('message', '')[:200]}"
    return (
        f"  {name:8} device={gpu.get('device')} granted={gpu.get('memory_mb')} MiB "
        f"declared={gpu.get('declared_mb')} MiB measured={gpu.get('measured_mb')} MiB ({gpu.get('measured_by')})"
        f"{'  OVER what it declared' if gpu.get('over_declared') else ''}"
    )


async def check(client: Client) -> bool:
    """Run the engines alone, then two at once; print the records; return whether all succeeded."""
    ok = True
    print("each engine alone:")
    for name, (task, data) in JOBS.items():
        await client.submit(task, data, task_id=f"check-{name}")
        stage = (await client.wait(f"check-{name}", timeout_s=600))["stages"][task]
        ok &= stage["status"] == "SUCCESS"
        print(_gpu_line(name, stage))
    print("two engines at once on one device:")
    pair = ("whisper", "tts")
    for name in pair:
        task, data = JOBS[name]
        await client.submit(task, data, task_id=f"pair-{name}")
    stages = [(await client.wait(f"pair-{n}", timeout_s=600))["stages"][JOBS[n][0]] for n in pair]
    for name, stage in zip(pair, stages, strict=True):
        ok &= stage["status"] == "SUCCESS"
        print(_gpu_line(name, stage))
    a, b = (s.get("gpu") or {} for s in stages)
    if a and b:
        overlapped = a["acquired_at"] < b["released_at"] and b["acquired_at"] < a["released_at"]
        print(f"  leases overlapped: {overlapped} (device {a.get('device')} and {b.get('device')})")
    return ok


async def main_async(devices: list[dict[str, int]]) -> bool:
    env = {**ENGINES_ON_CUDA, "TASKGATE_GPU_LOCK__DEVICES": json.dumps(devices)}
    with running_system(QUEUES, prepare, threads=3, env=env) as system:
        async with aiohttp.ClientSession() as session:
            return await check(Client(session, system.base_url))


def main() -> int:
    """Run the check; exit 0 when every engine ran on the GPU, 1 when one failed, 2 without a GPU."""
    devices = gpus()
    print("GPUs:", ", ".join(f"{d['index']}: {d['memory_mb']} MiB" for d in devices), f"(reserve {RESERVE_MB} MiB)")
    return 0 if asyncio.run(main_async(devices)) else 1


if __name__ == "__main__":
    sys.exit(main())
