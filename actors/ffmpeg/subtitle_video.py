"""Subtitles in the picture (``ffmpeg.burn_subtitles``) and in the file (``ffmpeg.add_subtitle_tracks``).

Burning renders the cues with libass (the ``subtitles`` filter) in a style readable on any picture: white
text, a black outline and a soft shadow, sized from the frame's height, centred at the bottom or just above
the region the client names (``avoid_area``: burnt-in source subtitles, a logo); overlapping cues are
stacked by libass, never drawn over each other. An ``.ass`` file keeps its own styles. The picture is
re-encoded (libx264), the sound copied. Tracks add soft subtitles without touching picture or sound:
mov_text in MP4/MOV, ASS or WebVTT in Matroska, WebVTT in WebM, one track per language, tagged.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import structlog

from actors.errors import InputError
from actors.ffmpeg.fonts import choose_font
from actors.ffmpeg.frames import Area, check_area, video_info
from actors.ffmpeg.media import ffmpeg_binary, probe
from actors.spec import task
from actors.subtitles.formats import Cue, read_cues, to_srt
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)

Language = Annotated[str, msgspec.Meta(pattern="^[a-z]{3}$", description="ISO 639-2 code: fra, eng, deu")]


class BurnSubtitlesInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``ffmpeg.burn_subtitles``; ``avoid_area`` is ``[x1, y1, x2, y2]`` in frame pixels."""

    video_path: Annotated[str, StoragePath]
    subtitle_path: Annotated[str, StoragePath]
    avoid_area: Area | None = None
    font: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[\w .-]+$")] | None = None
    font_scale: Annotated[float, msgspec.Meta(ge=0.3, le=3.0)] = 1.0
    crf: Annotated[int, msgspec.Meta(ge=0, le=51)] = 18


class BurnSubtitlesOutput(msgspec.Struct, kw_only=True):
    """Output of ``ffmpeg.burn_subtitles``; ``font_note`` says when the font asked for was not used."""

    video_path: str
    duration_s: float
    cues_count: int
    font: str
    font_note: str | None = None


