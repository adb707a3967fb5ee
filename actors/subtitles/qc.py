"""Quality check of subtitle cues against a reading profile: which rules each cue breaks, and how many keep all."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from actors.subtitles.formats import Cue
from actors.subtitles.profiles import Profile, min_gap_s

# the rules, named after the profile number each one checks
RULES = ("max_chars_per_line", "max_lines", "min_duration_s", "max_duration_s", "max_cps", "min_gap_frames")

# times in subtitle files are rounded (SRT/WebVTT to the millisecond, ASS to the centisecond)
TOLERANCE_S = 0.002


class CueQc(msgspec.Struct, kw_only=True):
    """One cue's check: its 1-based index, times, reading speed and the rules it breaks (empty: compliant)."""

    index: int
    start_s: float
    end_s: float
    broken: list[str]
    cps: float = 0.0
    chars: int = 0


class QcReport(msgspec.Struct, kw_only=True):
    """A subtitle file's check: per rule the count of cues breaking it, and the share of cues keeping them all."""

    profile: str
    cue_count: int
    compliant_cues: int
    compliant_share: float
    rules: dict[str, int]
    cues: list[CueQc]
    fps: float = 25.0
    note: str | None = None


def shown_lines(cue: Cue) -> list[str]:
    """Return the lines a viewer reads: the text's lines, the first one after a ``Speaker: `` label if any."""
    lines = [line.strip() for line in cue.text.split("\n") if line.strip()] or [""]
    if cue.speaker:
        lines[0] = f"{cue.speaker}: {lines[0]}".rstrip()
    return lines


def reading_chars(lines: Sequence[str]) -> int:
    """Return the characters counted for reading speed: every character shown, spaces included, no line breaks."""
    return sum(len(line) for line in lines)


def cue_breaks(
    cue: Cue, following: Cue | None, profile: Profile, fps: float = 25.0, tolerance_s: float = TOLERANCE_S
) -> list[str]:
    """Return the rules ``cue`` breaks (the gap rule looks at the cue that follows it)."""
    lines = shown_lines(cue)
    duration = cue.end_s - cue.start_s
    broken = []
    if any(len(line) > profile.max_chars_per_line for line in lines):
        broken.append("max_chars_per_line")
    if len(lines) > profile.max_lines:
        broken.append("max_lines")
    if duration < profile.min_duration_s - tolerance_s:
        broken.append("min_duration_s")
    if duration > profile.max_duration_s + tolerance_s:
        broken.append("max_duration_s")
    if reading_chars(lines) > profile.max_cps * (duration + tolerance_s):
        broken.append("max_cps")
    if following is not None and following.start_s - cue.end_s < min_gap_s(profile, fps) - tolerance_s:
        broken.append("min_gap_frames")
    return broken


def check_cues(cues: Sequence[Cue], profile: Profile, fps: float = 25.0, tolerance_s: float = TOLERANCE_S) -> QcReport:
    """Check every cue against the profile; cues are taken in time order, ``fps`` sets the 2-frame gap."""
    ordered = sorted(cues, key=lambda c: (c.start_s, c.end_s))
    rows: list[CueQc] = []
    counts = dict.fromkeys(RULES, 0)
    for i, cue in enumerate(ordered):
        following = ordered[i + 1] if i + 1 < len(ordered) else None
        broken = cue_breaks(cue, following, profile, fps, tolerance_s)
        for rule in broken:
            counts[rule] += 1
        chars = reading_chars(shown_lines(cue))
        duration = cue.end_s - cue.start_s
        rows.append(
            CueQc(
                index=i + 1,
                start_s=round(cue.start_s, 3),
                end_s=round(cue.end_s, 3),
                broken=broken,
                cps=round(chars / duration, 2) if duration > 0 else 0.0,
                chars=chars,
            )
        )
    compliant = sum(1 for row in rows if not row.broken)
    return QcReport(
        profile=profile.name,
        cue_count=len(rows),
        compliant_cues=compliant,
        compliant_share=round(compliant / len(rows), 4) if rows else 1.0,
        rules=counts,
        cues=rows,
        fps=fps,
        note=None if rows else "no cues: the transcript holds no speech",
    )
