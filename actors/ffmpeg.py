"""``ffmpeg.*`` tasks: audio extraction and probing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from actors.engines.media import ffmpeg_binary, input_args, probe
from actors.errors import InputFileError
from actors.registry import task
from actors.runtime import TaskRun
from actors.validation import StoragePath


class ExtractAudioInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``ffmpeg.extract_audio``."""

    video_path: Annotated[str, StoragePath]
    sample_rate: Annotated[int, msgspec.Meta(ge=8000, le=192000)] = 16000
    channels: Annotated[int, msgspec.Meta(ge=1, le=8)] = 1
    format: Literal["wav", "flac", "mp3"] = "wav"


class ExtractAudioOutput(msgspec.Struct, kw_only=True):
    """Output of ``ffmpeg.extract_audio``; paths are relative to the storage root."""

    audio_path: str
    duration_s: float
    sample_rate: int
    channels: int


class ProbeInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``ffmpeg.probe``."""

    media_path: Annotated[str, StoragePath]


class ProbeOutput(msgspec.Struct, kw_only=True):
    """Output of ``ffmpeg.probe``."""

    duration_s: float
    format: str
    streams: list[dict[str, Any]]


_CODECS = {"wav": ["-c:a", "pcm_s16le"], "flac": ["-c:a", "flac"], "mp3": ["-c:a", "libmp3lame", "-q:a", "2"]}


@task("ffmpeg.extract_audio", queue="ffmpeg", input=ExtractAudioInput, output=ExtractAudioOutput)
def extract_audio(run: TaskRun, params: ExtractAudioInput) -> ExtractAudioOutput:
    """Extract a video's audio track as mono 16 kHz WAV (or as asked)."""
    source = run.input_path(params.video_path)
    info = probe(source, params.video_path)
    if not any(s["type"] == "audio" for s in info["streams"]):
        raise InputFileError(f"{params.video_path!r} has no audio stream")
    target = run.output_dir / f"audio.{params.format}"
    run.checkpoint()
    run.run_subprocess(
        [
            ffmpeg_binary(run.settings.ffmpeg), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            *input_args(run.settings.ffmpeg), "-i", str(source),
            "-vn", "-ac", str(params.channels), "-ar", str(params.sample_rate), *_CODECS[params.format],
            str(target),
        ],
        what="ffmpeg audio extraction",
    )
    out = probe(target, run.rel(target))
    return ExtractAudioOutput(
        audio_path=run.rel(target),
        duration_s=out["duration_s"],
        sample_rate=params.sample_rate,
        channels=params.channels,
    )


@task("ffmpeg.probe", queue="ffmpeg", input=ProbeInput, output=ProbeOutput)
def probe_media(run: TaskRun, params: ProbeInput) -> ProbeOutput:
    """Describe a media file: duration, container and streams."""
    info = probe(run.input_path(params.media_path), params.media_path)
    return ProbeOutput(duration_s=info["duration_s"], format=info["format"], streams=info["streams"])
