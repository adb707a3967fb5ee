"""``subtitles.*`` tasks: subtitle files from transcription segments (and speaker turns)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import structlog

from actors.spec import task
from actors.subtitles.formats import WRITERS, cues_json
from actors.subtitles.layout import Diarization, Layout, Transcript, build_cues, read_json_file
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)

Format = Literal["srt", "vtt", "ass"]


class GenerateFilesInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``subtitles.generate_files``."""

    segments_file: Annotated[str, StoragePath]
    diarization_file: Annotated[str, StoragePath] | None = None
    formats: Annotated[list[Format], msgspec.Meta(min_length=1, max_length=3)] = msgspec.field(
        default_factory=lambda: ["srt", "vtt"]
    )
    max_chars_per_line: Annotated[int, msgspec.Meta(ge=10, le=200)] = 42
    max_lines: Annotated[int, msgspec.Meta(ge=1, le=4)] = 2
    max_duration_s: Annotated[float, msgspec.Meta(ge=1, le=60)] = 7.0


class GenerateFilesOutput(msgspec.Struct, kw_only=True):
    """Output of ``subtitles.generate_files``; SRT and JSON are always written."""

    srt_path: str
    json_path: str
    cues_count: int
    vtt_path: str | None = None
    ass_path: str | None = None


@task("subtitles.generate_files", queue="subtitles", input=GenerateFilesInput, output=GenerateFilesOutput)
def generate_files(run: TaskRun, params: GenerateFilesInput) -> GenerateFilesOutput:
    """Write SRT, WebVTT and ASS subtitles from segments JSON, with speakers when diarization is given."""
    transcript = read_json_file(run.input_path(params.segments_file), params.segments_file, Transcript)
    turns = None
    if params.diarization_file is not None:
        diarization = read_json_file(run.input_path(params.diarization_file), params.diarization_file, Diarization)
        turns = diarization.segments
    layout = Layout(params.max_chars_per_line, params.max_lines, params.max_duration_s)
    cues = build_cues(transcript.segments, turns, layout)
    run.checkpoint()
    paths: dict[str, str] = {}
    for fmt in ("srt", *params.formats):
        target = run.output_dir / f"subtitles.{fmt}"
        target.write_text(WRITERS[fmt](cues), encoding="utf-8")
        paths[fmt] = run.rel(target)
    json_target = run.output_dir / "subtitles.json"
    json_target.write_bytes(cues_json(cues))
    log.info("subtitles_written", cues=len(cues), formats=sorted(paths), speakers=turns is not None)
    return GenerateFilesOutput(
        srt_path=paths["srt"],
        vtt_path=paths.get("vtt"),
        ass_path=paths.get("ass"),
        json_path=run.rel(json_target),
        cues_count=len(cues),
    )
