"""What the subtitles are made from: a segments JSON file (with word times) and speaker turns."""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import TypeVar

import msgspec

from actors.errors import InputFileError


class Word(msgspec.Struct, kw_only=True):
    """One recognised word with its times (faster-whisper's ``word_timestamps``)."""

    word: str
    start: float
    end: float
    probability: float = 1.0


class Segment(msgspec.Struct, kw_only=True):
    """One transcription segment; ``words`` when the transcription had word timestamps."""

    start: float
    end: float
    text: str = ""
    words: list[Word] | None = None
    speaker: str | None = None


class Transcript(msgspec.Struct, kw_only=True):
    """A segments JSON file (other fields, such as ``language``, are ignored)."""

    segments: list[Segment]


class Turn(msgspec.Struct, kw_only=True):
    """One speaker turn from diarization."""

    speaker: str
    start: float
    end: float


class Diarization(msgspec.Struct, kw_only=True):
    """A diarization JSON file."""

    segments: list[Turn]


JsonFile = TypeVar("JsonFile", Transcript, Diarization)


def read_json_file(path: Path, shown_as: str, kind: type[JsonFile]) -> JsonFile:
    """Decode a segments or diarization JSON file.

    Raises:
        InputFileError: the file is not JSON of the expected shape; the message names the field.
    """
    try:
        return msgspec.json.decode(path.read_bytes(), type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InputFileError(f"{shown_as!r} is not a {kind.__name__.lower()} JSON file: {exc}") from None


class Speakers:
    """Find the speaker of a time span.

    The turn that overlaps it most, else the nearest turn (as whisperX's
    ``assign_word_speakers`` does for words).
    """

    def __init__(self, turns: list[Turn]) -> None:
        self.turns = sorted(turns, key=lambda t: t.start)
        self.starts = [t.start for t in self.turns]
        self.longest = max((t.end - t.start for t in self.turns), default=0.0)

    def at(self, start: float, end: float) -> str | None:
        """Return the speaker of ``start``..``end`` (None without turns)."""
        if not self.turns:
            return None
        best, best_overlap = None, 0.0
        i = bisect.bisect_right(self.starts, end) - 1
        while i >= 0 and self.turns[i].start >= start - self.longest:
            turn = self.turns[i]
            overlap = min(end, turn.end) - max(start, turn.start)
            if overlap > best_overlap:
                best, best_overlap = turn.speaker, overlap
            i -= 1
        if best is not None:
            return best
        i = bisect.bisect_left(self.starts, start)
        near = self.turns[max(0, i - 1) : i + 1] or self.turns[-1:]
        nearest = min(near, key=lambda t: max(t.start - end, start - t.end, 0.0))
        return nearest.speaker
