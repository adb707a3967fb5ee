"""Find the subtitle area: the horizontal band where text boxes recur across keyframes."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import msgspec

from actors.paddleocr.engine import Box

# Shapes that can be a line of subtitle text: not tiny, not a third of the frame, wider than tall.
_MIN_BOX_PX = 6
_MAX_BOX_SHARE = 0.35
# A row belongs to the band when text covers it in at least this share of the busiest row's frames.
_RECUR_SHARE = 0.3
_FULL_CONFIDENCE_FRAMES = 3


class AreaGuess(msgspec.Struct, kw_only=True):
    """A detected subtitle area ``[x1, y1, x2, y2]`` (full frame width) and how sure it is."""

    area: list[int]
    confidence: float
    frames_with_text: int


def _line_boxes(boxes: Sequence[Box], height: int) -> list[Box]:
    return [b for b in boxes if _MIN_BOX_PX <= b[3] - b[1] <= height * _MAX_BOX_SHARE and b[2] - b[0] >= b[3] - b[1]]


def _segments(counts: Sequence[int], threshold: float, max_gap: int) -> list[tuple[int, int]]:
    """Return [start, end) runs of rows at or above ``threshold``, joining runs closer than ``max_gap``."""
    runs: list[tuple[int, int]] = []
    start = None
    for row, count in enumerate([*counts, 0]):
        if count >= threshold and start is None:
            start = row
        elif count < threshold and start is not None:
            if runs and start - runs[-1][1] <= max_gap:
                runs[-1] = (runs[-1][0], row)
            else:
                runs.append((start, row))
            start = None
    return runs


def find_band(frames: Sequence[Sequence[Box]], width: int, height: int) -> AreaGuess | None:
    """Return the band where text recurs across frames (lower bands win ties), or None without text.

    Confidence is the share of text-bearing frames whose text lies in the band, scaled down while the band
    was seen in fewer than three frames.
    """
    per_frame = [_line_boxes(boxes, height) for boxes in frames]
    counts = [0] * height
    for boxes in per_frame:
        rows: set[int] = set()
        for box in boxes:
            rows.update(range(max(0, int(box[1])), min(height, int(box[3]) + 1)))
        for row in rows:
            counts[row] += 1
    busiest = max(counts, default=0)
    if busiest == 0:
        return None
    line_px = statistics.median(b[3] - b[1] for boxes in per_frame for b in boxes)
    segments = _segments(counts, max(1.0, busiest * _RECUR_SHARE), max_gap=int(line_px))

    def weight(seg: tuple[int, int]) -> float:
        return sum(counts[seg[0] : seg[1]]) * (1 + (seg[0] + seg[1]) / 2 / height)

    top, bottom = max(segments, key=weight)
    in_band = [[b for b in boxes if b[1] < bottom and b[3] > top] for boxes in per_frame]
    y1 = min(b[1] for boxes in in_band for b in boxes)
    y2 = max(b[3] for boxes in in_band for b in boxes)
    pad = max(4, round(line_px * 0.3))
    area = [0, max(0, int(y1) - pad), width, min(height, int(y2 + 0.999) + pad)]
    seen = sum(1 for boxes in in_band if boxes)
    with_text = sum(1 for boxes in per_frame if boxes)
    confidence = seen / with_text * min(1.0, seen / _FULL_CONFIDENCE_FRAMES)
    return AreaGuess(area=area, confidence=round(confidence, 3), frames_with_text=with_text)