class SubtitleTrack(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One soft subtitle track: its file, language and title."""

    subtitle_path: Annotated[str, StoragePath]
    language: Language
    title: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    default: bool = False


class AddSubtitleTracksInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``ffmpeg.add_subtitle_tracks``; ``mkv_codec`` is the tracks' format in Matroska."""

    video_path: Annotated[str, StoragePath]
    tracks: Annotated[list[SubtitleTrack], msgspec.Meta(min_length=1, max_length=16)]
    mkv_codec: Literal["ass", "webvtt"] = "ass"


class AddSubtitleTracksOutput(msgspec.Struct, kw_only=True):
    """Output of ``ffmpeg.add_subtitle_tracks``."""

    video_path: str
    duration_s: float
    codec: str
    languages: list[str]


def _ass_time(seconds: float) -> str:
    cs = max(0, round(seconds * 100))
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


def _ass_text(text: str) -> str:
    return " ".join(text.replace("{", "(").replace("}", ")").split("\n")).replace("\\", "/")


def styled_ass(cues: list[Cue], width: int, height: int, *, family: str, scale: float, bottom_px: int) -> str:
    """Return an ASS script for a ``width`` x ``height`` picture, the text's bottom ``bottom_px`` above the edge."""
    size = max(14, round(height * 0.055 * scale))
    outline, shadow, side = max(1.5, size / 14), max(1.0, size / 28), round(width * 0.05)
    header = (
        f"[Script Info]\nScriptType: v4.00+\nPlayResX: {width}\nPlayResY: {height}\nWrapStyle: 0\n"
        "ScaledBorderAndShadow: yes\n\n[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
        "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
        "MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Default,{family},{size},&H00FFFFFF,&H000000FF,&H00000000,&H96000000,0,0,0,0,100,100,0,0,1,"
        f"{outline:.1f},{shadow:.1f},2,{side},{side},{bottom_px},1\n\n[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    events = [
        f"Dialogue: 0,{_ass_time(c.start_s)},{_ass_time(c.end_s)},Default,,0,0,0,,{_ass_text(c.text)}"
        for c in sorted(cues, key=lambda c: c.start_s)
        if c.text.strip()
    ]
    return header + "\n".join(events) + "\n"


def _filter_value(path: Path) -> str:
    """Return ``path`` quoted for a filter option (filtergraph escaping)."""
    return "'" + str(path).replace("\\", "\\\\").replace("'", "'\\''").replace(":", "\\:") + "'"


def _bottom_px(area: Area | None, height: int) -> int:
    margin = round(height * 0.05)
    if area is None:
        return margin
    return max(margin, height - area[1] + round(height * 0.02))


def _head(run: TaskRun) -> list[str]:
    return [ffmpeg_binary(run.settings.ffmpeg), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def _target(run: TaskRun, video: Path, name: str, allowed: tuple[str, ...]) -> tuple[Path, Path]:
    suffix = video.suffix.lower() if video.suffix.lower() in allowed else ".mkv"
    target = run.output_dir / f"{name}{suffix}"
    return target, target.with_name(f".{name}.partial{suffix}")


@task("ffmpeg.burn_subtitles", queue="ffmpeg", input=BurnSubtitlesInput, output=BurnSubtitlesOutput)
def burn_subtitles(run: TaskRun, params: BurnSubtitlesInput) -> BurnSubtitlesOutput:
    """Draw subtitles into the picture with libass (the picture is re-encoded, the sound copied)."""
    video = run.input_path(params.video_path)
    info = video_info(video, params.video_path)
    if params.avoid_area is not None:
        check_area(params.avoid_area, info, params.video_path)
    source = run.input_path(params.subtitle_path)
    cues = read_cues(source, params.subtitle_path)
    if not cues:
        raise InputError(f"{params.subtitle_path!r} has no cues to burn")
    font = choose_font(run.settings.ffmpeg, params.font)
    width, height = info.width, info.height
    target, partial = _target(run, video, "subtitled", (".mp4", ".mkv", ".mov", ".m4v"))
    with tempfile.TemporaryDirectory(prefix="burn-") as work:
        script = Path(work) / "subs.ass"
        if source.suffix.lower() in (".ass", ".ssa"):
            script.write_bytes(source.read_bytes())
        else:
            bottom = _bottom_px(params.avoid_area, height)
            script.write_text(
                styled_ass(cues, width, height, family=font.family, scale=params.font_scale, bottom_px=bottom),
                encoding="utf-8",
            )
        graph = f"subtitles=filename={_filter_value(script)}"
        if font.fonts_dir is not None:
            graph += f":fontsdir={_filter_value(font.fonts_dir)}"
        run.checkpoint()
        try:
            run.run_subprocess(
                [
                    *_head(run),
                    "-i",
                    str(video),
                    "-map",
                    "0:v:0",
                    "-map",
                    "0:a?",
                    "-vf",
                    graph,
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-crf",
                    str(params.crf),
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "copy",
                    str(partial),
                ],
                what="ffmpeg subtitle burn-in",
            )
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    out = probe(target, run.rel(target))
    log.info("subtitles_burnt", cues=len(cues), font=font.family, font_note=font.note)
    return BurnSubtitlesOutput(
        video_path=run.rel(target), duration_s=out["duration_s"], cues_count=len(cues), font=font.family,
        font_note=font.note,
    )  # fmt: skip


def _codec(suffix: str, mkv_codec: str) -> str:
    if suffix in (".mp4", ".m4v", ".mov"):
        return "mov_text"
    return "webvtt" if suffix == ".webm" else mkv_codec


@task("ffmpeg.add_subtitle_tracks", queue="ffmpeg", input=AddSubtitleTracksInput, output=AddSubtitleTracksOutput)
def add_subtitle_tracks(run: TaskRun, params: AddSubtitleTracksInput) -> AddSubtitleTracksOutput:
    """Add soft subtitle tracks, one per language, tagged; picture and sound are copied."""
    video = run.input_path(params.video_path)
    info = probe(video, params.video_path)
    kept = sum(1 for s in info["streams"] if s["type"] == "subtitle")
    target, partial = _target(run, video, "with_subtitles", (".mp4", ".m4v", ".mov", ".mkv", ".webm"))
    codec = _codec(target.suffix.lower(), params.mkv_codec)
    with tempfile.TemporaryDirectory(prefix="tracks-") as work:
        args = [*_head(run), "-i", str(video)]
        for i, track in enumerate(params.tracks):
            cues = read_cues(run.input_path(track.subtitle_path), track.subtitle_path)
            if not cues:
                raise InputError(f"{track.subtitle_path!r} (tracks[{i}]) has no cues")
            normalised = Path(work) / f"track{i}.srt"
            normalised.write_text(to_srt(sorted(cues, key=lambda c: c.start_s)), encoding="utf-8")
            args += ["-i", str(normalised)]
        args += ["-map", "0", *[a for i in range(len(params.tracks)) for a in ("-map", f"{i + 1}:0")], "-c", "copy"]
        for i, track in enumerate(params.tracks):
            index = kept + i
            args += [f"-c:s:{index}", codec, f"-metadata:s:s:{index}", f"language={track.language}"]
            if track.title:
                args += [f"-metadata:s:s:{index}", f"title={track.title}"]
            args += [f"-disposition:s:{index}", "default" if track.default else "0"]
        run.checkpoint()
        try:
            run.run_subprocess([*args, str(partial)], what="ffmpeg subtitle tracks")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    out = probe(target, run.rel(target))
    languages = [t.language for t in params.tracks]
    log.info("subtitle_tracks_added", codec=codec, languages=languages)
    return AddSubtitleTracksOutput(
        video_path=run.rel(target), duration_s=out["duration_s"], codec=codec, languages=languages
    )
