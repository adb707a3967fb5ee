"""Word times refined against the audio: speech regions from Silero VAD, their edges sharpened by signal energy.

Whisper's word times drift by a few hundred milliseconds, most at the first word after a pause (it starts early,
in the silence) and at the last word before one (it ends late). The speech regions found here are accurate to
about 10 ms: the first word of a region starts at its onset, the last one ends at its offset.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.ffmpeg.pcm import SAMPLE_RATE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_WINDOW = 512  # Silero's window at 16 kHz (32 ms)
_FRAME = 160  # energy frames of 10 ms
_FRAME_S = _FRAME / SAMPLE_RATE
_ON, _OFF = 0.5, 0.35  # speech probability to open / close a region
_MIN_SILENCE_S = 0.1  # a shorter dip does not close a region
_MIN_SPEECH_S = 0.06
_SEARCH_BEFORE_S, _SEARCH_AFTER_S = 0.2, 0.12  # where an edge may move to, around Silero's edge
_ABOVE_FLOOR_DB = 12.0
_NEAREST_S = 0.3  # a word outside every region belongs to one this close


@dataclass
class Region:
    """One stretch of speech, in seconds."""

    start: float
    end: float


def _silero_probs(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    import numpy as np  # noqa: PLC0415
    from faster_whisper.vad import get_vad_model  # noqa: PLC0415

    padded = np.pad(audio, (0, (-len(audio)) % _WINDOW or 0))
    if len(padded) == 0:
        return np.zeros(0, dtype=np.float32)
    return np.asarray(get_vad_model()(padded), dtype=np.float32).reshape(-1)


def _energy_db(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    import numpy as np  # noqa: PLC0415

    frames = audio[: len(audio) // _FRAME * _FRAME].reshape(-1, _FRAME).astype(np.float64)
    level: npt.NDArray[np.float64] = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    return level


def _raw_regions(probs: npt.NDArray[np.float32]) -> list[list[float]]:
    window_s = _WINDOW / SAMPLE_RATE
    regions: list[list[float]] = []
    start: float | None = None
    quiet_since: float | None = None
    for i, p in enumerate(probs.tolist()):
        t = i * window_s
        if start is None:
            if p >= _ON:
                start, quiet_since = t, None
        elif p < _OFF:
            quiet_since = t if quiet_since is None else quiet_since
            if t + window_s - quiet_since >= _MIN_SILENCE_S:
                regions.append([start, quiet_since])
                start = quiet_since = None
        elif p >= _ON:
            quiet_since = None
    if start is not None:
        regions.append([start, quiet_since if quiet_since is not None else len(probs) * window_s])
    return [r for r in regions if r[1] - r[0] >= _MIN_SPEECH_S]


def speech_regions(audio: npt.NDArray[np.float32]) -> list[Region]:
    """Return the speech in ``audio`` (mono, 16 kHz) as regions whose edges are sharpened by energy."""
    import numpy as np  # noqa: PLC0415

    probs = _silero_probs(audio)
    raw = _raw_regions(probs)
    if not raw:
        return []
    level = _energy_db(audio)
    if len(level) == 0:
        return [Region(round(a, 3), round(b, 3)) for a, b in raw]
    frame_probs = probs[np.minimum(np.arange(len(level)) * _FRAME // _WINDOW, len(probs) - 1)]
    quiet = level[frame_probs < 0.1]
    floor = float(np.median(quiet)) if len(quiet) >= 10 else float(np.percentile(level, 10))
    loud = level > floor + _ABOVE_FLOOR_DB
    regions: list[Region] = []
    for start, end in raw:
        lo = max(0, int((start - _SEARCH_BEFORE_S) / _FRAME_S))
        hi = min(len(loud), int((start + _SEARCH_AFTER_S) / _FRAME_S))
        onset = next((i for i in range(lo, hi - 1) if loud[i] and loud[i + 1]), None)
        lo = max(0, int((end - _SEARCH_AFTER_S) / _FRAME_S))
        hi = min(len(loud), int((end + _SEARCH_BEFORE_S) / _FRAME_S))
        offset = next((i for i in range(hi - 1, lo, -1) if loud[i] and loud[i - 1]), None)
        s = onset * _FRAME_S if onset is not None else start
        e = (offset + 1) * _FRAME_S if offset is not None else end
        if regions and s <= regions[-1].end:
            regions[-1].end = max(regions[-1].end, e)
        elif e > s:
            regions.append(Region(round(s, 3), round(e, 3)))
    return regions


def _region_of(start: float, end: float, regions: list[Region], starts: list[float]) -> int | None:
    i = bisect.bisect_right(starts, end)
    best, best_overlap = None, 0.0
    for j in range(max(0, i - 3), min(len(regions), i + 1)):
        overlap = min(end, regions[j].end) - max(start, regions[j].start)
        if overlap > best_overlap:
            best, best_overlap = j, overlap
    if best is not None:
        return best
    near = [
        (max(regions[j].start - end, start - regions[j].end), j) for j in range(max(0, i - 1), min(len(regions), i + 1))
    ]
    distance, j = min(near, default=(float("inf"), -1))
    return j if distance <= _NEAREST_S else None


def refine_times(times: list[tuple[float, float]], regions: list[Region]) -> list[tuple[float, float]]:
    """Return word times moved onto the speech: a region's first word starts at its onset, its last ends at its offset.

    ``times`` are (start, end) of the words in spoken order; words no region claims keep their times.
    """
    if not regions or not times:
        return list(times)
    starts = [r.start for r in regions]
    owner = [_region_of(s, e, regions, starts) for s, e in times]
    out = [list(t) for t in times]
    for i, region in enumerate(owner):
        if region is None:
            continue
        r = regions[region]
        first = i == 0 or owner[i - 1] != region
        last = i == len(owner) - 1 or owner[i + 1] != region
        s, e = out[i]
        s, e = min(max(s, r.start), r.end), min(max(e, r.start), r.end)
        if first:
            s = r.start
        if last:
            e = r.end
        out[i] = [round(s, 3), round(max(e, s + 0.02), 3)]
    return [(s, e) for s, e in out]
