"""Media fixtures generated with the real ffmpeg (imageio-ffmpeg's binary when none is on PATH)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from actors.engines.media import ffmpeg_binary
from config.settings import FfmpegSettings


def ffmpeg() -> str:
    """Return the ffmpeg binary the project uses."""
    return ffmpeg_binary(FfmpegSettings())


def make_video(path: Path, seconds: float = 2.0, *, audio: bool = True, size: str = "320x240",
               codec: str = "libx264", tone_hz: int = 440) -> Path:
    """Write a test-pattern video with a sine tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size={size}:rate=25"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz}:duration={seconds}", "-c:a", "aac"]
    args += ["-c:v", codec, "-pix_fmt", "yuv420p", "-shortest", str(path)]
    subprocess.run(args, check=True)
    return path
