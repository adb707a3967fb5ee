"""Issue 5 benchmark: paddleocr.extract_subtitles on CPU against OCR on every cropped frame, same run.

A 60 s clip at 25 fps carrying 12 subtitle lines goes through a real gateway and worker twice: once as
shipped (OCR once per distinct subtitle image) and once with ``dedup: false`` (OCR on every crop). The
OCR model is loaded by a warm-up task first, so neither run pays for it. A second clip puts two-row lines
over a panning textured background (grass with highlights, bright clouds at the horizon), where change
detection on every bright pixel used to call OCR on nearly every crop.
Targets: at most 3 OCR calls per subtitle line on both clips; at least 10x less wall time than every-frame OCR.

Run: .venv/bin/python bench/bench_ocr.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.subtitles.formats import parse_srt
from bench.system import run_on_system
from tests.harness import Client, System
from tests.media import make_subtitled_video, make_textured_pair

SECONDS, FPS, LINE_COUNT = 60.0, 25, 12
WORDS = [
    "river",
    "garden",
    "yellow",
    "window",
    "silver",
    "morning",
    "planet",
    "orange",
    "winter",
    "candle",
    "forest",
    "harbor",
]
LINES = [(5.0 * i + 0.8, 5.0 * i + 4.4, f"Line {i + 1} about the {WORDS[i]} today") for i in range(LINE_COUNT)]
MAX_CALLS_PER_LINE, MIN_SPEEDUP = 3, 10.0
TEXTURED_SECONDS = 30.0
TEXTURED_LINES = [
    (start, start + 3.6, text)
    for i in range(6)
    for start in [5.0 * i + 0.8]
    for text in (f"Line {i + 1} over the {WORDS[i]}", f"and its second row, {WORDS[i + 6]}")
]
TEXTURED_CUES = len(TEXTURED_LINES) // 2


async def timed_extract(client: Client, task_id: str, data: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    await client.submit("paddleocr.extract_subtitles", data, task_id=task_id)
    record = await client.wait(task_id, timeout_s=1800)
    wall_s = time.perf_counter() - started
    if record["status"] != "SUCCESS":
        raise SystemExit(f"{task_id} ended {record['status']}: {record['error']}")
    return wall_s, record["stages"]["paddleocr.extract_subtitles"]["output"]


def accuracy(share: Path, output: dict[str, Any]) -> str:
    cues = parse_srt((share / output["srt_path"]).read_text())
    texts_ok = sum(1 for c, (_, _, t) in zip(cues, LINES, strict=False) if c.text == t)
    worst = max(
        (max(abs(c.start_s - s), abs(c.end_s - e)) for c, (s, e, _) in zip(cues, LINES, strict=False)),
        default=float("nan"),
    )
    return f"{len(cues)} cues, {texts_ok}/{LINE_COUNT} texts exact, worst time error {worst:.2f} s"


def make_fixtures(share: Path) -> None:
    make_subtitled_video(share / "warm.mp4", [(0.2, 1.0, "Warm up")], seconds=1.2, fps=FPS, size=(640, 360))
    started = time.perf_counter()
    make_subtitled_video(share / "clip.mp4", LINES, seconds=SECONDS, fps=FPS, size=(640, 360), font_size=30)
    made_s = time.perf_counter() - started
    print(f"fixture: {SECONDS:.0f} s, {FPS} fps, 640x360, {LINE_COUNT} lines (made in {made_s:.1f} s)", flush=True)
    make_textured_pair(share / "textured.mp4", None, TEXTURED_LINES, TEXTURED_SECONDS, fps=FPS, crf=20)
    print(f"fixture: {TEXTURED_SECONDS:.0f} s textured, panning, {TEXTURED_CUES} two-row lines", flush=True)


async def measure_textured(client: Client, share: Path) -> bool:
    """OCR calls per line where the background is textured and moves (what broke on real footage)."""
    wall_s, output = await timed_extract(client, "textured", {"video_path": "textured.mp4"})
    cues = parse_srt((share / output["srt_path"]).read_text())
    crops = round(TEXTURED_SECONDS * 10)
    per_line = output["ocr_calls"] / TEXTURED_CUES
    ok = per_line <= MAX_CALLS_PER_LINE and len(cues) == TEXTURED_CUES
    print(
        f"textured, panning background:   {wall_s:7.2f} s wall, {output['ocr_calls']:4d} OCR calls for {crops} crops "
        f"({output['ocr_calls'] / crops:.3f} of every-crop OCR); {len(cues)}/{TEXTURED_CUES} cues"
    )
    print(f"OCR calls per line (textured): {per_line:.2f} (target <= {MAX_CALLS_PER_LINE}) {'PASS' if ok else 'FAIL'}")
    return ok


async def measure(system: System) -> bool:
    share = system.share_dir
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        await timed_extract(client, "warm-up", {"video_path": "warm.mp4"})
        fast_s, fast = await timed_extract(client, "dedup", {"video_path": "clip.mp4"})
        slow_s, slow = await timed_extract(client, "every-frame", {"video_path": "clip.mp4", "dedup": False})
        textured_ok = await measure_textured(client, share)
    crops = round(SECONDS * 10)
    print(
        f"extract_subtitles (dedup):      {fast_s:7.2f} s wall, {fast['ocr_calls']:4d} OCR calls for {crops} crops; "
        f"{accuracy(share, fast)}"
    )
    print(
        f"baseline (OCR on every crop):   {slow_s:7.2f} s wall, {slow['ocr_calls']:4d} OCR calls; "
        f"{accuracy(share, slow)}"
    )
    calls_per_line = fast["ocr_calls"] / LINE_COUNT
    speedup = slow_s / fast_s
    calls_ok, speed_ok = calls_per_line <= MAX_CALLS_PER_LINE, speedup >= MIN_SPEEDUP
    print(
        f"OCR calls per subtitle line: {calls_per_line:.2f} (target <= {MAX_CALLS_PER_LINE}) "
        f"{'PASS' if calls_ok else 'FAIL'}"
    )
    print(
        f"wall-time ratio every-frame / dedup: {speedup:.1f}x (target >= {MIN_SPEEDUP:.0f}x) "
        f"{'PASS' if speed_ok else 'FAIL'}"
    )
    return calls_ok and speed_ok and textured_ok


def main() -> int:
    return run_on_system(["ffmpeg", "paddleocr"], make_fixtures, lambda system: asyncio.run(measure(system)))


if __name__ == "__main__":
    sys.exit(main())
