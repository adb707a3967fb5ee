"""The subtitle layout before issue 22, frozen as the benchmark's baseline: greedy cues on whisper's word times.

Each segment's words fill a cue until the next word would not fit 42 x 2 characters or 7 s; a cue starts at its
first word and ends at its last (no look at the audio, no pause rule, no reading-speed rule).
"""

from __future__ import annotations

import itertools

from actors.subtitles.formats import Cue
from actors.subtitles.linebreak import line_count
from actors.subtitles.transcript import Segment

MAX_CHARS, MAX_LINES, MAX_DURATION_S = 42, 2, 7.0


def _greedy_lines(words: list[str], width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if current and len(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _cue(tokens: list[tuple[str, float, float]]) -> Cue:
    words = [t[0] for t in tokens]
    lines = _greedy_lines(words, MAX_CHARS)
    if len(lines) > 1:  # the narrowest width that needs no more lines
        low, high = 1, MAX_CHARS
        while low < high:
            mid = (low + high) // 2
            if len(_greedy_lines(words, mid)) <= len(lines):
                high = mid
            else:
                low = mid + 1
        lines = _greedy_lines(words, high)
    return Cue(start_s=round(tokens[0][1], 3), end_s=round(tokens[-1][2], 3), text="\n".join(lines))


def baseline_cues(segments: list[Segment]) -> list[Cue]:
    """Return the cues the pre-issue-22 layout made from ``segments`` (without speakers)."""
    cues: list[Cue] = []
    for segment in sorted(segments, key=lambda s: s.start):
        tokens = [(w.word.strip(), w.start, max(w.end, w.start)) for w in segment.words or [] if w.word.strip()]
        current: list[tuple[str, float, float]] = []
        for token in tokens:
            trial = [*current, token]
            text = " ".join(t[0] for t in trial)
            fits = line_count(text, MAX_CHARS) <= MAX_LINES and trial[-1][2] - trial[0][1] <= MAX_DURATION_S
            if current and not fits:
                cues.append(_cue(current))
                current = []
            current.append(token)
        if current:
            cues.append(_cue(current))
    for cue, following in itertools.pairwise(cues):
        if cue.end_s > following.start_s:
            cue.end_s = max(cue.start_s, following.start_s)
    return cues
