"""Pitch-preserving tempo changes in ffmpeg filter graphs: ``rubberband``, else ``atempo``.

``rubberband`` (librubberband: a phase-vocoder time stretch) keeps speech and music clearer than
``atempo``; an ffmpeg built without it falls back to ``atempo``.
"""

from __future__ import annotations

import functools
import subprocess

_ATEMPO_MAX = 2.0  # one atempo stage up to 2x keeps its quality; faster tempi chain stages


def atempo_chain(tempo: float) -> str:
    """Return the ffmpeg filter for ``tempo`` (> 0.5): stages of at most 2x each, e.g. ``atempo=2,atempo=1.25``."""
    stages = []
    while tempo > _ATEMPO_MAX:
        stages.append(_ATEMPO_MAX)
        tempo /= _ATEMPO_MAX
    stages.append(tempo)
    return ",".join(f"atempo={s:.6f}" for s in stages)


@functools.cache
def has_rubberband(binary: str) -> bool:
    """Return whether the ffmpeg ``binary`` has the ``rubberband`` filter."""
    try:
        listing = subprocess.run(
            [binary, "-hide_banner", "-filters"], capture_output=True, check=False, timeout=30
        ).stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return False
    return " rubberband " in listing


def tempo_filter(binary: str, tempo: float) -> str:
    """Return the pitch-preserving ffmpeg filter that plays ``tempo`` times faster (< 1: slower)."""
    if has_rubberband(binary):
        return f"rubberband=tempo={tempo:.6f}:transients=smooth:window=standard"
    return atempo_chain(tempo)
