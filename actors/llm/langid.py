"""Which language a line is in, offline (lingua-language-detector): untranslated lines are caught by language."""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from actors.errors import EngineUnavailable, InputError

if TYPE_CHECKING:
    import lingua

# A line needs this many letters before its language is judged: "OK", "Paris", "No." can be either.
MIN_LETTERS = 10
# ... and the detector must lean this far towards the source language among {source, target}.
MIN_CONFIDENCE = 0.75
_REGION = re.compile(r"[-_].*$")
# Names people write that lingua spells otherwise.
_ALIASES = {"farsi": "persian", "mandarin": "chinese", "brazilian portuguese": "portuguese", "norwegian": "bokmal"}


class UnknownLanguage(InputError):
    """Raised when a language name or code is not one the detector knows."""


def _require() -> None:
    if importlib.util.find_spec("lingua") is None:
        raise EngineUnavailable("lingua-language-detector is not installed on this worker: pip install 'taskgate[llm]'")


@functools.cache
def resolve(name: str) -> lingua.Language:
    """Return the detector's language for an ISO 639-1/639-3 code, a tag like ``pt-BR``, or an English name.

    Raises:
        UnknownLanguage: the detector does not know it; the message says what it accepts.
    """
    _require()
    import lingua  # noqa: PLC0415  (96 MB of models: loaded by the worker that translates, never the gateway)

    raw = name.strip().casefold()
    code = _REGION.sub("", raw)
    attempts: tuple[Callable[[], lingua.Language], ...] = (
        lambda: lingua.Language.from_iso_code_639_1(lingua.IsoCode639_1.from_str(code)),
        lambda: lingua.Language.from_iso_code_639_3(lingua.IsoCode639_3.from_str(code)),
        lambda: lingua.Language.from_str(_ALIASES.get(raw, raw)),
    )
    for attempt in attempts:
        try:
            found: lingua.Language = attempt()
        except ValueError:
            continue
        return found
    raise UnknownLanguage(
        f"language {name!r} is not known to the language detector; use an ISO 639-1 code (fr, pt-BR) or an "
        "English name (French) of one of the 75 languages lingua-language-detector knows"
    )


@functools.cache
def _pair_detector(source: lingua.Language, target: lingua.Language) -> lingua.LanguageDetector:
    _require()
    import lingua  # noqa: PLC0415  (96 MB of models: loaded by the worker that translates, never the gateway)

    return lingua.LanguageDetectorBuilder.from_languages(source, target).build()


@functools.cache
def any_detector() -> lingua.LanguageDetector:
    """Return one detector of all the languages lingua knows (low-accuracy mode: fast, enough for whole texts)."""
    _require()
    import lingua  # noqa: PLC0415  (96 MB of models: loaded by the worker that translates, never the gateway)

    builder = lingua.LanguageDetectorBuilder.from_all_languages()
    return builder.with_low_accuracy_mode().build()


def detect_text(text: str) -> lingua.Language | None:
    """Return the language of a whole text (a file's lines joined), or None if it has too few letters."""
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return None
    return any_detector().detect_language_of(text[:4000])


def letters(text: str) -> int:
    """Return how many letters a text has."""
    return sum(ch.isalpha() for ch in text)


def in_source_language(line: str, source: lingua.Language | None, target: lingua.Language) -> bool:
    """Return whether a translated line is still in the source language (judged among source and target only)."""
    if source is None or source == target or letters(line) < MIN_LETTERS:
        return False
    for value in _pair_detector(source, target).compute_language_confidence_values(line):
        if value.language == source:
            return bool(value.value >= MIN_CONFIDENCE)
    return False


def name_of(language: lingua.Language) -> str:
    """Return a language's English name, capitalised (``French``)."""
    return str(language.name).capitalize()
