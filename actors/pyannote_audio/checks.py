"""What a user wants to know about a diarization beyond its segments: speakers found vs asked, speech nobody said.

"Speech without a speaker" needs to know where the speech is: a transcript (the segments file of
``faster_whisper.transcribe_audio``) says it. Its words (or segments, without word timestamps) that no
speaker turn covers are speech the diarization missed: too much of it and the speaker labels of
subtitles or dubbing will be wrong there.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from actors.errors import InputFileError
from actors.pyannote_audio.turns import DiarizationFile, Problem, Turn, speakers_of

_SPANS_SHOWN = 5
# Whisper's word times are off by a few hundred milliseconds (a first word often starts early): a word this close
# to a turn is that turn's speaker's, as the nearest-turn rule of whisperX's assign_word_speakers has it
TOLERANCE_S = 0.5


class _Timed(msgspec.Struct):
    start: float
    end: float


class _Piece(msgspec.Struct):
    start: float
    end: float
    words: list[_Timed] = msgspec.field(default_factory=list)


class _Transcript(msgspec.Struct):
    segments: list[_Piece]


_transcript = msgspec.json.Decoder(_Transcript)


def count_problems(diarization: DiarizationFile) -> list[Problem]:
    """Flag fewer (or more) speakers than the diarization was asked for (``num_speakers`` or bounds)."""
    found = len(speakers_of(diarization.segments))
    asked = diarization.asked
    if asked is None:
        return []
    low = asked.num_speakers or asked.min_speakers
    high = asked.num_speakers or asked.max_speakers
    if low is not None and found < low:
        wanted = f"{low}" if asked.num_speakers else f"at least {low}"
        return [
            Problem(
                kind="fewer_speakers_than_asked",
                message=f"{found} speakers found, {wanted} asked: the recording may have fewer distinct voices",
            )
        ]
    if high is not None and found > high:
        return [Problem(kind="more_speakers_than_asked", message=f"{found} speakers found, at most {high} asked")]
    return []


def speech_pieces(path: Path, shown_as: str) -> list[tuple[float, float]]:
    """Return the times of a transcript's words (or of its segments where they have no words).

    Raises:
        InputFileError: the file is not a segments file.
    """
    try:
        transcript = _transcript.decode(path.read_bytes())
    except (msgspec.DecodeError, OSError) as exc:
        raise InputFileError(f"{shown_as!r} is not a segments file of faster_whisper.transcribe_audio: {exc}") from None
    pieces: list[tuple[float, float]] = []
    for segment in transcript.segments:
        if segment.words:
            pieces.extend((w.start, w.end) for w in segment.words)
        else:
            pieces.append((segment.start, segment.end))
    return [(start, end) for start, end in pieces if end > start]


def _covered(start: float, end: float, turns: list[Turn]) -> float:
    return sum(max(0.0, min(end, t.end + TOLERANCE_S) - max(start, t.start - TOLERANCE_S)) for t in turns)


def uncovered_speech(pieces: list[tuple[float, float]], turns: list[Turn]) -> list[tuple[float, float]]:
    """Return the pieces of speech that no speaker turn covers (less than half of each, turns widened a little)."""
    return [(start, end) for start, end in pieces if _covered(start, end, turns) < 0.5 * (end - start)]


def speech_problems(
    pieces: list[tuple[float, float]], turns: list[Turn], max_share: float
) -> tuple[list[Problem], float]:
    """Flag speech without a speaker when more than ``max_share`` of the transcript's speech has none.

    Returns the problems and the seconds of speech without a speaker.
    """
    missing = uncovered_speech(pieces, turns)
    missing_s = sum(end - start for start, end in missing)
    total_s = sum(end - start for start, end in pieces)
    if not missing or missing_s <= max_share * total_s:
        return [], round(missing_s, 3)
    shown = ", ".join(f"{start:.2f}-{end:.2f} s" for start, end in missing[:_SPANS_SHOWN])
    more = f" and {len(missing) - _SPANS_SHOWN} more" if len(missing) > _SPANS_SHOWN else ""
    message = (
        f"{missing_s:.2f} s of the {total_s:.2f} s of transcribed speech has no speaker ({shown}{more}): "
        "the diarization missed a voice there"
    )
    return [Problem(kind="speech_without_speaker", message=message)], round(missing_s, 3)
