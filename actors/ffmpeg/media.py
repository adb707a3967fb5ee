"""ffmpeg and PyAV: find the binary, probe media, build hardware-decoding arguments."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from actors.errors import InputFileError
from config.engines import FfmpegSettings


def ffmpeg_binary(settings: FfmpegSettings) -> str:
    """Return the ffmpeg to run: the configured one, the one on PATH, else imageio-ffmpeg's."""
    if settings.binary:
        return settings.binary
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg  # noqa: PLC0415

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def av_reason(exc: Exception) -> str:
    """Return what went wrong in a PyAV error, without its errno number or the file's absolute path."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__)


def input_args(settings: FfmpegSettings) -> list[str]:
    """Return the arguments that go before ``-i`` (hardware decoding when configured)."""
    return ["-hwaccel", settings.hwaccel] if settings.hwaccel else []


def probe(path: Path, shown_as: str) -> dict[str, Any]:
    """Describe a media file: duration, container format and streams (PyAV, no ffprobe needed).

    Raises:
        InputFileError: the file is not media that ffmpeg can read.
    """
    import av  # noqa: PLC0415

    try:
        with av.open(str(path)) as container:
            streams = []
            for stream in container.streams:
                codec: Any = stream.codec_context  # PyAV types the video/audio attributes on subclasses only
                entry: dict[str, Any] = {
                    "index": stream.index,
                    "type": stream.type,
                    "codec": codec.name if codec else None,
                    "duration_s": float(stream.duration * stream.time_base)
                    if stream.duration is not None and stream.time_base is not None
                    else None,
                }
                if stream.type == "video":
                    entry.update(
                        width=codec.width,
                        height=codec.height,
                        fps=float(stream.average_rate) if stream.average_rate else None,
                    )
                elif stream.type == "audio":
                    entry.update(sample_rate=codec.sample_rate, channels=codec.channels)
                streams.append(entry)
            duration = container.duration / 1_000_000 if container.duration is not None else None
            if duration is None:
                duration = max((s["duration_s"] or 0.0 for s in streams), default=0.0)
            return {"duration_s": round(duration, 3), "format": container.format.name, "streams": streams}
    except av.error.FFmpegError as exc:
        raise InputFileError(f"{shown_as!r} is not a media file ffmpeg can read: {av_reason(exc)}") from None


def probe_audio(path: Path, shown_as: str) -> dict[str, Any]:
    """Probe a media file that must carry sound; return what ``probe`` returns.

    Raises:
        InputFileError: it is not media ffmpeg can read, or it has no audio stream.
    """
    info = probe(path, shown_as)
    if not any(s["type"] == "audio" for s in info["streams"]):
        raise InputFileError(f"{shown_as!r} has no audio stream")
    return info
