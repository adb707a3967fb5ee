"""Planning a dub before and while it is spoken: merged lines, the room each line may take, its budget.

A line may run past its cue into the silence before the next line (``borrowed`` time; a short margin is
kept so that two lines never touch) and may start a little early when the gap before it is free. Very
short neighbouring lines of one speaker are merged into one, so that each is not rushed on its own. The
character budget of a line is what the voice's measured speaking rate says fits its room at ``max_speed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# a line ends at least this long before the next one starts (so that two voices never run together)
GAP_S = 0.1
# how far a line may start before its cue, into a silent gap
LEAD_S = 0.25
# merging: lines shorter than this, of one speaker, closer than MERGE_GAP_S, into at most MERGE_MAX_S
SHORT_LINE_S = 1.2
MERGE_GAP_S = 0.4
MERGE_MAX_S = 8.0
# a shortened line is asked for a little under its budget: speech rates vary from line to line
BUDGET_MARGIN = 0.9
# the picture is slowed over a line's span only when the span is at least this long
MIN_STRETCH_S = 0.2


@dataclass(frozen=True)
class Cue:
    """A cue to speak (the cue indices it stands for, when merged), before any voice is chosen."""

    start_s: float
    end_s: float
    text: str
    speaker: str | None
    indices: tuple[int, ...]


def merge_short(cues: list[Cue]) -> list[Cue]:
    """Return ``cues`` with very short neighbouring lines of one speaker joined (times spanning both)."""
    out: list[Cue] = []
    for cue in cues:
        if out and _mergeable(out[-1], cue):
            last = out[-1]
            out[-1] = Cue(
                start_s=last.start_s,
                end_s=max(last.end_s, cue.end_s),
                text=f"{last.text} {cue.text}".strip(),
                speaker=last.speaker,
                indices=(*last.indices, *cue.indices),
            )
        else:
            out.append(cue)
    return out


def _mergeable(a: Cue, b: Cue) -> bool:
    short = min(a.end_s - a.start_s, b.end_s - b.start_s) < SHORT_LINE_S
    close = 0 <= b.start_s - a.end_s <= MERGE_GAP_S
    return a.speaker == b.speaker and short and close and b.end_s - a.start_s <= MERGE_MAX_S and bool(a.text)


@dataclass(frozen=True)
class Room:
    """Where a line may sound: from ``start_s`` (its cue's start or a little before) to ``end_s``."""

    start_s: float
    end_s: float

    @property
    def length_s(self) -> float:
        """Return the seconds of room."""
        return max(0.0, self.end_s - self.start_s)


def room(cue: Cue, *, previous_end_s: float, next_start_s: float, track_end_s: float, needed_s: float) -> Room:
    """Return the room of a line that lasts ``needed_s`` at natural speed.

    It ends at its cue's end when it fits there; else it borrows the silence after the cue up to
    ``GAP_S`` before the next line (overlapping cues: the next line's start is the limit), then up to
    ``LEAD_S`` before its cue when the previous line ended earlier than that.
    """
    limit_s = min(next_start_s - GAP_S, track_end_s)
    limit_s = max(limit_s, min(cue.start_s + 0.05, next_start_s))
    end_s = min(max(cue.end_s, cue.start_s + needed_s), limit_s)
    start_s = cue.start_s
    if needed_s > end_s - start_s:
        start_s = max(cue.start_s - LEAD_S, previous_end_s + GAP_S, 0.0)
        start_s = min(start_s, cue.start_s)
        start_s = max(start_s, end_s - needed_s)
    return Room(start_s=start_s, end_s=end_s)


@dataclass
class SpeakingRates:
    """Each voice's measured speaking rate (characters per second at natural speed)."""

    chars: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, voice: str, text: str, spoken_s: float) -> None:
        """Count one spoken line."""
        if spoken_s > 0 and text:
            self.chars[voice] = self.chars.get(voice, 0) + len(text)
            self.seconds[voice] = self.seconds.get(voice, 0.0) + spoken_s

    def rate(self, voice: str) -> float | None:
        """Return the voice's characters per second so far, if it has spoken."""
        seconds = self.seconds.get(voice, 0.0)
        return self.chars[voice] / seconds if seconds > 0 else None

    def summary(self) -> dict[str, float]:
        """Return every voice's rate, rounded, for the manifest."""
        return {v: round(self.chars[v] / s, 2) for v, s in self.seconds.items() if s > 0}


def budget_chars(rate_cps: float, room_s: float, max_speed: float) -> int:
    """Return how many characters fit ``room_s`` at ``max_speed`` for a voice speaking ``rate_cps``."""
    return max(1, math.floor(rate_cps * room_s * max_speed * BUDGET_MARGIN))
