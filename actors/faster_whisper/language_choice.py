"""Which language a clip is in, when the request does not say: the sound first, the decodings when it is unsure.

Whisper's language detection scores every language on the sound of (at most) 30 s of speech. On a clip of a
few seconds it is often unsure and sometimes sure and wrong: Asterisk's 2.7 s Spanish prompt "Se ha eliminado
el saludo temporal" is heard as Italian at 0.97. Two things make the choice hold on short clips:

1. **Two hearings of the sound.** Whisper was trained on 30 s windows; a 3 s clip is 27 s of padding. The
   speech is also heard repeated (with short pauses) to fill the window, and the two hearings' probabilities are
   averaged (``actors.faster_whisper.detection``). The Italian 0.97 above becomes Italian 0.62 / Spanish 0.19.
2. **The decodings decide between the two likeliest.** When no language reaches ``SURE``, the first 30 s of
   speech is decoded in each of the ``MAX_CANDIDATES`` likeliest languages, and the language that makes the
   sound and its decoding likeliest together wins: the log of its audio probability plus the decoding's own
   log-probability (the sum over its tokens: a mean per token favours scripts spelled in many byte tokens, and
   "El número que tengo es el" decoded in Malayalam scored -0.625 a token against Spanish's -0.734).

The thresholds were chosen on the bench's 48 Spanish and 48 French prompts and checked on 40 other prompts of
the same sets (``bench/bench_speakers.py``; the figures are in the README). The request's or the deployment's
expected languages (``languages``) restrict every step to those languages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

import msgspec
import structlog

log = structlog.get_logger(__name__)

# at or above this (averaged) audio probability the sound alone decides
SURE = 0.8
# how many of the likeliest languages are decoded when the sound is unsure, and how likely each must sound
MAX_CANDIDATES = 2
MIN_CANDIDATE_PROBABILITY = 0.02
# the weight of the sound against the decoding: score = log-probability of the decoding + weight * log(p audio)
PRIOR_WEIGHT = 1.0
# the smallest audio probability counted (log 0 is minus infinity)
_FLOOR = 1e-3


class Chosen(msgspec.Struct, frozen=True, kw_only=True):
    """The chosen language, its audio probability, how it was chosen, and what each candidate's decoding scored."""

    language: str
    probability: float
    all_probabilities: dict[str, float]
    # "given" (one expected language), "audio" (sure enough, or one candidate), "decoding" (candidates decoded)
    decided_by: str
    scores: dict[str, float] = {}


def ranked(probabilities: dict[str, float], allowed: Collection[str]) -> list[str]:
    """Return the ``allowed`` languages, likeliest first by their audio probability."""
    return sorted(allowed, key=lambda code: -probabilities.get(code, 0.0))


def candidates(probabilities: dict[str, float], allowed: Collection[str]) -> list[str]:
    """Return the languages worth decoding: the likeliest (always), then up to ``MAX_CANDIDATES`` likely enough."""
    order = ranked(probabilities, allowed)
    return order[:1] + [
        code for code in order[1:MAX_CANDIDATES] if probabilities.get(code, 0.0) >= MIN_CANDIDATE_PROBABILITY
    ]


def joint_score(score: float, probability: float) -> float:
    """Return a decoding's log-probability plus the weighted log of its language's audio probability."""
    return score + PRIOR_WEIGHT * math.log(max(probability, _FLOOR))


def choose(probabilities: dict[str, float], allowed: Collection[str], decode: Callable[[str], float] | None) -> Chosen:
    """Choose among ``allowed`` by the sound, then (``decode`` given, the sound unsure) by the decodings.

    ``decode(language)`` returns the log-probability of a decoding in that language (minus infinity when
    nothing was decoded).
    """
    order = ranked(probabilities, allowed)
    if len(order) == 1:
        return Chosen(language=order[0], probability=1.0, all_probabilities={order[0]: 1.0}, decided_by="given")
    likeliest = order[0]
    pool = candidates(probabilities, allowed)
    if decode is None or len(pool) == 1 or probabilities.get(likeliest, 0.0) >= SURE:
        return _chosen(likeliest, probabilities, "audio", {})
    scores = {code: decode(code) for code in pool}
    if all(math.isinf(score) for score in scores.values()):
        return _chosen(likeliest, probabilities, "audio", scores)  # nothing said in any: the sound's choice
    language = max(scores, key=lambda code: joint_score(scores[code], probabilities.get(code, 0.0)))
    log.info(
        "language_chosen",
        language=language,
        heard=likeliest,
        scores={code: round(score, 3) for code, score in scores.items()},
        probabilities={code: round(probabilities.get(code, 0.0), 3) for code in scores},
    )
    return _chosen(language, probabilities, "decoding", scores)


def _chosen(language: str, probabilities: dict[str, float], how: str, scores: dict[str, float]) -> Chosen:
    return Chosen(
        language=language,
        probability=probabilities.get(language, 0.0),
        all_probabilities=probabilities,
        decided_by=how,
        scores=scores,
    )
