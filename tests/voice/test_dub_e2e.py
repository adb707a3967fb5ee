"""tts.synthesize_subtitles and ffmpeg.mux_audio on real Piper speech and real ffmpeg."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness import Client, System
from tests.voice.signal import energy

DUB = "tts.synthesize_subtitles"

FIT_SRT = """1
00:00:00,500 --> 00:00:01,500
This sentence is far too long to be spoken in one short second of time.

2
00:00:03,500 --> 00:00:04,500
Another sentence that is much too long for the single second it is given.

3
00:00:05,000 --> 00:00:06,500
Next line.
"""


def write(share: Path, rel: str, text: str) -> str:
    target = share / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return rel


async def test_a_long_line_in_a_short_cue_is_sped_up_and_never_overlaps_the_next(
    voice_system: System, voice_client: Client
) -> None:
    srt = write(voice_system.share_dir, "subs/fit.srt", FIT_SRT)
    await voice_client.submit(DUB, {"subtitle_path": srt, "max_speed": 1.5}, task_id="fit")
    record = await voice_client.wait("fit", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][DUB]["output"]
    assert (out["cues_count"], out["cues_fitted"]) == (3, 1)
    manifest = json.loads((voice_system.share_dir / out["manifest_path"]).read_text())
    first, second, last = manifest["cues"]
    # sped up to max_speed, still longer than its cue: it runs into the silence before the next line
    assert first["speed"] == second["speed"] == 1.5
    assert first["spoken_s"] / 1.5 > 1.0
    assert first["cut_s"] == 0
    assert 0 < first["overrun_s"] <= out["max_overrun_s"]
    assert first["audio_end_s"] < second["start_s"]
    # this one would reach past the next line's start: it is cut there
    assert second["cut_s"] > 0
    assert second["audio_end_s"] <= last["start_s"]
    assert (last["speed"], last["overrun_s"], last["cut_s"]) == (1.0, 0, 0)
    assert abs(manifest["duration_s"] - 6.5) < 0.05

    track = voice_system.share_dir / out["audio_path"]
    assert energy(track, 0.0, 0.45) < 0.005
    assert energy(track, 0.5, first["audio_end_s"]) > 0.03
    assert energy(track, first["audio_end_s"] + 0.05, second["start_s"] - 0.02) < 0.005
    assert energy(track, second["start_s"], second["audio_end_s"]) > 0.03
    assert energy(track, last["audio_end_s"] + 0.05, 6.5) < 0.005


async def test_a_subtitle_file_that_does_not_parse_fails_the_stage_naming_the_line(
    voice_system: System, voice_client: Client
) -> None:
    broken = write(
        voice_system.share_dir,
        "subs/broken.srt",
        "1\n00:00:01,000 --> 00:00:02,000\nHello.\n\n2\n00:00:03 -> 4\nBad.\n",
    )
    await voice_client.submit(DUB, {"subtitle_path": broken}, task_id="broken")
    record = await voice_client.wait("broken", timeout_s=60)
    assert record["status"] == "FAILED", record
    assert record["error"]["type"] == "InputFileError"
    assert "line 6" in record["error"]["message"]
    assert not (voice_system.share_dir / "workflows/broken" / DUB / "dub.wav").exists()
