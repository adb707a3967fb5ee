"""Cue times that follow the speech.

A cue starts at the onset of its first word and ends a short linger after its last one; a cue too
short or too fast takes time from the silence around it, else joins a neighbour of the same speaker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from actors.subtitles.formats import Cue
from actors.subtitles.profiles import Profile, min_gap_s

_CHAIN_S = 0.5  # cues closer than this are chained (the gap closed to the minimum), as Netflix asks
_MAX_MERGE_ROUNDS = 3


@dataclass(frozen=True)
class Timing:
    """How cues sit on the speech.

    ``linger_s`` after the last word, a ``pause_s`` pause always ends a cue,
    a cue may start up to ``max_lead_s`` before its speech to stay on screen long enough.
    """

    linger_s: float = 0.5
    pause_s: float = 0.6
    max_lead_s: float = 0.2


@dataclass
class Token:
    """One word on its way to a cue."""

    text: str
    start: float
    end: float
    speaker: str | None


@dataclass
class Group:
    """The words of one cue, with the lines they are shown on."""

    tokens: list[Token]
    lines: list[str] = field(default_factory=list)

    @property
    def speaker(self) -> str | None:
        """Return the speaker of the cue (its first word's)."""
        return self.tokens[0].speaker

    @property
    def text(self) -> str:
        """Return the words joined by spaces."""
        return " ".join(t.text for t in self.tokens)

    @property
    def chars(self) -> int:
        """Return the characters a viewer reads (a speaker label included)."""
        label = len(self.speaker) + 2 if self.speaker else 0
        return label + sum(len(line) for line in self.lines)


def _need(group: Group, profile: Profile) -> float:
    # a millisecond more, so that rounding the times to milliseconds cannot take the cue under its limits
    return max(profile.min_duration_s, group.chars / profile.max_cps) + 0.001


def _room(groups: list[Group], i: int, profile: Profile, timing: Timing, gap_s: float) -> float:
    """Return the most time cue ``i`` could have between its neighbours' speech."""
    first = groups[i].tokens[0].start
    earliest = first - timing.max_lead_s
    if i > 0:
        earliest = max(earliest, groups[i - 1].tokens[-1].end + gap_s)
    latest = first + profile.max_duration_s
    if i + 1 < len(groups):
        latest = min(latest, groups[i + 1].tokens[0].start - gap_s)
    return latest - min(earliest, first)


def _mergeable(
    a: Group, b: Group, profile: Profile, timing: Timing, relines: Callable[[Group], list[str] | None]
) -> Group | None:
    if a.speaker != b.speaker or b.tokens[0].start - a.tokens[-1].end > timing.pause_s:
        return None
    if b.tokens[-1].end - a.tokens[0].start > profile.max_duration_s:
        return None
    merged = Group([*a.tokens, *b.tokens])
    lines = relines(merged)
    if lines is None or len(lines) > profile.max_lines:
        return None
    merged.lines = lines
    return merged


def _merge_short(
    groups: list[Group], profile: Profile, timing: Timing, gap_s: float, relines: Callable[[Group], list[str] | None]
) -> list[Group]:
    """Join a cue that cannot get the time it needs to a neighbour of the same speaker, when the pair fits."""
    for _ in range(_MAX_MERGE_ROUNDS):
        changed = False
        i = 0
        while i < len(groups):
            if _room(groups, i, profile, timing, gap_s) >= _need(groups[i], profile):
                i += 1
                continue
            for j in (i - 1, i + 1):
                if not 0 <= j < len(groups):
                    continue
                a, b = (groups[j], groups[i]) if j < i else (groups[i], groups[j])
                merged = _mergeable(a, b, profile, timing, relines)
                if merged is None:
                    continue
                trial = [*groups[: min(i, j)], merged, *groups[max(i, j) + 1 :]]
                if _room(trial, min(i, j), profile, timing, gap_s) >= _need(merged, profile):
                    groups, changed = trial, True
                    break
            i += 1
        if not changed:
            break
    return groups


def settle(
    groups: list[Group],
    profile: Profile,
    timing: Timing,
    fps: float,
    relines: Callable[[Group], list[str] | None],
) -> list[Cue]:
    """Return the cues of ``groups`` with their final times (see the module docstring)."""
    gap_s = min_gap_s(profile, fps)
    groups = _merge_short(groups, profile, timing, gap_s, relines)
    starts = [g.tokens[0].start for g in groups]
    ends = [0.0] * len(groups)
    for i, group in enumerate(groups):
        need = _need(group, profile)
        speech_end = group.tokens[-1].end
        limit = starts[i] + profile.max_duration_s
        if i + 1 < len(groups):
            following = starts[i + 1]
            limit = min(limit, following - gap_s)
        end = max(speech_end + timing.linger_s, starts[i] + need)
        if i + 1 < len(groups) and starts[i + 1] - end < _CHAIN_S:
            end = starts[i + 1] - gap_s
        ends[i] = min(end, limit)
        short = need - (ends[i] - starts[i])
        if short > 0:  # start a little before the speech, taking time from the previous cue's linger
            earliest = starts[i] - min(short, timing.max_lead_s)
            if i > 0:
                floor = max(groups[i - 1].tokens[-1].end, starts[i - 1] + _need(groups[i - 1], profile))
                earliest = max(earliest, min(ends[i - 1], floor) + gap_s)
                ends[i - 1] = min(ends[i - 1], earliest - gap_s)
            starts[i] = min(starts[i], earliest)
        ends[i] = max(ends[i], starts[i] + 0.001)
    return [
        Cue(start_s=round(s, 3), end_s=round(e, 3), text="\n".join(g.lines), speaker=g.speaker)
        for g, s, e in zip(groups, starts, ends, strict=True)
    ]
