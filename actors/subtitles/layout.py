"""Lay timed words out as cues.

A pause or a new speaker ends a cue, and inside a stretch of speech the cue breaks go where a reader expects them
(sentence and clause ends) while every cue fits the profile.
"""

from __future__ import annotations

from actors.subtitles.formats import Cue
from actors.subtitles.linebreak import break_lines, break_score, ends_sentence, line_count, wrap_balanced
from actors.subtitles.profiles import Profile, min_gap_s
from actors.subtitles.timing import Group, Timing, Token, settle
from actors.subtitles.transcript import (
    Diarization,
    Segment,
    Speakers,
    Transcript,
    Turn,
    Word,
    read_json_file,
)

__all__ = [
    "Diarization",
    "Segment",
    "Timing",
    "Token",
    "Transcript",
    "Turn",
    "Word",
    "build_cues",
    "line_count",
    "read_json_file",
    "tokens_of",
    "wrap_balanced",
]

_LOOKBACK_WORDS = 40
_BREATH_S = 0.25  # a pause longer than this between words is a place to cut a cue


def offset(speaker: str | None) -> int:
    """Return the room a ``Speaker: `` label takes on a cue's first line."""
    return len(speaker) + 2 if speaker else 0


def _segment_tokens(segment: Segment, speakers: Speakers | None) -> list[Token]:
    """Split a segment into timed words; without word times, spread its time over its words by length."""
    words = [w for w in segment.words or [] if w.word.strip()]
    if words:
        return [
            Token(
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
        tokens.append(Token(text, at, at + step, speaker))
        at += step
    return tokens


def tokens_of(segments: list[Segment], turns: list[Turn] | None) -> list[Token]:
    """Return every word of the segments in time order, each with its speaker when turns are given."""
    speakers = Speakers(turns) if turns is not None else None
    tokens = [t for s in sorted(segments, key=lambda s: s.start) for t in _segment_tokens(s, speakers)]
    tokens.sort(key=lambda t: t.start)
    return tokens


def _phrases(tokens: list[Token], pause_s: float) -> list[list[Token]]:
    """Cut the words at every pause longer than ``pause_s`` and at every change of speaker."""
    phrases: list[list[Token]] = []
    for token in tokens:
        if phrases and token.speaker == phrases[-1][-1].speaker and token.start - phrases[-1][-1].end <= pause_s:
            phrases[-1].append(token)
        else:
            phrases.append([token])
    return phrases


def _piece_cost(  # noqa: PLR0917  (the split's inner loop)
    words: list[Token], i: int, j: int, profile: Profile, timing: Timing, gap_s: float
) -> float | None:
    """Return the cost of words[i:j] as one cue, or None when it cannot be one."""
    piece = words[i:j]
    text = " ".join(t.text for t in piece)
    lines = line_count(text, profile.max_chars_per_line, offset(piece[0].speaker))
    span = piece[-1].end - piece[0].start
    if j - i > 1 and (lines > profile.max_lines or span > profile.max_duration_s):
        return None
    cost = 1.0  # each cue costs a little: fewer, fuller cues read better
    if j < len(words):
        cost += break_score(piece[-1].text, words[j].text)
        pause = words[j].start - piece[-1].end
        cost -= max(0.0, min(pause, 0.6) - _BREATH_S) * 8  # a breath is a good place to cut
        shown = words[j].start - gap_s - piece[0].start
    else:
        shown = piece[-1].end + timing.linger_s - piece[0].start
    shown = min(shown, profile.max_duration_s)
    chars = len(text) + offset(piece[0].speaker)
    if shown < profile.min_duration_s:
        cost += 4.0 + 6 * (profile.min_duration_s - shown)
    excess = chars / max(shown, 0.05) - profile.max_cps
    if excess > 0:
        cost += 4.0 + excess
    cost += 1.5 * sum(1 for t in piece[:-1] if ends_sentence(t.text))  # a sentence ending mid-cue
    return cost


def _split(words: list[Token], profile: Profile, timing: Timing, gap_s: float) -> list[list[Token]]:
    """Split one stretch of speech into cues at the least total cost (dynamic programming over word breaks)."""
    n = len(words)
    best = [0.0] + [float("inf")] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j - 1, max(-1, j - 1 - _LOOKBACK_WORDS), -1):
            if best[i] == float("inf"):
                continue
            cost = _piece_cost(words, i, j, profile, timing, gap_s)
            if cost is None:
                break  # longer pieces do not fit either
            if best[i] + cost < best[j]:
                best[j], back[j] = best[i] + cost, i
    pieces, j = [], n
    while j > 0:
        pieces.append(words[back[j] : j])
        j = back[j]
    return list(reversed(pieces))


def build_groups(tokens: list[Token], profile: Profile, timing: Timing, fps: float) -> list[Group]:
    """Return the words grouped into cues, with their line breaks."""
    gap_s = min_gap_s(profile, fps)
    groups = [
        Group(piece) for phrase in _phrases(tokens, timing.pause_s) for piece in _split(phrase, profile, timing, gap_s)
    ]
    for group in groups:
        group.lines = _lines(group, profile)
    return groups


def _lines(group: Group, profile: Profile) -> list[str]:
    shown = break_lines(group.text, profile.max_chars_per_line, profile.max_lines, offset(group.speaker))
    return shown if shown is not None else wrap_balanced(group.text, profile.max_chars_per_line, offset(group.speaker))


def build_cues(
    segments: list[Segment], turns: list[Turn] | None, profile: Profile, timing: Timing | None = None, fps: float = 25.0
) -> list[Cue]:
    """Turn segments into cues that follow the speech and keep the profile where the speech allows.

    With turns, each word takes the speaker whose turn overlaps it most and a cue never holds two speakers.
    """
    timing = timing or Timing()
    groups = build_groups(tokens_of(segments, turns), profile, timing, fps)
    return settle(groups, profile, timing, fps, relines=lambda g: _lines(g, profile))
