"""Media fixtures generated with the real ffmpeg (imageio-ffmpeg's binary when none is on PATH)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from actors.ffmpeg.media import ffmpeg_binary
from config.engines import FfmpegSettings

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image


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


def textured_background(size: tuple[int, int], frames: int, pan_px: int = 3, seed: int = 7) -> np.ndarray:
    """Return a wide strip of sky with clouds over grass (RGB) that frame ``i`` views from ``i * pan_px``.

    Clouds are bright, grass carries fine blades with highlights and shadows: what makes change detection
    on "every bright pixel" fail on real footage.
    """
    import cv2
    import numpy as np

    width, height = size
    wide = width + pan_px * frames
    rng = np.random.default_rng(seed)
    horizon = int(height * 0.82)
    rows = np.linspace(0.0, 1.0, horizon)[:, None, None]
    sky = np.array([120.0, 170.0, 235.0]) * (1 - 0.25 * rows) + np.zeros((1, wide, 3))
    clouds = cv2.GaussianBlur(rng.random((horizon, wide)).astype(np.float32), (0, 0), 9)
    clouds = np.clip((clouds - clouds.mean()) / (clouds.std() + 1e-6) - 0.3, 0, 1)[..., None]
    sky = sky * (1 - clouds) + np.array([245.0, 245.0, 250.0]) * clouds
    coarse = rng.random((max(1, (height - horizon) // 4), wide)).astype(np.float32)
    blades = cv2.resize(coarse, (wide, height - horizon))
    fine = cv2.GaussianBlur(rng.random((height - horizon, wide)).astype(np.float32), (0, 0), 0.8)
    grain = (0.6 * blades + 0.4 * fine - 0.5)[..., None] * 2.4
    grass = np.array([70.0, 140.0, 55.0]) + grain * np.array([90.0, 110.0, 60.0])
    strip = np.concatenate([sky, grass], axis=0)
    return np.clip(strip, 0, 255).astype(np.uint8)


def draw_lines(image: Image.Image, lines: list[str], font_size: int) -> None:
    """Draw subtitle rows (last one lowest), white with a dark outline, centred near the bottom."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=font_size)
    stroke = max(2, font_size // 12)
    draw = ImageDraw.Draw(image)
    for row, text in enumerate(reversed(lines)):
        box = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
        x = (image.width - (box[2] - box[0])) // 2
        y = image.height - int(font_size * 0.8) - (row + 1) * int(font_size * 1.4)
        draw.text((x, y), text, font=font, fill=(255, 255, 255), stroke_width=stroke, stroke_fill=(0, 0, 0))


def make_textured_pair(
    path: Path,
    clean_path: Path | None,
    lines: list[tuple[float, float, str]],
    seconds: float = 4.0,
    *,
    fps: int = 25,
    size: tuple[int, int] = (640, 360),
    font_size: int = 28,
    pan_px: int = 3,
    crf: int = 12,
) -> Path:
    """Write a clip with subtitle ``lines`` over a panning textured background, and the same clip without them.

    Both clips get the same frames but for the text, H.264 at ``crf`` with a sine tone (``clean_path`` may be
    None to write the subtitled clip only).
    """
    from PIL import Image

    frames = round(seconds * fps)
    strip = textured_background(size, frames, pan_px)
    writers = [_raw_encoder(p, size, fps, seconds, crf) for p in (path, clean_path) if p is not None]
    for i in range(frames):
        t = i / fps
        pixels = strip[:, pan_px * i : pan_px * i + size[0]]
        if len(writers) > 1:
            writers[1].stdin.write(pixels.tobytes())  # type: ignore[union-attr]
        image = Image.fromarray(pixels)
        draw_lines(image, [text for start, end, text in lines if start <= t + 1e-6 < end], font_size)
        writers[0].stdin.write(image.tobytes())  # type: ignore[union-attr]
    for writer in writers:
        writer.stdin.close()  # type: ignore[union-attr]
        if writer.wait() != 0:
            raise RuntimeError(f"ffmpeg could not encode {path}")
    return path


def _raw_encoder(path: Path, size: tuple[int, int], fps: int, seconds: float, crf: int) -> subprocess.Popen[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    args += ["-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "-"]
    args += ["-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p", "-shortest", str(path)]
    return subprocess.Popen(args, stdin=subprocess.PIPE)


def read_frames(path: Path) -> Iterator[np.ndarray]:
    """Yield a video's frames as RGB arrays (PyAV)."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")
