"""A second opinion on the language of a short clip: what the words read as, when the audio was unsure.

Whisper's language detection looks at the sound of (at most) the first 30 s. On a clip of a few seconds
it can be unsure and wrong: a Spanish prompt detected as Latin at 0.36, then decoded as Latin-flavoured
nonsense. The text of that first decoding still reads as a Romance language, so the languages the text
detector (lingua, offline) finds in it are candidates to decode the clip again with, and so are the next
likeliest languages of the audio detection: the text alone can mislead (a Spanish prompt first decoded as
"Actualmentai, solo, aio, tro" reads as Portuguese at 0.99 and Spanish at 0.006, while the audio ranks Spanish
third). The engine keeps the decoding the model itself finds likeliest (``actors.faster_whisper.engine``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Collection

import structlog

log = structlog.get_logger(__name__)

# below this audio probability the detected language is re-checked (the output's ``language_uncertain`` bound)
UNCERTAIN = 0.5
# a text language must reach this confidence to be tried, and at most this many are
MIN_TEXT_CONFIDENCE = 0.1
MAX_CANDIDATES = 2
MIN_LETTERS = 10
# another language's decoding replaces the current one only when the model finds it likelier by this much (mean
# log-probability per token): on a near tie the audio's detection stands (a 2 s Spanish prompt decoded as English,
# "boosted SL client day numeral", scored -0.569 against Spanish's -0.575)
SWITCH_MARGIN = 0.1
# the audio's next likeliest languages tried as well: at most this many, each at least this probable
MAX_AUDIO_CANDIDATES = 2
MIN_AUDIO_PROBABILITY = 0.05


def recheck_candidates(
    text: str, audio_probabilities: dict[str, float], allowed: Collection[str], detected: str
) -> list[str]:
    """Return the languages to decode an unsure clip again in: what its text reads as, then the audio's runners-up.

    Only ``allowed`` languages (the model's, or the request's expected ones) other than ``detected`` are returned.
    """
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return []  # too little said to judge a language by its decodings (spelled letters): the audio's stands
    found = text_candidates(text, allowed, detected)
    ranked = sorted(audio_probabilities.items(), key=lambda item: -item[1])
    runners_up = [
        code
        for code, probability in ranked
        if probability >= MIN_AUDIO_PROBABILITY and code in allowed and code != detected and code not in found
    ]
    return found + runners_up[:MAX_AUDIO_CANDIDATES]


def text_candidates(text: str, supported: Collection[str], detected: str) -> list[str]:
    """Return the languages (Whisper codes) the text reads as, likeliest first, other than ``detected``.

    Empty when lingua is not installed on this worker, or the text has too few letters to judge.
    """
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS or importlib.util.find_spec("lingua") is None:
        return []
    from actors.llm.langid import any_detector  # noqa: PLC0415  (lingua's models: loaded on first need)

    found: list[str] = []
    for value in any_detector().compute_language_confidence_values(text[:2000]):
        if value.value < MIN_TEXT_CONFIDENCE or len(found) >= MAX_CANDIDATES:
            break
        code = str(value.language.iso_code_639_1.name).lower()
        if code in supported and code != detected:
            found.append(code)
    return found
