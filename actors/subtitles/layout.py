"""Lay transcription segments out as subtitle cues: speakers, line wrapping and cue length."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import msgspec

from actors.errors import InputFileError
from actors.subtitles.formats import Cue


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


@dataclass(frozen=True)
class Layout:
    """How cues are shaped: characters per line, lines per cue, seconds per cue."""

    max_chars_per_line: int
    max_lines: int
    max_duration_s: float


JsonFile = TypeVar("JsonFile", Transcript, Diarization)


@dataclass
class _Token:
    text: str
    start: float
    end: float
    speaker: str | None


def read_json_file(path: Path, shown_as: str, kind: type[JsonFile]) -> JsonFile:
    """Decode a segments or diarization JSON file.

    Raises:
        InputFileError: the file is not JSON of the expected shape; the message names the field.
    """
    try:
        return msgspec.json.decode(path.read_bytes(), type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InputFileError(f"{shown_as!r} is not a {kind.__name__.lower()} JSON file: {exc}") from None


def _greedy(words: list[str], width: int, first_offset: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in words:
        room = width - (first_offset if not lines else 0)
        candidate = f"{current} {word}" if current else word
        if current and len(candidate) > room:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def line_count(text: str, max_chars: int, first_offset: int = 0) -> int:
    """Return how many lines of at most ``max_chars`` the text needs (a longer word gets its own line)."""
    return len(_greedy(text.split(), max_chars, first_offset))


def wrap_balanced(text: str, max_chars: int, first_offset: int = 0) -> list[str]:
    """Wrap text in as few lines of at most ``max_chars`` as possible, with lines of even length.

    ``first_offset`` reserves room on the first line (an SRT ``Speaker: `` prefix).
    """
    words = text.split()
    lines = _greedy(words, max_chars, first_offset)
    if len(lines) <= 1:
        return lines
    low, high = 1, max_chars
    while low < high:  # the narrowest width that still needs no more lines
        mid = (low + high) // 2
        if len(_greedy(words, mid, first_offset)) <= len(lines):
            high = mid
        else:
            low = mid + 1
    return _greedy(words, high, first_offset)


class _Speakers:
    """Find the speaker of a time span: the turn that overlaps it most, else the nearest turn."""

    def __init__(self, turns: list[Turn]) -> None:
        self.turns = sorted(turns, key=lambda t: t.start)
        self.starts = [t.start for t in self.turns]
        self.longest = max((t.end - t.start for t in self.turns), default=0.0)

    def at(self, start: float, end: float) -> str | None:
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
        nearest = min(self.turns, key=lambda t: max(t.start - end, start - t.end, 0.0))
        return nearest.speaker


def _tokens(segment: Segment, speakers: _Speakers | None) -> list[_Token]:
    """Split a segment into timed words; without word times, spread its time over its words by length."""
    words = [w for w in segment.words or [] if w.word.strip()]
    if words:
        return [
            _Token(
                w.word.strip(),
                w.start,
                max(w.end, w.start),
                speakers.at(w.start, w.end) if speakers else segment.speaker,
            )
            for w in words
        ]
    texts = segment.text.split()
    speaker = speakers.at(segment.start, segment.end) if speakers else segment.speaker
    total = sum(len(t) + 1 for t in texts)
    span = max(segment.end - segment.start, 0.0)
    tokens, at = [], segment.start
    for text in texts:
        step = span * (len(text) + 1) / total
        tokens.append(_Token(text, at, at + step, speaker))
        at += step
    return tokens


def _offset(speaker: str | None) -> int:
    return len(speaker) + 2 if speaker else 0


def _fits(tokens: list[_Token], layout: Layout) -> bool:
    text = " ".join(t.text for t in tokens)
    duration = tokens[-1].end - tokens[0].start
    lines = line_count(text, layout.max_chars_per_line, _offset(tokens[0].speaker))
    return lines <= layout.max_lines and duration <= layout.max_duration_s


def _cue(tokens: list[_Token], layout: Layout) -> Cue:
    speaker = tokens[0].speaker
    text = " ".join(t.text for t in tokens)
    lines = wrap_balanced(text, layout.max_chars_per_line, _offset(speaker))
    return Cue(
        start_s=round(tokens[0].start, 3), end_s=round(tokens[-1].end, 3), text="\n".join(lines), speaker=speaker
    )


def _group(tokens: list[_Token], layout: Layout) -> list[Cue]:
    """Fill cues greedily; a new cue starts at a speaker change or when the next word would not fit."""
    cues: list[Cue] = []
    current: list[_Token] = []
    for token in tokens:
        if current and (token.speaker != current[0].speaker or not _fits([*current, token], layout)):
            cues.append(_cue(current, layout))
            current = []
        current.append(token)
    if current:
        cues.append(_cue(current, layout))
    return cues


def build_cues(segments: list[Segment], turns: list[Turn] | None, layout: Layout) -> list[Cue]:
    """Turn segments into cues that respect the layout; with turns, each word gets its speaker.

    Words carry their own speaker when the segments have word times; otherwise the whole segment
    takes the speaker who talks most during it.
    """
    speakers = _Speakers(turns) if turns is not None else None
    cues: list[Cue] = []
    for segment in sorted(segments, key=lambda s: s.start):
        cues.extend(_group(_tokens(segment, speakers), layout))
    for cue, following in itertools.pairwise(cues):
        if cue.end_s > following.start_s:  # never let two cues show at once
            cue.end_s = max(cue.start_s, following.start_s)
    return cues
