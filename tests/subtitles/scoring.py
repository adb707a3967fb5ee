"""How well cues follow known speech: start errors per utterance, and the word error rate of the text."""

from __future__ import annotations

import bisect
import re
import statistics
from collections.abc import Sequence

from actors.subtitles.formats import Cue
from tests.subtitles.prompts import Utterance

_NUMBERS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
    "6": "six", "7": "seven", "8": "eight", "9": "nine", "#": "pound", "*": "star",
}  # fmt: skip


def start_errors(cues: Sequence[Cue], utterances: Sequence[Utterance]) -> list[float]:
    """Return, per utterance, the distance in seconds from its speech onset to the nearest cue start."""
    starts = sorted(c.start_s for c in cues)
    errors = []
    for u in utterances:
        i = bisect.bisect_left(starts, u.start_s)
        near = [abs(starts[j] - u.start_s) for j in (i - 1, i) if 0 <= j < len(starts)]
        errors.append(min(near, default=float("inf")))
    return errors


def timing_figures(cues: Sequence[Cue], utterances: Sequence[Utterance]) -> dict[str, float]:
    """Return the share of utterances with a cue start within 0.25 s, and the median and p90 start errors."""
    errors = sorted(start_errors(cues, utterances))
    return {
        "within_250ms": sum(1 for e in errors if e <= 0.25) / len(errors),
        "median_ms": 1000 * statistics.median(errors),
        "p90_ms": 1000 * errors[int(0.9 * (len(errors) - 1))],
    }


def normalise(text: str) -> list[str]:
    """Return lower-case words without punctuation, digits spelled out."""
    words = []
    for raw in re.findall(r"[\w#*']+", text.lower().replace("-", " ")):
        if raw.isdigit():
            words.extend(_NUMBERS.get(d, d) for d in raw)
        else:
            words.append(_NUMBERS.get(raw, raw))
    return words


def wer(reference: str, hypothesis: str) -> float:
    """Return the word error rate of ``hypothesis`` against ``reference`` (edit distance over words)."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / max(1, len(ref))
