"""Split a turn where its speaker changes: pyannote's bundled pipeline can carry one voice on past an overlap.

The segmentation model tracks up to three local speakers per 10 s window; across an overlap of two similar
voices it can keep one local speaker going after the other has taken over, so a whole turn ends up under the
first voice (the tests' conversation: Joe's turn runs on through Carlo's next two seconds). Clustering cannot
fix it: the turn is one piece. Here each long turn is embedded in short sliding windows (the pipeline's own
speaker embedding); a window whose embedding is closer to another speaker's centroid by ``MARGIN`` votes for
that speaker, and the turn is cut where the votes change. Centroids come from the turns themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from actors.ffmpeg.pcm import SAMPLE_RATE
from actors.pyannote_audio.turns import Turn

if TYPE_CHECKING:
    import numpy.typing as npt

Embed = Callable[["npt.NDArray[np.float32]"], "npt.NDArray[np.float32]"]
"""Samples of stretches of one length (rows) -> their speaker embeddings (rows)."""

WINDOW_S = 1.5
STEP_S = 0.25
# cosine similarity a window must gain by switching speakers (embeddings of 1.5 s are noisy)
MARGIN = 0.1
_CENTROID_MIN_S = 1.0
# a turn shorter than the split's reach that hands over to another speaker with no pause, after a pause of its
# own, is re-checked whole against the two speakers' centroids (the segmentation carried a voice over a change)
HANDOVER_MIN_S = 0.5
_PAUSE_S = 0.3
_TOUCH_S = 0.05


def _unit(vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _crop(audio: npt.NDArray[np.float32], start: float, end: float) -> npt.NDArray[np.float32]:
    return np.ascontiguousarray(audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)])


def _centroids(turns: list[Turn], audio: npt.NDArray[np.float32], embed: Embed) -> dict[str, npt.NDArray[np.float32]]:
    sums: dict[str, npt.NDArray[np.float32]] = {}
    for turn in turns:
        if turn.end - turn.start >= _CENTROID_MIN_S:
            weighted = _unit(embed(_crop(audio, turn.start, turn.end)[None])[0]) * (turn.end - turn.start)
            sums[turn.speaker] = sums[turn.speaker] + weighted if turn.speaker in sums else weighted
    return {speaker: _unit(total) for speaker, total in sums.items()}


def _votes(
    turn: Turn, audio: npt.NDArray[np.float32], embed: Embed, centroids: dict[str, npt.NDArray[np.float32]]
) -> list[str]:
    """The speaker of each ``STEP_S`` of the turn, by the windows that cover it."""
    labels = sorted(centroids)
    steps = int(np.ceil((turn.end - turn.start) / STEP_S))
    votes = np.zeros((steps, len(labels)))
    own = labels.index(turn.speaker)
    starts = np.arange(turn.start, turn.end - WINDOW_S + 1e-6, STEP_S)
    width = round(WINDOW_S * SAMPLE_RATE)
    windows = np.stack([_crop(audio, start, turn.end)[:width] for start in starts])
    matrix = np.stack([centroids[label] for label in labels])
    for start, vector in zip(starts, embed(windows), strict=True):
        similarity = matrix @ _unit(vector)
        best = int(similarity.argmax())
        pick = best if similarity[best] - similarity[own] > MARGIN else own
        first = int((start - turn.start) / STEP_S)
        votes[first : first + round(WINDOW_S / STEP_S), pick] += 1
    return [labels[int(row.argmax())] if row.sum() else turn.speaker for row in votes]


def split_turns(
    turns: list[Turn], audio: npt.NDArray[np.float32], embed: Embed, *, handovers: bool = True
) -> list[Turn]:
    """Return ``turns`` with each turn of at least two windows cut where another speaker's voice takes over.

    With ``handovers``, a shorter turn at a change of speaker then goes to the other speaker when its voice is
    closer to theirs (``_handovers``).
    """
    centroids = _centroids(turns, audio, embed)
    if len(centroids) < 2:
        return turns
    split = _split(turns, audio, embed, centroids)
    return _handovers(split, audio, embed, centroids) if handovers else split


def _split(
    turns: list[Turn], audio: npt.NDArray[np.float32], embed: Embed, centroids: dict[str, npt.NDArray[np.float32]]
) -> list[Turn]:
    out: list[Turn] = []
    for turn in turns:
        if turn.end - turn.start < 2 * WINDOW_S or turn.speaker not in centroids:
            out.append(turn)
            continue
        labels = _votes(turn, audio, embed, centroids)
        first = 0
        for index in range(1, len(labels) + 1):
            if index == len(labels) or labels[index] != labels[first]:
                start = turn.start + first * STEP_S
                end = min(turn.end, turn.start + index * STEP_S)
                out.append(Turn(speaker=labels[first], start=round(start, 3), end=round(end, 3)))
                first = index
    return sorted(out, key=lambda t: (t.start, t.end))


def _handover(turn: Turn, turns: list[Turn]) -> str | None:
    """The speaker a turn hands over to (or takes over from) with no pause, when its other end is a pause."""
    before = [t for t in turns if t is not turn and t.start < turn.start and t.end > turn.start - _PAUSE_S]
    after = [t for t in turns if t is not turn and t.start < turn.end + _PAUSE_S and t.end > turn.end]
    if not before and len(after) == 1 and abs(after[0].start - turn.end) <= _TOUCH_S:
        return after[0].speaker
    if not after and len(before) == 1 and abs(before[0].end - turn.start) <= _TOUCH_S:
        return before[0].speaker
    return None


def _handovers(
    turns: list[Turn], audio: npt.NDArray[np.float32], embed: Embed, centroids: dict[str, npt.NDArray[np.float32]]
) -> list[Turn]:
    """Give a short turn at a change of speaker to the other speaker when its voice is closer to theirs."""
    out = list(turns)
    for index, turn in enumerate(turns):
        other = _handover(turn, turns)
        if other is None or other == turn.speaker or not HANDOVER_MIN_S <= turn.end - turn.start < 2 * WINDOW_S:
            continue
        if turn.speaker in centroids and other in centroids:
            vector = _unit(embed(_crop(audio, turn.start, turn.end)[None])[0])
            if float(vector @ centroids[other]) > float(vector @ centroids[turn.speaker]):
                out[index] = Turn(speaker=other, start=turn.start, end=turn.end)
    return out
