"""Ducking the original sound only while the dub speaks: the spans of the dub, and the gain automation.

The spans are read from the dub track itself (20 ms frames louder than -45 dBFS, pauses under 0.6 s
joined, 0.1 s of margin), so any dub works, whichever tool made it. The gain is an ffmpeg ``volume``
expression evaluated per frame: full level between lines, ``duck_db`` inside them, with 150 ms ramps.
"""

from __future__ import annotations

from pathlib import Path

from actors.ffmpeg.pcm import decode_mono

_RATE = 8000
_FRAME_S = 0.02
_LOUD_DBFS = -45.0
_JOIN_S = 0.6
_MARGIN_S = 0.1
RAMP_S = 0.15
_GROUP = 40  # spans per volume filter (ffmpeg's expression parser nests ~100 terms at most)


def speech_spans(audio: Path, shown_as: str) -> list[tuple[float, float]]:
    """Return the spans (seconds) where the dub track sounds, with a margin, close spans joined.

    Raises:
        InputFileError: the file is not audio ffmpeg can read.
    """
    import numpy as np  # noqa: PLC0415

    samples = decode_mono(audio, shown_as, _RATE)
    frame = round(_FRAME_S * _RATE)
    count = samples.shape[0] // frame
    if count == 0:
        return []
    rms = np.sqrt((samples[: count * frame].reshape(count, frame) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > 10 ** (_LOUD_DBFS / 20))
    spans: list[list[float]] = []
    for i in loud:
        start, end = i * _FRAME_S - _MARGIN_S, (i + 1) * _FRAME_S + _MARGIN_S
        if spans and start - spans[-1][1] < _JOIN_S:
            spans[-1][1] = end
        else:
            spans.append([max(0.0, start), end])
    return [(round(a, 3), round(b, 3)) for a, b in spans]


def duck_filter(spans: list[tuple[float, float]], duck_db: float) -> str:
    """Return the ffmpeg filters that lower the sound by ``duck_db`` inside ``spans``.

    ffmpeg's expressions nest about a hundred terms at most, so the spans go in groups, one ``volume``
    filter each, enabled only over its group's time range (elsewhere the sound passes untouched).
    """
    if not spans:
        return "anull"
    depth = 1.0 - 10 ** (duck_db / 20)
    stages = []
    for first in range(0, len(spans), _GROUP):
        group = spans[first : first + _GROUP]
        terms = "+".join(
            f"clip(min((t-{a - RAMP_S:.3f})/{RAMP_S},({b + RAMP_S:.3f}-t)/{RAMP_S}),0,1)" for a, b in group
        )
        start_s, end_s = group[0][0] - RAMP_S, group[-1][1] + RAMP_S
        stages.append(
            f"volume=enable='between(t,{start_s:.3f},{end_s:.3f})':volume='1-{depth:.5f}*min(1,{terms})':eval=frame"
        )
    return ",".join(stages)
