"""Video frames with ffmpeg: keyframe times, keyframe and crop commands, the crop manifest."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
import structlog

from actors.errors import EngineFailed, InputError, InputFileError
from actors.ffmpeg.media import ffmpeg_binary, input_args, probe
from config.engines import FfmpegSettings

if TYPE_CHECKING:
    from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
# [x1, y1, x2, y2] in pixels of the video frame, x2 and y2 exclusive.
Area = tuple[NonNegInt, NonNegInt, NonNegInt, NonNegInt]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
MANIFEST_NAME = "manifest.json"
_SEEKS_PER_COMMAND = 20


class VideoInfo(msgspec.Struct, kw_only=True, frozen=True):
    """What the frame tasks need to know about a video."""

    width: int
    height: int
    duration_s: float
    fps: float


class ManifestFrame(msgspec.Struct, kw_only=True):
    """One cropped image: its file name (in the manifest's folder) and the time it shows."""

    file: str
    time_s: float


class CropManifest(msgspec.Struct, kw_only=True):
    """The crops of one video: where they came from and the time of each (``manifest.json``)."""

    video_path: str
    subtitle_area: list[int]
    fps: float
    frames: list[ManifestFrame]
    temporary: bool = True


def video_info(path: Path, shown_as: str) -> VideoInfo:
    """Return the size, duration and frame rate of a video's first video stream.

    Raises:
        InputFileError: the file is not media, has no video stream or no frames.
    """
    info = probe(path, shown_as)
    video = next((s for s in info["streams"] if s["type"] == "video"), None)
    if video is None or not video.get("width"):
        raise InputFileError(f"{shown_as!r} has no video frames (zero-length, or no video stream)")
    duration = float(video.get("duration_s") or info["duration_s"] or 0.0)
    if duration <= 0:
        raise InputFileError(f"{shown_as!r} is a zero-length video")
    return VideoInfo(
        width=int(video["width"]), height=int(video["height"]), duration_s=duration, fps=float(video.get("fps") or 25.0)
    )


def keyframe_times(info: VideoInfo, count: int | None, interval_s: float | None) -> list[float]:
    """Return when to grab keyframes: every ``interval_s``, else ``count`` evenly spread (mid-slot)."""
    last = max(0.0, info.duration_s - 1.0 / info.fps)  # a seek past the last frame yields nothing
    if interval_s:
        steps = math.floor(last / interval_s + 1e-9) + 1
        times = [k * interval_s for k in range(steps)]
    else:
        n = count or 1
        times = [info.duration_s * (i + 0.5) / n for i in range(n)]
    return [round(min(t, last), 3) for t in times]


def ffmpeg_head(settings: FfmpegSettings) -> list[str]:
    """Return the ffmpeg binary with the global options every frame command uses."""
    return [ffmpeg_binary(settings), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def keyframe_command(
    settings: FfmpegSettings, source: Path, times: Sequence[float], out_dir: Path, first: int = 0
) -> list[str]:
    """Return one ffmpeg command writing ``keyframe_NNNN.png`` (numbered from ``first``) at each time.

    Each time is its own input with a frame-accurate seek (and its own hardware decoder).
    """
    inputs: list[str] = []
    outputs: list[str] = []
    for offset, t in enumerate(times):
        inputs += [*input_args(settings), "-ss", f"{t:.3f}", "-i", str(source)]
        outputs += ["-map", f"{offset}:v:0", "-frames:v", "1", str(out_dir / keyframe_name(first + offset))]
    return [*ffmpeg_head(settings), *inputs, *outputs]


def keyframe_name(index: int) -> str:
    """Return the file name of keyframe ``index``."""
    return f"keyframe_{index:04d}.png"


def check_area(area: Sequence[int], info: VideoInfo, shown_as: str) -> None:
    """Check that a subtitle area lies inside the frame and is not empty.

    Raises:
        InputError: it is empty or leaves the frame; the message gives the frame size.
    """
    x1, y1, x2, y2 = area
    if x2 <= x1 or y2 <= y1:
        raise InputError(f"subtitle_area {list(area)} is empty: it must be [x1, y1, x2, y2] with x1 < x2, y1 < y2")
    if x2 > info.width or y2 > info.height:
        raise InputError(f"subtitle_area {list(area)} is outside the {info.width}x{info.height} frame of {shown_as!r}")


def crop_command(settings: FfmpegSettings, source: Path, area: Sequence[int], fps: float, out_dir: Path) -> list[str]:
    """Return the ffmpeg command that writes ``crop_NNNNNN.png`` at ``fps`` (frame ``i`` shows at ``i / fps``)."""
    x1, y1, x2, y2 = area
    return [
        *ffmpeg_head(settings),
        *input_args(settings),
        "-i",
        str(source),
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-vf",
        f"fps={fps},crop={x2 - x1}:{y2 - y1}:{x1}:{y1}",
        "-fps_mode",
        "passthrough",
        "-compression_level",
        "1",  # fast zlib: six times quicker than the default for the same pixels
        "-start_number",
        "0",
        str(out_dir / "crop_%06d.png"),
    ]


def write_manifest(folder: Path, manifest: CropManifest) -> Path:
    """Write ``manifest.json`` into ``folder`` and return its path."""
    path = folder / MANIFEST_NAME
    path.write_bytes(msgspec.json.encode(manifest))
    return path


def read_manifest(path: Path, shown_as: str) -> CropManifest:
    """Read a crop manifest.

    Raises:
        InputFileError: it is not a manifest written by ``ffmpeg.crop_subtitle_images``.
    """
    try:
        return msgspec.json.decode(path.read_bytes(), type=CropManifest)
    except msgspec.DecodeError as exc:
        raise InputFileError(f"{shown_as!r} is not a crop manifest: {exc}") from None


def list_images(folder: Path) -> list[Path]:
    """Return the images in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def run_ffmpeg(run: TaskRun, build: Callable[[FfmpegSettings], list[str]], what: str) -> None:
    """Run the ffmpeg command ``build`` makes for the settings; again without hardware decoding if that fails.

    Raises:
        EngineFailed: ffmpeg failed (on the CPU too).
        TaskCancelled: a cancel was requested.
    """
    settings = run.settings.ffmpeg
    try:
        run.run_subprocess(build(settings), what=what)
    except EngineFailed as exc:
        if not settings.hwaccel:
            raise
        log.warning("ffmpeg_hwaccel_failed", hwaccel=settings.hwaccel, error=str(exc), fallback="cpu")
        run.run_subprocess(build(msgspec.structs.replace(settings, hwaccel=None)), what=what)


def grab_keyframes(run: TaskRun, source: Path, times: Sequence[float], out_dir: Path) -> list[tuple[Path, float]]:
    """Write a keyframe at each time into ``out_dir``; return the frames ffmpeg produced with their times.

    Raises:
        EngineFailed: ffmpeg failed, or decoded no frame at all.
        TaskCancelled: a cancel was requested.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for first in range(0, len(times), _SEEKS_PER_COMMAND):
        batch = times[first : first + _SEEKS_PER_COMMAND]
        run.checkpoint()
        build = partial(keyframe_command, source=source, times=batch, out_dir=out_dir, first=first)
        run_ffmpeg(run, build, "ffmpeg keyframe extraction")
    frames = [(out_dir / keyframe_name(i), t) for i, t in enumerate(times) if (out_dir / keyframe_name(i)).is_file()]
    if not frames:
        raise EngineFailed(f"ffmpeg decoded no frame from {run.rel(source)!r}")
    return frames


def crop_frames(run: TaskRun, source: Path, area: Sequence[int], fps: float, out_dir: Path) -> CropManifest:
    """Crop ``area`` from the video at ``fps`` into ``out_dir`` and write the manifest there.

    Raises:
        EngineFailed: ffmpeg failed, or decoded no frame at all.
        TaskCancelled: a cancel was requested.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(run, lambda s: crop_command(s, source, area, fps, out_dir), "ffmpeg subtitle cropping")
    images = list_images(out_dir)
    if not images:
        raise EngineFailed(f"ffmpeg decoded no frame from {run.rel(source)!r}")
    manifest = CropManifest(
        video_path=run.rel(source),
        subtitle_area=list(area),
        fps=fps,
        frames=[ManifestFrame(file=p.name, time_s=round(i / fps, 3)) for i, p in enumerate(images)],
    )
    write_manifest(out_dir, manifest)
    return manifest
