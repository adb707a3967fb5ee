"""Fitting spoken lines to their cues and laying them on one track.

A line longer than its cue is sped up (pitch kept) up to ``max_speed``; what is still too long runs into
the silence after the cue, up to the next line's start (or the track's end), and is cut there with a
short fade: a line never plays over the next one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import msgspec

from actors.ffmpeg.retime import VideoStretch

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_FADE_S = 0.02


class Plan(msgspec.Struct, kw_only=True):
    """How one line is fitted: the tempo, the most it may take on the track, and what is cut at the next line.

    ``keep_s`` is the cue's window when the line fits it (so the few milliseconds atempo adds never
    count as an overrun), else the room up to the next line.
    """

    speed: float
    keep_s: float
    cut_s: float


class Placed(msgspec.Struct, kw_only=True):
    """One line in the manifest: its cue(s), what was said by whom, and how it was fitted.

    ``decision``: ``natural`` (fits its cue), ``borrowed`` (fits with silence borrowed around the cue),
    ``sped_up`` (fits at ``speed`` <= max_speed), ``shortened`` (the LLM shortened it: ``original_text``),
    ``stretched`` (fits once the picture is slowed over ``video_stretch``: its span in source time and
    factor), ``too_long`` (reported: played at max_speed and cut at the next line; a ``video_stretch`` at the
    bound may have lengthened it), ``silent`` (nothing to say). ``window_*``: the room the line was given;
    ``cues``: the indices of the cues it speaks (merged lines). Every time is on the stretched film (the
    source's when nothing was stretched): ``shift_s`` is what the spans before the line added.
    """

    index: int
    cues: list[int]
    start_s: float
    end_s: float
    text: str
    original_text: str | None = None
    speaker: str | None
    voice: str | None
    spoken_s: float
    speed: float
    decision: str
    window_start_s: float
    window_end_s: float
    audio_start_s: float
    audio_end_s: float
    overrun_s: float
    cut_s: float
    shift_s: float = 0.0
    video_stretch: VideoStretch | None = None


def plan_line(spoken_s: float, start_s: float, end_s: float, *, limit_s: float, fit: str, max_speed: float) -> Plan:
    """Plan a line of ``spoken_s`` seconds for the cue ``[start_s, end_s)`` with the next line at ``limit_s``."""
    room_s = max(0.0, limit_s - start_s)
    window_s = min(max(0.0, end_s - start_s), room_s)
    speed = 1.0
    if fit == "stretch" and window_s > 0 and spoken_s > window_s:
        speed = min(spoken_s / window_s, max_speed)
    length_s = spoken_s / speed
    keep_s = window_s if length_s <= window_s + 1e-9 else room_s
    return Plan(speed=round(speed, 4), keep_s=keep_s, cut_s=round(max(0.0, length_s - room_s), 3))


def fit_samples(samples: npt.NDArray[np.float32], length: int, rate: int, *, fade: bool) -> npt.NDArray[np.float32]:
    """Return ``samples`` cut to ``length``, with a short fade-out when speech is cut (``fade``)."""
    if samples.shape[0] <= length:
        return samples
    out = samples[:length].copy()
    if fade and length > 0:
        import numpy as np  # noqa: PLC0415

        fade_len = min(length, max(1, round(_FADE_S * rate)))
        out[-fade_len:] *= np.linspace(1.0, 0.0, fade_len, dtype=np.float32)
    return out


def track_length(cue_end_s: float, duration_s: float | None, last_audio_end_s: float) -> float:
    """Return the track's length: ``duration_s`` when given, else the last cue's end or the last line's."""
    return duration_s if duration_s is not None else max(cue_end_s, last_audio_end_s)


def samples_at(seconds: float, rate: int) -> int:
    """Return the sample index of a time (rounded down, so a line ends before the next begins)."""
    return max(0, math.floor(seconds * rate + 1e-9))
