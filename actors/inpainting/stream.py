"""Decode -> repair -> encode through two ffmpeg children, frames held only while the repair needs them.

The decoder writes raw RGB frames to a pipe, a ``FrameProcessor`` takes each and hands back the frames
ready to write (at once, or after its look-ahead), the encoder reads them from its stdin and muxes them
with the source's audio, copied. Both children are the run's
(``TaskRun.open_subprocess``): a cancel, a lost lease or an error kills them.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import msgspec

from actors.errors import EngineFailed, EngineUnavailable, InputFileError, TaskCancelled
from actors.ffmpeg.frames import ffmpeg_head

if TYPE_CHECKING:
    import numpy as np

    from actors.worker.runtime import TaskRun
    from config.engines import FfmpegSettings, InpaintingSettings

# Audio codecs an MP4 file carries; anything else goes into Matroska, still copied.
_MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"})


class FrameProcessor(Protocol):
    """What the stream feeds: frames in decode order; frames to write come back, in the same order."""

    def push(self, frame: np.ndarray, index: int) -> list[np.ndarray]:
        """Take frame ``index`` (the processor may keep it); return the frames now ready to write."""

    def drain(self) -> list[np.ndarray]:
        """Return every frame still held, at the end of the video."""


class VideoStream(msgspec.Struct, kw_only=True, frozen=True):
    """What the stream needs of the source: frame size and rate, frame count, the video and audio codecs."""

    width: int
    height: int
    rate: str
    frames: int
    codec: str
    audio_codec: str | None

    @property
    def fps(self) -> float:
        """Return the frame rate as a number."""
        return float(Fraction(self.rate))

    @property
    def suffix(self) -> str:
        """Return the output's file suffix: MP4 unless the audio cannot go into one."""
        return ".mp4" if self.audio_codec is None or self.audio_codec in _MP4_AUDIO else ".mkv"


def probe_stream(path: Path, shown_as: str, duration_s: float) -> VideoStream:
    """Describe the first video stream and the first audio stream of a file (PyAV).

    Raises:
        InputFileError: the file is not media ffmpeg can read, or has no video.
    """
    import av  # noqa: PLC0415

    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            rate = Fraction(video.average_rate or video.guessed_rate or 25)
            frames = int(video.frames or 0) or round(duration_s * rate)
            return VideoStream(
                width=int(video.codec_context.width),
                height=int(video.codec_context.height),
                rate=f"{rate.numerator}/{rate.denominator}",
                frames=max(1, frames),
                codec=str(video.codec_context.name),
                audio_codec=str(audio.codec_context.name) if audio is not None else None,
            )
    except (av.error.FFmpegError, IndexError) as exc:
        raise InputFileError(f"{shown_as!r} is not a video ffmpeg can read: {exc}") from None


@functools.cache
def _has_libx264(binary: str) -> bool:
    listing = subprocess.run([binary, "-hide_banner", "-encoders"], capture_output=True, check=False).stdout
    return b"libx264" in listing


def require_libx264(settings: FfmpegSettings) -> None:
    """Check that the ffmpeg in use can encode H.264 with libx264.

    Raises:
        EngineUnavailable: it cannot; the message says how to get one that can.
    """
    head = ffmpeg_head(settings)
    if not _has_libx264(head[0]):
        raise EngineUnavailable(
            f"the ffmpeg at {head[0]!r} has no libx264 encoder: set ffmpeg.binary to one built with it "
            "(imageio-ffmpeg's bundled binary has it)"
        )


