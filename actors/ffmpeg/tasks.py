"""``ffmpeg.*`` tasks: audio extraction, probing, keyframes, subtitle crops and audio segments."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from actors.ffmpeg.audio_segments import cut_commands, plan_segments, segment_name
from actors.ffmpeg.frames import (
    MANIFEST_NAME,
    Area,
    check_area,
    crop_frames,
    ffmpeg_head,
    grab_keyframes,
    keyframe_times,
    video_info,
)
from actors.ffmpeg.media import ffmpeg_binary, input_args, probe, probe_audio
from actors.spec import task
from actors.subtitles.formats import read_cues
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun


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
    probe_audio(source, params.video_path)
    target = run.output_dir / f"audio.{params.format}"
    run.checkpoint()
    run.run_subprocess(
        [
            ffmpeg_binary(run.settings.ffmpeg),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            *input_args(run.settings.ffmpeg),
            "-i",
            str(source),
            "-vn",
            "-ac",
            str(params.channels),
            "-ar",
            str(params.sample_rate),
            *_CODECS[params.format],
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


class ExtractKeyframesInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``ffmpeg.extract_keyframes``: ``count`` frames evenly spread, or one every ``interval_s``."""

    video_path: Annotated[str, StoragePath]
    count: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    interval_s: Annotated[float, msgspec.Meta(gt=0)] | None = None


class Keyframe(msgspec.Struct, kw_only=True):
    """One keyframe: its path (relative to the storage root) and the time it shows."""

    path: str
    time_s: float


class ExtractKeyframesOutput(msgspec.Struct, kw_only=True):
    """Output of ``ffmpeg.extract_keyframes``."""

    keyframe_dir: str
    frames: list[Keyframe]


@task("ffmpeg.extract_keyframes", queue="ffmpeg", input=ExtractKeyframesInput, output=ExtractKeyframesOutput)
def extract_keyframes(run: TaskRun, params: ExtractKeyframesInput) -> ExtractKeyframesOutput:
    """Grab PNG keyframes at deterministic times: evenly spread, or every ``interval_s``."""
    source = run.input_path(params.video_path)
    info = video_info(source, params.video_path)
    times = keyframe_times(info, params.count, params.interval_s)
    folder = run.output_dir / "keyframes"
    frames = grab_keyframes(run, source, times, folder)
    return ExtractKeyframesOutput(
        keyframe_dir=run.rel(folder), frames=[Keyframe(path=run.rel(p), time_s=t) for p, t in frames]
    )


class CropInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``ffmpeg.crop_subtitle_images``: ``subtitle_area`` is ``[x1, y1, x2, y2]`` in frame pixels."""

    video_path: Annotated[str, StoragePath]
    subtitle_area: Area
    fps: Annotated[float, msgspec.Meta(gt=0, le=60)] = 10.0


class CropOutput(msgspec.Struct, kw_only=True):
    """Output of ``ffmpeg.crop_subtitle_images``; the manifest gives each crop's time."""

    cropped_images_dir: str
    manifest_path: str
    frames_count: int


@task("ffmpeg.crop_subtitle_images", queue="ffmpeg", input=CropInput, output=CropOutput)
def crop_subtitle_images(run: TaskRun, params: CropInput) -> CropOutput:
    """Crop the subtitle area out of a video at ``fps`` crops per second, with a manifest of their times."""
    source = run.input_path(params.video_path)
    info = video_info(source, params.video_path)
    check_area(params.subtitle_area, info, params.video_path)
    folder = run.output_dir / "crops"
    manifest = crop_frames(run, source, params.subtitle_area, params.fps, folder)
    return CropOutput(
        cropped_images_dir=run.rel(folder),
        manifest_path=run.rel(folder / MANIFEST_NAME),
        frames_count=len(manifest.frames),
    )


class SplitAudioInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``ffmpeg.split_audio_segments``: cut audio along the cues of an SRT, VTT or segments JSON."""

    audio_path: Annotated[str, StoragePath]
    subtitle_path: Annotated[str, StoragePath]
    min_duration_s: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    max_duration_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    group_by_speaker: bool = False

    def __post_init__(self) -> None:
        if self.min_duration_s > self.max_duration_s:
            raise ValueError("min_duration_s must not exceed max_duration_s")


class AudioSegment(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One cut: its WAV (relative to the storage root), times, text and speaker."""

    path: str
    start_s: float
    end_s: float
    text: str
    speaker: str | None = None


class SplitAudioOutput(msgspec.Struct, kw_only=True):
    """Output of ``ffmpeg.split_audio_segments``."""

    audio_segments_dir: str
    segments: list[AudioSegment]


@task("ffmpeg.split_audio_segments", queue="ffmpeg", input=SplitAudioInput, output=SplitAudioOutput)
def split_audio_segments(run: TaskRun, params: SplitAudioInput) -> SplitAudioOutput:
    """Cut audio into WAV segments along subtitle cues, grouped to between min and max duration."""
    source = run.input_path(params.audio_path)
    info = probe_audio(source, params.audio_path)
    cues = read_cues(run.input_path(params.subtitle_path), params.subtitle_path)
    plan = plan_segments(
        cues,
        min_s=params.min_duration_s,
        max_s=params.max_duration_s,
        by_speaker=params.group_by_speaker,
        duration_s=info["duration_s"],
    )
    folder = run.output_dir / "segments"
    folder.mkdir(parents=True, exist_ok=True)
    commands = cut_commands(ffmpeg_head(run.settings.ffmpeg), source, plan, folder)
    for done, command in enumerate(commands, start=1):
        run.checkpoint()
        run.run_subprocess(command, what="ffmpeg audio segmentation")
        run.progress(done / len(commands))
    segments = [
        AudioSegment(
            path=run.rel(folder / segment_name(i)),
            start_s=round(s.start_s, 3),
            end_s=round(s.end_s, 3),
            text=s.text,
            speaker=s.speaker,
        )
        for i, s in enumerate(plan)
    ]
    return SplitAudioOutput(audio_segments_dir=run.rel(folder), segments=segments)
