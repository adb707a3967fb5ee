"""Slowing the picture (and the film's sound) down over spans: the last resort of a dub (``allow_video_stretch``).

A span ``[start_s, end_s)`` of the source plays ``factor`` times slower: it lasts ``(end_s - start_s) *
factor`` and everything after it comes ``added_s`` later. The picture is retimed with ``setpts``, one
piecewise time map per span (frames before the span keep their timestamps exactly, frames inside are
spread by the factor, frames after are shifted), then resampled to the source's constant frame rate
(frames inside a span are repeated). The span's edges are snapped to the frame grid, so the cuts fall
between frames. The sound is cut at the same edges (``atrim``), each stretched piece slowed down with
pitch kept (``rubberband``) and padded or trimmed to its exact new length, and the pieces concatenated
back, so the film's sound stays in sync with its picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import msgspec

from actors.errors import InputFileError
from actors.ffmpeg.tempo import tempo_filter
from actors.subtitles.formats import Cue

# a stretch bound: 1 (never) to 2 (a span plays at most twice as long)
StretchBound = Annotated[
    float, msgspec.Meta(ge=1.0, le=2.0, description="most a span is slowed: 1.25 = plays at most 25 % longer")
]


class VideoStretch(msgspec.Struct, kw_only=True, frozen=True):
    """One span of the source (seconds) that plays ``factor`` times slower, adding ``added_s``."""

    start_s: Annotated[float, msgspec.Meta(ge=0.0)]
    end_s: Annotated[float, msgspec.Meta(gt=0.0)]
    factor: Annotated[float, msgspec.Meta(gt=1.0, le=2.0)]

    @property
    def added_s(self) -> float:
        """Return the seconds the span adds to the film."""
        return (self.end_s - self.start_s) * (self.factor - 1.0)


class _Manifest(msgspec.Struct):
    """The part of a dub's manifest that says where the picture is slowed (other fields are ignored)."""

    video_stretches: list[VideoStretch] = msgspec.field(default_factory=list)


def to_output(t: float, stretches: Sequence[VideoStretch]) -> float:
    """Return where source time ``t`` falls on the stretched film (``stretches`` in time order)."""
    out = t
    for span in stretches:
        if t <= span.start_s:
            break
        out += (min(t, span.end_s) - span.start_s) * (span.factor - 1.0)
    return out


def moved_cues(cues: Sequence[Cue], stretches: Sequence[VideoStretch]) -> list[Cue]:
    """Return ``cues`` on the stretched film (times to the millisecond)."""
    return [
        Cue(
            start_s=round(to_output(c.start_s, stretches), 3),
            end_s=round(to_output(c.end_s, stretches), 3),
            text=c.text,
            speaker=c.speaker,
        )
        for c in cues
    ]


def read_stretches(path: Path, shown_as: str, duration_s: float) -> list[VideoStretch]:
    """Return the spans a dub's manifest asks to slow down, checked against a video of ``duration_s``.

    Raises:
        InputFileError: the manifest does not parse, or its spans overlap or lie outside the video.
    """
    try:
        spans = msgspec.json.decode(path.read_bytes(), type=_Manifest).video_stretches
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputFileError(f"{shown_as!r} is not a dub manifest: {exc}") from None
    previous_end_s = 0.0
    for i, span in enumerate(spans):
        if span.start_s < previous_end_s or span.end_s <= span.start_s or span.end_s > duration_s + 0.05:
            raise InputFileError(
                f"{shown_as!r}: video_stretches[{i}] ({span.start_s}-{span.end_s} s) overlaps the span before it "
                f"or lies outside the {duration_s:.3f} s video"
            )
        previous_end_s = span.end_s
    return spans


def snapped(spans: Sequence[VideoStretch], fps: float | None, duration_s: float) -> list[VideoStretch]:
    """Return ``spans`` on the frame grid: cut between two frames, lasting whole frames once slowed.

    Each span's slowed length is chosen so that the time added by it and the spans before it stays within
    half a frame of what the dub planned (the rounding does not build up from span to span): the film after
    every span lands where the dub expects it. A span that rounds to nothing is dropped.
    """
    out: list[VideoStretch] = []
    planned_s = 0.0
    for span in spans:
        start_s, end_s, factor = span.start_s, min(span.end_s, duration_s), span.factor
        planned_s += (end_s - start_s) * (factor - 1.0)
        if fps:
            start_s, end_s = round(start_s * fps) / fps, round(end_s * fps) / fps
            frames = round((end_s - start_s) * fps)
            added_frames = round((planned_s - math.fsum(s.added_s for s in out)) * fps)
            factor = min(2.0, (frames + added_frames) / frames) if frames else 1.0
        if end_s > start_s and factor > 1.0:
            out.append(VideoStretch(start_s=start_s, end_s=end_s, factor=factor))
    return out


def picture_filter(spans: Sequence[VideoStretch], fps: float | None) -> str:
    """Return the video filters that slow the picture over ``spans`` (source times, in order)."""
    stages = []
    shift_s = 0.0
    for span in spans:
        # each map sees the timestamps the maps before it wrote: the span has moved by what they added
        a, b = span.start_s + shift_s, span.end_s + shift_s
        added = span.added_s
        stages.append(
            f"setpts='if(lt(T,{a:.6f}),PTS,if(lt(T,{b:.6f}),({a:.6f}+(T-{a:.6f})*{span.factor:.6f})/TB,"
            f"PTS+{added:.6f}/TB))'"
        )
        shift_s += added
    if fps:
        stages.append(f"fps=fps={fps:.6f}")
    return ",".join(stages)


def sound_graph(source: str, label: str, spans: Sequence[VideoStretch], binary: str) -> str:
    """Return the filter graph that cuts ``source`` at the spans' edges, slows each span and joins ``[label]``."""
    pieces: list[tuple[float, float | None, float]] = []  # (start, end or None = to the end, factor)
    cursor = 0.0
    for span in spans:
        if span.start_s > cursor:
            pieces.append((cursor, span.start_s, 1.0))
        pieces.append((span.start_s, span.end_s, span.factor))
        cursor = span.end_s
    pieces.append((cursor, None, 1.0))
    names = [f"{label}_{i}" for i in range(len(pieces))]
    parts = [f"{source}asplit={len(pieces)}" + "".join(f"[{n}_in]" for n in names)]
    for name, (start_s, end_s, factor) in zip(names, pieces, strict=True):
        chain = [f"atrim=start={start_s:.6f}" + (f":end={end_s:.6f}" if end_s is not None else ""), "asetpts=N/SR/TB"]
        if end_s is not None:
            length_s = (end_s - start_s) * factor
            if factor > 1.0:
                chain.append(tempo_filter(binary, 1.0 / factor))
            # the exact length: the pieces add up to the picture's time, sample for sample
            chain += [f"apad=whole_dur={length_s:.6f}", f"atrim=end={length_s:.6f}", "asetpts=N/SR/TB"]
        parts.append(f"[{name}_in]{','.join(chain)}[{name}]")
    joined = "".join(f"[{n}]" for n in names)
    parts.append(f"{joined}concat=n={len(pieces)}:v=0:a=1[{label}]")
    return ";".join(parts)


def stretched_duration(duration_s: float, spans: Sequence[VideoStretch]) -> float:
    """Return the film's length once ``spans`` are slowed down."""
    return duration_s + math.fsum(span.added_s for span in spans)
