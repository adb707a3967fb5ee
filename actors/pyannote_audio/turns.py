"""Diarization files: speaker turns as JSON, read back, summarised per speaker and checked."""

from __future__ import annotations

from pathlib import Path

import msgspec

from actors.errors import InputFileError


class Turn(msgspec.Struct, kw_only=True):
    """One stretch of speech by one speaker, in seconds."""

    speaker: str
    start: float
    end: float


class Asked(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The speaker count a diarization was asked for."""

    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None


class DiarizationFile(msgspec.Struct, kw_only=True):
    """A diarization file; ``exclusive_segments`` has no overlaps (for aligning with transcripts)."""

    segments: list[Turn]
    speakers: list[str] = msgspec.field(default_factory=list)
    duration_s: float | None = None
    exclusive_segments: list[Turn] = msgspec.field(default_factory=list)
    asked: Asked | None = None


class SpeakerSummary(msgspec.Struct, kw_only=True):
    """How much one speaker speaks."""

    speaker: str
    segments_count: int
    speech_s: float


class Problem(msgspec.Struct, kw_only=True):
    """One thing wrong with a diarization; ``index`` points into ``segments`` when it is about one."""

    kind: str
    message: str
    index: int | None = None


class Limits(msgspec.Struct, kw_only=True):
    """What a plausible diarization looks like."""

    min_segment_s: float
    max_segment_s: float
    min_speakers: int
    max_speakers: int


_decoder = msgspec.json.Decoder(DiarizationFile)


def read_diarization(path: Path, shown_as: str) -> DiarizationFile:
    """Read a diarization file.

    Raises:
        InputFileError: it is not JSON with ``segments`` of ``{speaker, start, end}``.
    """
    try:
        return _decoder.decode(path.read_bytes())
    except msgspec.DecodeError as exc:
        raise InputFileError(f"{shown_as!r} is not a diarization file: {exc}") from None


def speakers_of(turns: list[Turn]) -> list[str]:
    """Return the speakers in order of first appearance."""
    return list(dict.fromkeys(t.speaker for t in turns))


def summarise(turns: list[Turn]) -> list[SpeakerSummary]:
    """Return each speaker's segment count and speech time, in order of first appearance."""
    counts: dict[str, int] = {}
    speech: dict[str, float] = {}
    for turn in turns:
        counts[turn.speaker] = counts.get(turn.speaker, 0) + 1
        speech[turn.speaker] = speech.get(turn.speaker, 0.0) + max(0.0, turn.end - turn.start)
    return [SpeakerSummary(speaker=s, segments_count=counts[s], speech_s=round(speech[s], 3)) for s in counts]


def _turn_problems(index: int, turn: Turn, limits: Limits, duration_s: float | None) -> list[Problem]:
    length = turn.end - turn.start
    span = f"segment {index} ({turn.speaker}, {turn.start:.3f}-{turn.end:.3f} s)"
    if turn.start < 0 or length <= 0:
        return [Problem(kind="invalid_times", message=f"{span} does not end after it starts", index=index)]
    found = []
    if length < limits.min_segment_s:
        found.append(
            Problem(
                kind="too_short", index=index, message=f"{span} lasts {length:.3f} s, under {limits.min_segment_s} s"
            )
        )
    if length > limits.max_segment_s:
        found.append(
            Problem(kind="too_long", index=index, message=f"{span} lasts {length:.3f} s, over {limits.max_segment_s} s")
        )
    if duration_s is not None and turn.end > duration_s + 0.01:
        found.append(Problem(kind="past_end", index=index, message=f"{span} ends after the audio ({duration_s:.3f} s)"))
    return found


def find_problems(diarization: DiarizationFile, limits: Limits) -> list[Problem]:
    """Return what is wrong: empty, bad or implausible segments, a speaker count out of range."""
    turns = diarization.segments
    if not turns:
        return [Problem(kind="empty", message="the diarization has no segments")]
    found = []
    for index, turn in enumerate(turns):
        found.extend(_turn_problems(index, turn, limits, diarization.duration_s))
    count = len(speakers_of(turns))
    if not limits.min_speakers <= count <= limits.max_speakers:
        found.append(
            Problem(
                kind="speaker_count",
                message=(f"{count} speakers, expected {limits.min_speakers} to {limits.max_speakers}"),
            )
        )
    return found
