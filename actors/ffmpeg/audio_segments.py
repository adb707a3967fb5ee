"""Plan audio segments from subtitle cues, and the ffmpeg commands that cut them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import msgspec

from actors.subtitles.formats import Cue

_OUTPUTS_PER_COMMAND = 50


class Segment(msgspec.Struct, kw_only=True):
    """One planned cut: times in seconds, the cues' text, and a speaker when all its cues share one."""

    start_s: float
    end_s: float
    text: str
    speaker: str | None = None


def _joinable(group: list[Cue], cue: Cue, max_s: float, by_speaker: bool) -> bool:
    if by_speaker and cue.speaker != group[0].speaker:
        return False
    return max(cue.end_s, group[-1].end_s) - group[0].start_s <= max_s


def _segment(group: list[Cue]) -> Segment:
    speakers = {c.speaker for c in group}
    return Segment(
        start_s=group[0].start_s,
        end_s=max(c.end_s for c in group),
        text=" ".join(c.text.replace("\n", " ") for c in group if c.text),
        speaker=speakers.pop() if len(speakers) == 1 else None,
    )


def _split_long(cue: Cue, max_s: float) -> list[Cue]:
    """Cut a cue longer than ``max_s`` into equal parts; each keeps the cue's text."""
    parts = math.ceil((cue.end_s - cue.start_s) / max_s - 1e-9)
    if parts <= 1:
        return [cue]
    step = (cue.end_s - cue.start_s) / parts
    return [
        Cue(start_s=cue.start_s + i * step, end_s=cue.start_s + (i + 1) * step, text=cue.text, speaker=cue.speaker)
        for i in range(parts)
    ]


def plan_segments(
    cues: Sequence[Cue], *, min_s: float, max_s: float, by_speaker: bool, duration_s: float
) -> list[Segment]:
    """Group consecutive cues into segments of at least ``min_s`` and at most ``max_s`` seconds.

    A segment grows with the next cue while it is shorter than ``min_s`` and the result fits ``max_s``
    (and, with ``by_speaker``, the speaker is the same). A short last segment joins the one before when it
    fits. Cues past the end of the audio are dropped; the rest are clipped to it.
    """
    clipped = [
        Cue(start_s=max(0.0, c.start_s), end_s=min(c.end_s, duration_s), text=c.text, speaker=c.speaker)
        for c in sorted(cues, key=lambda c: c.start_s)
        if c.start_s < duration_s and c.end_s > c.start_s
    ]
    pieces = [part for cue in clipped for part in _split_long(cue, max_s)]
    groups: list[list[Cue]] = []
    for cue in pieces:
        current = groups[-1] if groups else None
        too_short = current is not None and max(c.end_s for c in current) - current[0].start_s < min_s
        if current is not None and too_short and _joinable(current, cue, max_s, by_speaker):
            current.append(cue)
        else:
            groups.append([cue])
    if len(groups) > 1:
        last = groups[-1]
        if last[-1].end_s - last[0].start_s < min_s and all(_joinable(groups[-2], c, max_s, by_speaker) for c in last):
            groups[-2].extend(groups.pop())
    return [_segment(g) for g in groups]


def segment_name(index: int) -> str:
    """Return the file name of segment ``index``."""
    return f"segment_{index:04d}.wav"


def cut_commands(head: Sequence[str], source: Path, segments: Sequence[Segment], out_dir: Path) -> list[list[str]]:
    """Return ffmpeg commands that write each segment as 16-bit PCM WAV (one decode per 50 segments)."""
    commands = []
    for first in range(0, len(segments), _OUTPUTS_PER_COMMAND):
        outputs: list[str] = []
        for offset, seg in enumerate(segments[first : first + _OUTPUTS_PER_COMMAND]):
            outputs += [
                "-map",
                "0:a:0",
                "-ss",
                f"{seg.start_s:.3f}",
                "-to",
                f"{seg.end_s:.3f}",
                "-c:a",
                "pcm_s16le",
                str(out_dir / segment_name(first + offset)),
            ]
        commands.append([*head, "-i", str(source), *outputs])
    return commands
