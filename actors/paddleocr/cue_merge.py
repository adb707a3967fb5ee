"""Turn per-frame OCR text into timed cues, tolerant of OCR noise."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field

from actors.paddleocr.ocr_pass import FrameText
from actors.subtitles.formats import Cue


def normalise(text: str) -> str:
    """Collapse runs of spaces inside each line and drop empty lines."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def similar(a: str, b: str, threshold: float) -> bool:
    """Return whether two texts are the same subtitle read twice (difflib ratio at or above ``threshold``)."""
    return a == b or difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= threshold


@dataclass
class _Run:
    """Consecutive frames that show one subtitle; each reading of it gets a vote."""

    start_s: float
    last_s: float
    last_text: str
    votes: dict[str, list[float]] = field(default_factory=dict)

    def add(self, frame: FrameText, text: str) -> None:
        count_score = self.votes.setdefault(text, [0.0, 0.0])
        count_score[0] += 1
        count_score[1] += frame.score
        self.last_s, self.last_text = frame.time_s, text

    def best(self) -> str:
        return max(self.votes.items(), key=lambda item: (item[1][0], item[1][1]))[0]


def _runs(frames: Sequence[FrameText], interval_s: float, threshold: float) -> list[_Run]:
    runs: list[_Run] = []
    current: _Run | None = None
    for frame in sorted(frames, key=lambda f: f.time_s):
        text = normalise(frame.text)
        if not text:
            current = None
            continue
        adjacent = current is not None and frame.time_s - current.last_s <= interval_s * 1.5
        if current is None or not adjacent or not similar(current.last_text, text, threshold):
            current = _Run(start_s=frame.time_s, last_s=frame.time_s, last_text=text)
            runs.append(current)
        current.add(frame, text)
    return runs


def frames_to_cues(
    frames: Sequence[FrameText],
    interval_s: float,
    *,
    similarity: float = 0.8,
    min_duration_s: float = 0.25,
) -> list[Cue]:
    """Merge consecutive frames with the same text into sorted cues.

    A cue runs from its first frame to one interval after its last. Cues shorter than ``min_duration_s``
    (a misread transition frame) are dropped; then neighbours with similar text at most two intervals
    apart (split by such a frame) are joined.
    """
    cues = [
        Cue(start_s=round(r.start_s, 3), end_s=round(r.last_s + interval_s, 3), text=r.best())
        for r in _runs(frames, interval_s, similarity)
    ]
    kept = [c for c in cues if c.end_s - c.start_s >= min_duration_s - 1e-9]
    merged: list[Cue] = []
    for cue in kept:
        previous = merged[-1] if merged else None
        if (
            previous
            and cue.start_s - previous.end_s <= 2 * interval_s + 1e-9
            and similar(previous.text, cue.text, similarity)
        ):
            longer = previous if previous.end_s - previous.start_s >= cue.end_s - cue.start_s else cue
            merged[-1] = Cue(start_s=previous.start_s, end_s=cue.end_s, text=longer.text)
        else:
            merged.append(cue)
    return merged
