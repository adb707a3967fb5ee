"""``subtitles.*`` tasks: subtitle files timed to the speech and checked against a reading profile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
import structlog

from actors.spec import task
from actors.subtitles.formats import WRITERS, Cue, cues_json, read_cues
from actors.subtitles.layout import Diarization, Timing, Transcript, build_cues, read_json_file
from actors.subtitles.profiles import CustomProfile, Profile, ProfileError, ProfileName, profile_of
from actors.subtitles.qc import QcReport, check_cues
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)

Format = Literal["srt", "vtt", "ass"]
Fps = Annotated[float, msgspec.Meta(gt=1, le=240, description="frames a second (else the video's, else 25)")]
_DEFAULT_FPS = 25.0
_QC = msgspec.json.Encoder()


class ProfileChoice(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The reading profile of a request: a name, or every number of a custom one; the frame rate of the gaps."""

    profile: ProfileName | CustomProfile = "netflix"
    fps: Fps | None = None
    video_path: Annotated[str, StoragePath] | None = None


class GenerateFilesInput(ProfileChoice, forbid_unknown_fields=True, kw_only=True):
    """Input of ``subtitles.generate_files``; the three layout numbers, when given, override the profile's."""

    segments_file: Annotated[str, StoragePath]
    diarization_file: Annotated[str, StoragePath] | None = None
    formats: Annotated[list[Format], msgspec.Meta(min_length=1, max_length=3)] = msgspec.field(
        default_factory=lambda: ["srt", "vtt"]
    )
    max_chars_per_line: Annotated[int, msgspec.Meta(ge=10, le=200)] | None = None
    max_lines: Annotated[int, msgspec.Meta(ge=1, le=4)] | None = None
    max_duration_s: Annotated[float, msgspec.Meta(ge=1, le=60)] | None = None
    linger_s: Annotated[float, msgspec.Meta(ge=0, le=2)] = 0.5
    pause_s: Annotated[float, msgspec.Meta(ge=0.1, le=5)] = 0.6


class GenerateFilesOutput(msgspec.Struct, kw_only=True):
    """Output of ``subtitles.generate_files``; SRT, JSON and the QC report are always written."""

    srt_path: str
    json_path: str
    cues_count: int
    qc_path: str
    profile: str
    compliant_share: float
    vtt_path: str | None = None
    ass_path: str | None = None


class CheckFileInput(ProfileChoice, forbid_unknown_fields=True, kw_only=True):
    """Input of ``subtitles.check_file``: an SRT, WebVTT or ASS file and the profile to check it against."""

    subtitle_path: Annotated[str, StoragePath]


class CheckFileOutput(msgspec.Struct, kw_only=True):
    """Output of ``subtitles.check_file``: where the report is, and its totals."""

    qc_path: str
    profile: str
    cue_count: int
    compliant_cues: int
    compliant_share: float
    rules: dict[str, int]


def _fps(run: TaskRun, choice: ProfileChoice) -> float:
    if choice.fps is not None:
        return choice.fps
    if choice.video_path is not None:
        from actors.ffmpeg.frames import video_info  # noqa: PLC0415  (probing only when a video is named)

        return video_info(run.input_path(choice.video_path), choice.video_path).fps
    return _DEFAULT_FPS


def _profile(params: GenerateFilesInput) -> Profile:
    profile = profile_of(params.profile)
    overrides = {
        key: value
        for key, value in (
            ("max_chars_per_line", params.max_chars_per_line),
            ("max_lines", params.max_lines),
            ("max_duration_s", params.max_duration_s),
        )
        if value is not None
    }
    if overrides and profile.min_duration_s > overrides.get("max_duration_s", profile.max_duration_s):
        raise ProfileError(f"max_duration_s {params.max_duration_s} is below the profile's min_duration_s")
    return msgspec.structs.replace(profile, **overrides) if overrides else profile


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary name, so that a crash never leaves half a file under the real one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def _write_report(run: TaskRun, report: QcReport, name: str) -> str:
    target = run.output_dir / name
    _write(target, _QC.encode(report))
    return run.rel(target)


@task("subtitles.generate_files", queue="subtitles", input=GenerateFilesInput, output=GenerateFilesOutput)
def generate_files(run: TaskRun, params: GenerateFilesInput) -> GenerateFilesOutput:
    """Write subtitles timed to the speech and laid out by the profile, with a QC report beside them."""
    transcript = read_json_file(run.input_path(params.segments_file), params.segments_file, Transcript)
    turns = None
    if params.diarization_file is not None:
        diarization = read_json_file(run.input_path(params.diarization_file), params.diarization_file, Diarization)
        turns = diarization.segments
    profile = _profile(params)
    fps = _fps(run, params)
    cues: list[Cue] = build_cues(
        transcript.segments, turns, profile, Timing(linger_s=params.linger_s, pause_s=params.pause_s), fps
    )
    report = check_cues(cues, profile, fps)
    run.checkpoint()
    paths: dict[str, str] = {}
    for fmt in ("srt", *params.formats):
        target = run.output_dir / f"subtitles.{fmt}"
        _write(target, WRITERS[fmt](cues).encode())
        paths[fmt] = run.rel(target)
    json_target = run.output_dir / "subtitles.json"
    _write(json_target, cues_json(cues))
    qc_path = _write_report(run, report, "subtitles.qc.json")
    log.info(
        "subtitles_written",
        cues=len(cues),
        formats=sorted(paths),
        speakers=turns is not None,
        profile=profile.name,
        compliant_share=report.compliant_share,
        broken=report.rules,
    )
    return GenerateFilesOutput(
        srt_path=paths["srt"],
        vtt_path=paths.get("vtt"),
        ass_path=paths.get("ass"),
        json_path=run.rel(json_target),
        cues_count=len(cues),
        qc_path=qc_path,
        profile=profile.name,
        compliant_share=report.compliant_share,
    )


@task("subtitles.check_file", queue="subtitles", input=CheckFileInput, output=CheckFileOutput)
def check_file(run: TaskRun, params: CheckFileInput) -> CheckFileOutput:
    """Check any SRT, WebVTT or ASS file against a reading profile and write the QC report."""
    source = run.input_path(params.subtitle_path)
    cues = read_cues(source, params.subtitle_path, strict=True)
    profile = profile_of(params.profile)
    # ASS keeps centiseconds: a time may sit 5 ms off the one it was written from
    tolerance_s = 0.006 if source.suffix.lower() in (".ass", ".ssa") else 0.002
    report = check_cues(cues, profile, _fps(run, params), tolerance_s)
    qc_path = _write_report(run, report, f"{source.stem}.qc.json")
    log.info("subtitles_checked", cues=report.cue_count, profile=profile.name, compliant_share=report.compliant_share)
    return CheckFileOutput(
        qc_path=qc_path,
        profile=profile.name,
        cue_count=report.cue_count,
        compliant_cues=report.compliant_cues,
        compliant_share=report.compliant_share,
        rules=report.rules,
    )
