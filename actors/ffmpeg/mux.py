"""``ffmpeg.mux_audio``: put a new audio track (a dub) on a video without re-encoding the picture.

The output is exactly as long as the video: a shorter track is padded with silence, a longer one is
trimmed at the video's end. ``duck`` (the default) keeps the original sound at full level between the
dub's lines and lowers it by ``duck_db`` only while the dub speaks; ``background`` lays the dub over
``background_path`` (the accompaniment of ``audio.separate_vocals``: music and effects without the
original voices), or over the ducked original when there is none; ``replace`` drops the original sound,
``mix`` keeps it under the new track at ``original_volume``, ``add_track`` keeps every original track
and adds the new one (tagged ``language``, not the default track). A video without sound gets the dub as
its only track in every mode but ``mix``.

With ``manifest_path`` (the manifest of a dub made with ``allow_video_stretch``), the picture and every
original sound are slowed down over the manifest's ``video_stretches`` (``actors.ffmpeg.retime``) so that
they stay in sync with the dub, and the picture is re-encoded; otherwise it is copied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import structlog

from actors.errors import InputFileError
from actors.ffmpeg.ducking import duck_filter, speech_spans
from actors.ffmpeg.media import ffmpeg_binary, probe, probe_audio
from actors.ffmpeg.retime import (
    VideoStretch,
    picture_filter,
    read_stretches,
    snapped,
    sound_graph,
    stretched_duration,
)
from actors.spec import task
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)

Mode = Literal["duck", "background", "replace", "mix", "add_track"]
# Containers the output keeps; anything else is written as Matroska, which takes any video codec.
_CONTAINERS = {".mp4": "aac", ".m4v": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus"}
# the picture, when it must be re-encoded (slowed spans)
_VIDEO_CODECS = {".webm": ["libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", "30"]}
_X264 = ["libx264", "-preset", "veryfast", "-crf", "18"]


class MuxAudioInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``ffmpeg.mux_audio``."""

    video_path: Annotated[str, StoragePath]
    audio_path: Annotated[str, StoragePath]
    mode: Mode = "duck"
    original_volume: Annotated[float, msgspec.Meta(ge=0.0, le=4.0)] = 0.2
    duck_db: Annotated[float, msgspec.Meta(ge=-60.0, le=0.0, description="gain of the original under a line")] = -24.0
    background_path: Annotated[str, StoragePath] | None = None
    # three letters: MP4 drops two-letter codes
    language: Annotated[str, msgspec.Meta(pattern="^[a-z]{3}$", description="ISO 639-2 code: fra, eng, deu")] | None = (
        None
    )
    # a dub's manifest (tts.synthesize_subtitles' manifest_path): its video_stretches slow the picture down
    manifest_path: Annotated[str, StoragePath] | None = None


class MuxAudioOutput(msgspec.Struct, kw_only=True):
    """Output of ``ffmpeg.mux_audio``; ``video_stretched_s``: what the slowed spans added to the video."""

    video_path: str
    duration_s: float
    video_stretched_s: float = 0.0


def _video_duration(info: dict[str, Any], shown_as: str) -> float:
    videos = [s for s in info["streams"] if s["type"] == "video"]
    if not videos:
        raise InputFileError(f"{shown_as!r} has no video stream")
    duration = videos[0]["duration_s"] or info["duration_s"]
    if not duration:
        raise InputFileError(f"{shown_as!r}: the video's duration is unknown")
    return float(duration)


def filter_graph(params: MuxAudioInput, duration_s: float, under: str | None) -> str:
    """Return the filter graph that makes the ``[dub]`` output from input 1 (the dub) and ``under``.

    ``under``: what plays under the dub: ``original`` (input 0's sound, ducked by ``mode``'s rule),
    ``background`` (input 2 at full level), or None.
    """
    # apad + atrim: the new track is exactly as long as the video, whichever way it differs
    fit = f"apad=whole_dur={duration_s:.3f},atrim=end={duration_s:.3f}"
    if under is None:
        return f"[1:a:0]{fit}[dub]"
    source = "[2:a:0]" if under == "background" else "[0:a:0]"
    if params.mode == "mix":
        shaped = f"volume={params.original_volume:.3f}"
    elif under == "background":
        shaped = "anull"
    else:
        shaped = "{duck}"  # filled with the dub's spans by the caller
    return f"{source}{shaped},{fit}[orig];[1:a:0]{fit}[new];[orig][new]amix=inputs=2:duration=first:normalize=0[dub]"


def under_dub(params: MuxAudioInput, info: dict[str, Any]) -> str | None:
    """Return what plays under the dub: ``original``, ``background`` or None (the dub alone)."""
    if params.mode in ("replace", "add_track"):
        return None
    if params.mode == "background" and params.background_path is not None:
        return "background"
    return "original" if any(s["type"] == "audio" for s in info["streams"]) else None


