"""Issue 15 benchmark: inpainting.remove_subtitles on CPU, measured where the clean picture is known.

Each clip is generated twice from the same frames, with and without white, dark-outlined subtitles over a
textured background (grass, clouds) that pans, or stands still. A real gateway and worker remove the text
(a warm-up task loads the OCR model first); the output is compared with the clean clip: PSNR inside the
subtitle band on frames that had text (the subtitled input's own figure is the baseline) and outside the
band; then our own ``paddleocr.extract_subtitles`` reads the output. Throughput is frames per stage second
(area detection, decode, repair and encode included) and of the decode -> repair -> encode loop alone,
against the clip's 25 fps.
Targets: band >= 30 dB, outside >= 38 dB, no subtitles found; the loop at least real time at 640x360.

Run: .venv/bin/python bench/bench_inpaint.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.system import run_on_system
from tests.harness import Client, System
from tests.inpainting.quality import measure, text_frame_indexes
from tests.media import make_textured_pair

FPS = 25
LINES = [
    (0.5, 2.5, "Hello from the first line"),
    (0.5, 2.5, "and its second row below"),
    (3.0, 5.0, "Another pair of words"),
    (3.0, 5.0, "over grass and clouds"),
    (5.5, 7.5, "The last line of the clip"),
]
# name, size, font size, pan per frame, seconds
CLIPS = [
    ("640x360 pan", (640, 360), 28, 3, 8.0),
    ("640x360 still", (640, 360), 28, 0, 8.0),
    ("1280x720 pan", (1280, 720), 48, 5, 8.0),
]
MIN_BAND_DB, MIN_OUTSIDE_DB = 30.0, 38.0


def slug(name: str) -> str:
    return name.replace(" ", "_")


def make_fixtures(share: Path) -> None:
    make_textured_pair(share / "warm.mp4", None, [(0.2, 0.8, "Warm up")], 1.0, fps=FPS, size=(320, 180), font_size=20)
    for name, size, font, pan, seconds in CLIPS:
        started = time.perf_counter()
        make_textured_pair(
            share / f"{slug(name)}.mp4",
            share / f"{slug(name)}_clean.mp4",
            LINES,
            seconds,
            fps=FPS,
            size=size,
            font_size=font,
            pan_px=pan,
        )
        print(
            f"fixture {name}: {seconds:.0f} s at {FPS} fps (made in {time.perf_counter() - started:.1f} s)", flush=True
        )


async def run(client: Client, task_name: str, data: dict[str, Any], task_id: str) -> dict[str, Any]:
    await client.submit(task_name, data, task_id=task_id)
    record = await client.wait(task_id, timeout_s=1800)
    if record["status"] != "SUCCESS":
        raise SystemExit(f"{task_id} ended {record['status']}: {record['error']}")
    return dict(record["stages"][task_name])


def stream_fps(system: System, task_id: str) -> float:
    """Return the frames per second of the decode -> repair -> encode loop alone, from the worker's log."""
    for line in system.logs("worker").splitlines():
        if "subtitles_removed" in line and task_id in line:
            return float(json.loads(line)["fps"])
    return float("nan")


async def measure_clip(client: Client, system: System, clip: tuple[Any, ...]) -> bool:
    name, size, _, _, seconds = clip
    share = system.share_dir
    stage = await run(client, "inpainting.remove_subtitles", {"video_path": f"{slug(name)}.mp4"}, slug(name))
    output = stage["output"]
    frames = round(seconds * FPS)
    quality = measure(
        share / output["video_path"],
        share / f"{slug(name)}_clean.mp4",
        share / f"{slug(name)}.mp4",
        output["subtitle_area"],
        text_frame_indexes(LINES, FPS, frames),
    )
    ocr = await run(client, "paddleocr.extract_subtitles", {"video_path": output["video_path"]}, f"ocr-{slug(name)}")
    found = ocr["output"]["subtitles_count"]
    fps = output["frames_total"] / stage["duration_s"]
    ok = quality.band_text_db >= MIN_BAND_DB and quality.outside_db >= MIN_OUTSIDE_DB and found == 0
    print(
        f"{name:14s} band on text frames {quality.band_text_db:5.2f} dB (input {quality.input_band_text_db:5.2f} dB, "
        f"+{quality.band_text_db - quality.input_band_text_db:4.1f}), "
        f"band on plain frames {quality.band_plain_db:5.2f} dB, outside {quality.outside_db:5.2f} dB; "
        f"{output['frames_inpainted']}/{output['frames_total']} frames repaired, {output['ocr_calls']} detector calls; "
        f"subtitles found after: {found}  {'PASS' if ok else 'FAIL'}"
    )
    loop = stream_fps(system, slug(name))
    print(
        f"{name:14s} throughput {fps:6.1f} frames/s = {fps / FPS:4.2f}x real time ({stage['duration_s']:.2f} s, "
        f"area detection included); the stream loop alone {loop:6.1f} frames/s = {loop / FPS:4.2f}x"
    )
    return ok and (size != (640, 360) or loop >= FPS)


def peak_rss_mib(system: System) -> float:
    """Return the largest peak resident memory among the worker's processes, in MiB."""
    peaks = [0.0]
    for pid in system.worker_pids():
        status = Path(f"/proc/{pid}/status")
        for line in status.read_text().splitlines() if status.exists() else []:
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


async def measure_all(system: System) -> bool:
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await run(client, "inpainting.remove_subtitles", {"video_path": "warm.mp4"}, "warm-up")  # loads the engines
        warm_mib = peak_rss_mib(system)
        results = [await measure_clip(client, system, clip) for clip in CLIPS]
    print(
        f"worker peak memory: {warm_mib:.0f} MiB after the warm-up, {peak_rss_mib(system):.0f} MiB after every clip "
        "(one frame in memory at a time)"
    )
    targets = f"band >= {MIN_BAND_DB:.0f} dB, outside >= {MIN_OUTSIDE_DB:.0f} dB, none found"
    print(f"targets: {targets}, >= 1x real time at 640x360")
    return all(results)


def main() -> int:
    return run_on_system(["paddleocr", "inpainting"], make_fixtures, lambda system: asyncio.run(measure_all(system)))


if __name__ == "__main__":
    sys.exit(main())
