"""``pyannote_audio.*`` tasks: who speaks when, and reading diarization files back."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import structlog

from actors.engine_device import engine_device, uses_cuda
from actors.errors import InputError
from actors.ffmpeg.pcm import decode_mono
from actors.pyannote_audio.checks import count_problems, speech_pieces, speech_problems
from actors.pyannote_audio.engine import diarize, load_pipeline, pipeline_source
from actors.pyannote_audio.turns import (
    Asked,
    Limits,
    Problem,
    SpeakerSummary,
    Turn,
    find_problems,
    read_diarization,
    summarise,
)
from actors.spec import task
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun
from actors.worker.warm import WARM
from config import Settings

log = structlog.get_logger(__name__)

SpeakerCount = Annotated[int, msgspec.Meta(ge=1, le=100)]
Seconds = Annotated[float, msgspec.Meta(ge=0)]
_PROBLEMS_SHOWN = 100


class DiarizeInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``pyannote_audio.diarize_speakers``: give ``num_speakers``, or bounds, or neither."""

    audio_path: Annotated[str, StoragePath]
    num_speakers: SpeakerCount | None = None
    min_speakers: SpeakerCount | None = None
    max_speakers: SpeakerCount | None = None

    def __post_init__(self) -> None:
        if self.num_speakers is not None and (self.min_speakers is not None or self.max_speakers is not None):
            raise ValueError("give num_speakers or min_speakers/max_speakers, not both")
        if self.min_speakers is not None and self.max_speakers is not None and self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers must not exceed max_speakers")


class DiarizeOutput(msgspec.Struct, kw_only=True):
    """Output of ``pyannote_audio.diarize_speakers``; ``pipeline_cache`` says whether this task loaded it."""

    diarization_file: str
    speakers: list[str]
    segments_count: int
    audio_duration_s: float
    pipeline_cache: Literal["loaded", "reused"]


class SpeakerSegmentsInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``pyannote_audio.get_speaker_segments``; without ``speaker``, every speaker's."""

    diarization_file: Annotated[str, StoragePath]
    speaker: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class SpeakerSegmentsOutput(msgspec.Struct, kw_only=True):
    """Output of ``pyannote_audio.get_speaker_segments``."""

    segments: list[Turn]
    speakers: list[SpeakerSummary]


class ValidateInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``pyannote_audio.validate_diarization``: the file and what counts as plausible.

    With ``segments_file`` (a transcript of the same audio), speech that no speaker turn covers is
    flagged when it is more than ``max_unassigned_share`` of the transcribed speech.
    """

    diarization_file: Annotated[str, StoragePath]
    segments_file: Annotated[str, StoragePath] | None = None
    max_unassigned_share: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.05
    min_segment_s: Seconds = 0.2
    max_segment_s: Annotated[float, msgspec.Meta(gt=0)] = 120.0
    min_speakers: SpeakerCount = 1
    max_speakers: SpeakerCount = 20

    def __post_init__(self) -> None:
        if self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers must not exceed max_speakers")
        if self.min_segment_s >= self.max_segment_s:
            raise ValueError("min_segment_s must be under max_segment_s")


class ValidateOutput(msgspec.Struct, kw_only=True):
    """Output of ``pyannote_audio.validate_diarization``: ``valid`` unless a problem was found."""

    valid: bool
    problems: list[Problem]
    problems_count: int
    speakers_count: int
    segments_count: int
    speech_s: float
    # what diarize_speakers was asked for (num_speakers, or min/max), when it recorded it
    speakers_asked: Asked | None
    # transcribed speech that no speaker turn covers (with segments_file)
    unassigned_speech_s: float | None


def uses_gpu(settings: Settings, _params: Any) -> bool:
    """Take the GPU lease when pyannote runs on cuda."""
    return uses_cuda(settings.pyannote.device)


@task("pyannote_audio.diarize_speakers", queue="pyannote_audio", input=DiarizeInput, output=DiarizeOutput, gpu=uses_gpu)
def diarize_speakers(run: TaskRun, params: DiarizeInput) -> DiarizeOutput:
    """Find who speaks when in an audio file; labels are SPEAKER_00, SPEAKER_01..."""
    source = run.input_path(params.audio_path)
    settings = run.settings.pyannote
    checkpoint, token = pipeline_source(settings)
    audio = decode_mono(source, params.audio_path)
    device = engine_device(settings.device, run.gpu_device).torch_name
    speakers = {k: v for k in ("num_speakers", "min_speakers", "max_speakers") if (v := getattr(params, k))}
    run.checkpoint()

    def on_progress(fraction: float) -> None:
        run.progress(fraction)
        run.checkpoint()

    key = (checkpoint, device)
    with WARM.run_lock("pyannote", key):
        pipeline, loaded = load_pipeline(key, settings, token)
        run.checkpoint()
        result = diarize(pipeline, audio, speakers, on_progress)
    target = run.output_dir / "diarization.json"
    target.write_bytes(msgspec.json.encode(result))
    log.info("diarized", speakers=len(result.speakers), segments=len(result.segments), audio_s=result.duration_s)
    return DiarizeOutput(
        diarization_file=run.rel(target),
        speakers=result.speakers,
        segments_count=len(result.segments),
        audio_duration_s=result.duration_s or 0.0,
        pipeline_cache="loaded" if loaded else "reused",
    )


@task(
    "pyannote_audio.get_speaker_segments",
    queue="pyannote_audio",
    input=SpeakerSegmentsInput,
    output=SpeakerSegmentsOutput,
)
def get_speaker_segments(run: TaskRun, params: SpeakerSegmentsInput) -> SpeakerSegmentsOutput:
    """List one speaker's segments (or everyone's) from a diarization file, with speech time per speaker."""
    diarization = read_diarization(run.input_path(params.diarization_file), params.diarization_file)
    summary = summarise(diarization.segments)
    if params.speaker is None:
        return SpeakerSegmentsOutput(segments=diarization.segments, speakers=summary)
    chosen = [s for s in summary if s.speaker == params.speaker]
    if not chosen:
        known = ", ".join(s.speaker for s in summary) or "none"
        raise InputError(f"speaker {params.speaker!r} is not in {params.diarization_file!r} (speakers: {known})")
    turns = [t for t in diarization.segments if t.speaker == params.speaker]
    return SpeakerSegmentsOutput(segments=turns, speakers=chosen)


@task("pyannote_audio.validate_diarization", queue="pyannote_audio", input=ValidateInput, output=ValidateOutput)
def validate_diarization(run: TaskRun, params: ValidateInput) -> ValidateOutput:
    """Check a diarization: segment lengths, speaker count (and vs asked), speech without a speaker."""
    diarization = read_diarization(run.input_path(params.diarization_file), params.diarization_file)
    limits = Limits(
        min_segment_s=params.min_segment_s,
        max_segment_s=params.max_segment_s,
        min_speakers=params.min_speakers,
        max_speakers=params.max_speakers,
    )
    problems = find_problems(diarization, limits) + count_problems(diarization)
    unassigned_s = None
    if params.segments_file is not None:
        pieces = speech_pieces(run.input_path(params.segments_file), params.segments_file)
        found, unassigned_s = speech_problems(pieces, diarization.segments, params.max_unassigned_share)
        problems.extend(found)
    summary = summarise(diarization.segments)
    return ValidateOutput(
        valid=not problems,
        problems=problems[:_PROBLEMS_SHOWN],
        problems_count=len(problems),
        speakers_count=len(summary),
        segments_count=len(diarization.segments),
        speech_s=round(sum(s.speech_s for s in summary), 3),
        speakers_asked=diarization.asked,
        unassigned_speech_s=unassigned_s,
    )