def stretched_graph(graph: str, spans: list[VideoStretch], info: dict[str, Any], kept: int, binary: str) -> str:
    """Return ``graph`` with the picture ``[vid]``, the original sound and the kept tracks ``[keptN]`` slowed."""
    fps = next(s for s in info["streams"] if s["type"] == "video")["fps"]
    parts = [f"[0:v:0]{picture_filter(spans, fps)}[vid]"]
    for i, source in enumerate(("[0:a:0]", "[2:a:0]")):
        if source in graph:
            parts.append(sound_graph(source, f"slow{i}", spans, binary))
            graph = graph.replace(source, f"[slow{i}]")
    for j in range(kept):  # add_track: every original track is kept, each slowed like the picture
        parts.append(sound_graph(f"[0:a:{j}]", f"kept{j}", spans, binary))
    return ";".join([*parts, graph])


def mux_args(
    params: MuxAudioInput, inputs: list[Path], target: Path, info: dict[str, Any], graph_file: Path, *, stretch: bool
) -> list[str]:
    """Return the ffmpeg arguments (after the binary) that write ``target``; the graph is in ``graph_file``.

    ``stretch``: the graph slows the picture (``[vid]``, re-encoded) and the kept tracks (``[keptN]``).
    """
    kept = sum(1 for s in info["streams"] if s["type"] == "audio") if params.mode == "add_track" else 0
    codec = _CONTAINERS.get(target.suffix.lower(), "aac")
    args = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    for path in inputs:
        args += ["-i", str(path)]
    args += ["-/filter_complex", str(graph_file), "-map", "[vid]" if stretch else "0:v"]
    if kept and stretch:  # filtered tracks lose their tags: each kept track takes its original's back
        args += [arg for j in range(kept) for arg in ("-map", f"[kept{j}]", f"-map_metadata:s:a:{j}", f"0:s:a:{j}")]
    elif kept:
        args += ["-map", "0:a"]
    args += ["-map", "[dub]", "-map_metadata", "0"]
    if stretch:
        args += ["-c:v", *_VIDEO_CODECS.get(target.suffix.lower(), _X264), "-c:a", codec, "-b:a", "160k"]
    else:
        args += ["-c:v", "copy", "-c:a", "copy", f"-c:a:{kept}", codec, f"-b:a:{kept}", "160k"]
    if params.language:
        args += [f"-metadata:s:a:{kept}", f"language={params.language}"]
    if kept:
        args += [f"-disposition:a:{kept}", "0"]
    return [*args, str(target)]


@task("ffmpeg.mux_audio", queue="ffmpeg", input=MuxAudioInput, output=MuxAudioOutput)
def mux_audio(run: TaskRun, params: MuxAudioInput) -> MuxAudioOutput:
    """Put an audio track on a video (over the ducked original, the background, or alone); the picture is copied."""
    video = run.input_path(params.video_path)
    audio = run.input_path(params.audio_path)
    info = probe(video, params.video_path)
    source_s = _video_duration(info, params.video_path)
    probe_audio(audio, params.audio_path)
    spans: list[VideoStretch] = []
    if params.manifest_path is not None:
        fps = next(s for s in info["streams"] if s["type"] == "video")["fps"]
        listed = read_stretches(run.input_path(params.manifest_path), params.manifest_path, source_s)
        spans = snapped(listed, fps, source_s)
    duration_s = stretched_duration(source_s, spans)
    if params.mode == "mix" and not any(s["type"] == "audio" for s in info["streams"]):
        raise InputFileError(f"{params.video_path!r} has no sound to mix under the new track; use mode replace")
    inputs = [video, audio]
    under = under_dub(params, info)
    if under == "background" and params.background_path is not None:
        inputs.append(run.input_path(params.background_path))
        probe_audio(inputs[-1], params.background_path)
    graph = filter_graph(params, duration_s, under)
    ducked: list[tuple[float, float]] = []
    if "{duck}" in graph:
        ducked = speech_spans(audio, params.audio_path)
        graph = graph.replace("{duck}", duck_filter(ducked, params.duck_db))
    if spans:
        kept = sum(1 for s in info["streams"] if s["type"] == "audio") if params.mode == "add_track" else 0
        graph = stretched_graph(graph, spans, info, kept, ffmpeg_binary(run.settings.ffmpeg))
    suffix = video.suffix.lower() if video.suffix.lower() in _CONTAINERS else ".mkv"
    target = run.output_dir / f"dubbed{suffix}"
    partial = target.with_name(f".dubbed.partial{suffix}")
    graph_file = run.output_dir / ".mux-graph.txt"
    graph_file.write_text(graph, encoding="utf-8")
    run.checkpoint()
    try:
        run.run_subprocess(
            [
                ffmpeg_binary(run.settings.ffmpeg),
                *mux_args(params, inputs, partial, info, graph_file, stretch=bool(spans)),
            ],
            what="ffmpeg mux",
        )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
        graph_file.unlink(missing_ok=True)
    out = probe(target, run.rel(target))
    log.info(
        "audio_muxed",
        mode=params.mode,
        under=under,
        ducked_spans=len(ducked),
        duration_s=out["duration_s"],
        language=params.language,
        stretched_spans=len(spans),
        video_stretched_s=round(duration_s - source_s, 3),
    )
    return MuxAudioOutput(
        video_path=run.rel(target), duration_s=out["duration_s"], video_stretched_s=round(duration_s - source_s, 3)
    )
