"""The demo's sample video: made here with speech and burnt-in subtitles, no download."""

from __future__ import annotations

from pathlib import Path

from actors.ffmpeg.media import probe
from taskgate.demo_media import SENTENCES, sample_video, voice_name


def test_the_sample_video_carries_speech_and_a_cue_per_sentence(tmp_path: Path) -> None:
    cues = sample_video(tmp_path / "demo.mp4")

    assert voice_name() == "piper"  # the dev extra installs the voice; espeak-ng or a tone are the fallbacks
    assert [text for _, _, text in cues] == list(SENTENCES)
    assert all(start < end for start, end, _ in cues)
    info = probe(tmp_path / "demo.mp4", "demo.mp4")
    assert {s["type"] for s in info["streams"]} == {"video", "audio"}
    assert abs(info["duration_s"] - (cues[-1][1] + 0.5)) < 0.3
    assert not (tmp_path / "demo.wav").exists()