def decoder_command(settings: FfmpegSettings, source: Path) -> list[str]:
    """Return the ffmpeg command writing the source's frames as raw RGB to stdout, one per source frame."""
    frames = ["-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    return [*ffmpeg_head(settings), "-i", str(source), *frames, "pipe:1"]


def encoder_command(
    settings: FfmpegSettings, inpainting: InpaintingSettings, source: Path, video: VideoStream, target: Path
) -> list[str]:
    """Return the ffmpeg command encoding raw RGB frames from stdin to H.264, the source's audio copied."""
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{video.width}x{video.height}", "-r", video.rate]
    codec = ["-c:v", "libx264", "-preset", inpainting.preset, "-crf", str(inpainting.crf), "-pix_fmt", "yuv420p"]
    mux = ["-map", "0:v:0", "-map", "1:a:0?", "-c:a", "copy"]
    if target.suffix == ".mp4":
        mux += ["-movflags", "+faststart"]
    return [*ffmpeg_head(settings), *raw, "-i", "pipe:0", "-i", str(source), *mux, *codec, str(target)]


def copy_command(settings: FfmpegSettings, source: Path, target: Path) -> list[str]:
    """Return the ffmpeg command copying the video and audio streams into ``target`` unchanged."""
    return [*ffmpeg_head(settings), "-i", str(source), "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", str(target)]


def _read_frame(pipe: IO[bytes], buffer: memoryview) -> bool:
    """Fill ``buffer`` with the next frame; return False at the end of the stream."""
    view, got = buffer, 0
    while got < len(buffer):
        chunk = pipe.readinto(view[got:])  # type: ignore[attr-defined]
        if not chunk:
            if got:
                raise EngineFailed(f"the decoder stopped inside a frame ({got} of {len(buffer)} bytes)")
            return False
        got += chunk
    return True


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    lines = log.read().decode(errors="replace").strip().splitlines()[-3:]
    return " | ".join(lines) or "no output"


def stream_frames(
    run: TaskRun,
    commands: tuple[list[str], list[str]],
    video: VideoStream,
    processor: FrameProcessor,
) -> int:
    """Decode each frame, hand it to ``processor``, encode what it gives back; return the frames written.

    Raises:
        EngineFailed: a child failed; the message has the end of its stderr.
        TaskCancelled: a cancel was requested (both children are killed).
    """
    with tempfile.TemporaryFile() as decode_log, tempfile.TemporaryFile() as encode_log:
        pipes: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": decode_log}
        with (
            run.open_subprocess(commands[0], **pipes) as decoder,
            run.open_subprocess(commands[1], stdin=subprocess.PIPE, stderr=encode_log) as encoder,
        ):
            count = _pump(run, (decoder, encoder), video, processor)
            _check_exits(decoder, encoder, count, (decode_log, encode_log))
        return count


def _pump(
    run: TaskRun,
    children: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]],
    video: VideoStream,
    processor: FrameProcessor,
) -> int:
    """Move frames from the decoder through ``processor`` to the encoder; return how many were written."""
    import numpy as np  # noqa: PLC0415

    decoder, encoder = children
    source, sink = decoder.stdout, encoder.stdin
    assert source is not None  # noqa: S101  (both are pipes)
    assert sink is not None  # noqa: S101
    shape = (video.height, video.width, 3)
    decoded = count = 0

    def write(frames: list[np.ndarray]) -> None:
        nonlocal count
        for frame in frames:
            sink.write(frame.data.cast("B"))
            count += 1
        run.progress(min(0.99, 0.1 + 0.9 * count / video.frames))

    try:
        while _read_frame(source, (frame := np.empty(shape, dtype=np.uint8)).data.cast("B")):
            run.checkpoint()
            write(processor.push(frame, decoded))
            decoded += 1
        write(processor.drain())
        sink.close()
    except OSError:  # a pipe broke: a child died, or a stop killed both
        if run.cancel_requested():
            raise TaskCancelled("cancelled on request") from None
        count = -1
    if run.cancel_requested():
        raise TaskCancelled("cancelled on request")
    return count


def _check_exits(
    decoder: subprocess.Popen[bytes], encoder: subprocess.Popen[bytes], count: int, logs: tuple[IO[bytes], IO[bytes]]
) -> None:
    """Raise unless both children ended well and frames went through.

    A broken encoder is judged first: the decoder may still be blocked writing to the pipe it no longer reads.
    """
    if count < 0:
        encoder.wait()
        raise EngineFailed(f"the H.264 encoder stopped (exit {encoder.returncode}): {_tail(logs[1])}")
    if decoder.wait() != 0 or count == 0:
        raise EngineFailed(f"decoding failed (exit {decoder.returncode}, {count} frames): {_tail(logs[0])}")
    if encoder.wait() != 0:
        raise EngineFailed(f"the H.264 encoder failed (exit {encoder.returncode}): {_tail(logs[1])}")
