"""Issue 14 benchmark: Piper's real-time factor on CPU, and dubbing a 60 s clip with 12 lines.

Figures: the real-time factor of the default voice (the engine adapter called in this process, voice
loaded), and the wall time of ``tts.synthesize_subtitles`` + ``ffmpeg.mux_audio`` submitted together on
one worker, submit to SUCCESS over HTTP, against the pure synthesis of the same 12 lines in this run;
the share of lines fitted without overrun. Target: the dub takes less than the clip lasts.

Run: .venv/bin/python bench/bench_tts.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.subtitles.formats import Cue, to_srt
from actors.tts.engine import VoiceChoice
from actors.tts.piper_engine import PiperEngine
from actors.tts.voices import DEFAULT_PIPER_VOICE, catalogue
from bench.system import running_system
from config.voice import TtsSettings
from tests.harness import Client, System
from tests.media import make_video

CLIP_S = 60.0
LINES = [
    "Welcome back to the show.",
    "Today we talk about how rivers shape the land around them over thousands of years.",
    "It starts with rain.",
    "Water gathers in small streams, and the streams join into larger and faster rivers on their way down.",
    "Then the valley widens.",
    "Sand and gravel settle wherever the current slows, building banks, bars and islands.",
    "Floods move them again.",
    "People have always settled near rivers for water, for food, for trade and for transport.",
    "Cities followed.",
    "Bridges, harbours and mills changed the rivers in turn, sometimes far more than anyone planned.",
    "What comes next is up to us.",
    "Thank you for watching, and see you next week.",
]
# Each line gets a 5 s slot; its cue covers part of it, so long lines must be sped up or run on.
CUE_S = [1.5, 3.0, 1.2, 3.5, 1.5, 3.0, 1.5, 3.0, 1.0, 3.5, 2.0, 2.5]


def pure_synthesis(runs: int) -> tuple[float, float]:
    """Return (best seconds to synthesize the 12 lines, seconds of audio) with the voice loaded."""
    settings = TtsSettings()
    engine = PiperEngine(settings, None)
    voice = next(v for v in catalogue(settings) if v.name == DEFAULT_PIPER_VOICE)
    choice = VoiceChoice(voice=voice)
    engine.synthesize("Warm up.", choice, 1.0, None)
    best, audio_s = float("inf"), 0.0
    for _ in range(runs):
        started = time.perf_counter()
        audio_s = sum(engine.synthesize(line, choice, 1.0, None).duration_s for line in LINES)
        best = min(best, time.perf_counter() - started)
    return best, audio_s


async def dub(system: System, task_id: str) -> tuple[float, dict]:
    """Submit the dub and the mux at once; return (seconds from submit to SUCCESS, dub output)."""
    async with aiohttp.ClientSession() as session:
        client = Client(session, system.base_url)
        started = time.perf_counter()
        await client.submit(
            "tts.synthesize_subtitles",
            {"subtitle_path": "subs.srt", "duration_s": CLIP_S, "max_speed": 1.5},
            task_id=task_id,
        )
        await client.submit(
            "ffmpeg.mux_audio",
            {"video_path": "clip.mp4", "audio_path": "${{ stages.tts.synthesize_subtitles.output.audio_path }}"},
            task_id=task_id,
        )
        record = await client.wait(task_id, timeout_s=300)
        elapsed = time.perf_counter() - started
    assert record["status"] == "SUCCESS", record
    out = dict(record["stages"]["tts.synthesize_subtitles"]["output"])
    out["stage_s"] = {name: stage["duration_s"] for name, stage in record["stages"].items()}
    return elapsed, out


def _fixtures(share: Path) -> None:
    make_video(share / "clip.mp4", CLIP_S, size="160x120")
    cues = [
        Cue(start_s=5.0 * i + 0.5, end_s=5.0 * i + 0.5 + d, text=t)
        for i, (t, d) in enumerate(zip(LINES, CUE_S, strict=True))
    ]
    (share / "subs.srt").write_text(to_srt(cues))


def main() -> int:
    with running_system(["tts", "ffmpeg"], _fixtures) as system:
        before, audio_s = pure_synthesis(runs=2)
        results = [asyncio.run(dub(system, task_id)) for task_id in ("cold", "warm")]
        after, _ = pure_synthesis(runs=1)  # on a shared machine, the best of before and after

    synth_s = min(before, after)
    rtf = synth_s / audio_s
    print(f"voice: {DEFAULT_PIPER_VOICE} (Piper, onnxruntime CPU); {len(LINES)} lines, {audio_s:.1f} s of speech")
    print(
        f"pure synthesis (adapter in-process): {synth_s:.2f} s; real-time factor {rtf:.3f} ({1 / rtf:.1f}x real time)"
    )
    for task_id, (elapsed, out) in zip(("cold", "warm"), results, strict=True):
        share_fitted = out["cues_fitted"] / out["cues_count"]
        print(
            f"dub {task_id}: {elapsed:.2f} s submit->SUCCESS for a {CLIP_S:.0f} s clip (dub + mux), "
            f"{elapsed / synth_s:.2f}x pure synthesis, {elapsed / CLIP_S:.3f} of the clip's length; "
            f"{out['cues_fitted']}/{out['cues_count']} lines fitted without overrun ({share_fitted:.0%}), "
            f"max overrun {out['max_overrun_s']:.2f} s; stages {out['stage_s']}"
        )
    warm = results[1][0]
    passed = warm < CLIP_S
    print(f"warm dub / clip length = {warm / CLIP_S:.3f} (target < 1): {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
