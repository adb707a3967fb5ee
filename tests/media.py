"""Media fixtures generated with the real ffmpeg (imageio-ffmpeg's binary when none is on PATH)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from actors.ffmpeg.media import ffmpeg_binary
from config.engines import FfmpegSettings


def ffmpeg() -> str:
    """Return the ffmpeg binary the project uses."""
    return ffmpeg_binary(FfmpegSettings())


def run_ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly with ``args``, overwriting outputs; fail the test if it fails."""
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_video(
    path: Path,
    seconds: float = 2.0,
    *,
    audio: bool = True,
    size: str = "320x240",
    codec: str = "libx264",
    tone_hz: int = 440,
) -> Path:
    """Write a test-pattern video with a sine tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["-f", "lavfi", "-i", f"testsrc=duration={seconds}:size={size}:rate=25"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz}:duration={seconds}", "-c:a", "aac"]
    run_ffmpeg(*args, "-c:v", codec, "-pix_fmt", "yuv420p", "-shortest", str(path))
    return path


def make_subtitled_video(
    path: Path,
    lines: list[tuple[float, float, str]],
    seconds: float = 6.0,
    *,
    fps: int = 10,
    size: tuple[int, int] = (480, 270),
    codec: str = "libx264",
    font_size: int = 26,
    tone_hz: int = 440,
) -> Path:
    """Write a video whose frames carry subtitle ``lines`` (start_s, end_s, text) over a moving background.

    Frame ``i`` shows at ``i / fps`` and carries every line with ``start_s <= i / fps < end_s``, drawn in
    white with a black outline near the bottom (Pillow's built-in font); a sine tone is the audio.
    """
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    font = ImageFont.load_default(size=font_size)
    args = [
        ffmpeg(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        str(fps),
        "-i",
        "-",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={tone_hz}:duration={seconds}",
        "-c:v",
        codec,
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        str(path),
    ]
    if codec == "mpeg4":
        args[-2:-2] = ["-q:v", "3"]
    frames = round(seconds * fps)
    xs = np.arange(width + 6 * frames)[None, :, None]
    ys = np.arange(height)[:, None, None]
    # A drifting colour gradient (one wide strip, sliced per frame) and a sliding block: frames differ,
    # nothing is bright.
    strip = (90 + 50 * np.sin(xs / 37.0 + ys / 53.0 + np.array([0.0, 2.0, 4.0]))).astype(np.uint8)
    proc = subprocess.Popen(args, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for i in range(frames):
        t = i / fps
        pixels = strip[:, 6 * i : 6 * i + width].copy()
        left = (i * 9) % width
        pixels[height // 5 : height // 2, left : left + width // 6] = (120, 60, 150)
        image = Image.fromarray(pixels)
        draw = ImageDraw.Draw(image)
        shown = [text for start, end, text in lines if start <= t + 1e-6 < end]
        for row, text in enumerate(reversed(shown)):
            box = draw.textbbox((0, 0), text, font=font, stroke_width=2)
            x = (width - (box[2] - box[0])) // 2
            y = height - 22 - (row + 1) * int(font_size * 1.4)
            draw.text((x, y), text, font=font, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
        proc.stdin.write(image.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg could not encode {path}")
    return path
