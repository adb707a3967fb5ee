"""Reading dubbed tracks back: samples from any media file, and where in time there is sound."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actors.ffmpeg.pcm import decode_mono

RATE = 16000
_FRAME_S = 0.02


def loud_spans(path: Path, threshold: float = 0.02) -> list[tuple[float, float]]:
    """Return the spans (seconds) where 20 ms frames are louder than ``threshold`` RMS, gaps under 0.3 s joined."""
    samples = decode_mono(path, path.name, RATE)
    frame = int(_FRAME_S * RATE)
    count = samples.shape[0] // frame
    rms = np.sqrt((samples[: count * frame].reshape(count, frame) ** 2).mean(axis=1))
    spans: list[list[float]] = []
    for i in np.flatnonzero(rms > threshold):
        start, end = i * _FRAME_S, (i + 1) * _FRAME_S
        if spans and start - spans[-1][1] < 0.3:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [(round(a, 2), round(b, 2)) for a, b in spans]


def energy(path: Path, start_s: float, end_s: float) -> float:
    """Return the RMS of the samples between two times."""
    samples = decode_mono(path, path.name, RATE)[int(start_s * RATE) : int(end_s * RATE)]
    return float(np.sqrt((samples**2).mean())) if samples.size else 0.0
