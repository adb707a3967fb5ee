"""Which languages Whisper knows, which a model can do, and the submit-time check of a request's language.

The languages a model handles are read without loading it: a size name ending in ``.en`` and a model
folder whose vocabulary has Whisper's English-only size (51,864 tokens) transcribe English only; the
100-language vocabulary (51,866 tokens, large-v3 and turbo) adds Cantonese (``yue``) to the 99 of
the others. Hub ids are not looked up (no network at submit): only a ``.en`` suffix is read.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

WHISPER_LANGUAGES = [
    "af",
    "am",
    "ar",
    "as",
    "az",
    "ba",
    "be",
    "bg",
    "bn",
    "bo",
    "br",
    "bs",
    "ca",
    "cs",
    "cy",
    "da",
    "de",
    "el",
    "en",
    "es",
    "et",
    "eu",
    "fa",
    "fi",
    "fo",
    "fr",
    "gl",
    "gu",
    "ha",
    "haw",
    "he",
    "hi",
    "hr",
    "ht",
    "hu",
    "hy",
    "id",
    "is",
    "it",
    "ja",
    "jw",
    "ka",
    "kk",
    "km",
    "kn",
    "ko",
    "la",
    "lb",
    "ln",
    "lo",
    "lt",
    "lv",
    "mg",
    "mi",
    "mk",
    "ml",
    "mn",
    "mr",
    "ms",
    "mt",
    "my",
    "ne",
    "nl",
    "nn",
    "no",
    "oc",
    "pa",
    "pl",
    "ps",
    "pt",
    "ro",
    "ru",
    "sa",
    "sd",
    "si",
    "sk",
    "sl",
    "sn",
    "so",
    "sq",
    "sr",
    "su",
    "sv",
    "sw",
    "ta",
    "te",
    "tg",
    "th",
    "tk",
    "tl",
    "tr",
    "tt",
    "uk",
    "ur",
    "uz",
    "vi",
    "yi",
    "yo",
    "zh",
    "yue",
]
"""Whisper's language codes, in faster-whisper's order (``yue`` only with the 100-language vocabulary)."""

ENGLISH_ONLY = frozenset({"en"})
_ALL = frozenset(WHISPER_LANGUAGES)
_NINETY_NINE = _ALL - {"yue"}
_ENGLISH_VOCABULARY = 51864
_HUNDRED_VOCABULARY = 51866
_HUNDRED_SIZES = frozenset({"large-v3", "large-v3-turbo", "turbo", "distil-large-v3", "distil-large-v3.5"})


def unknown_language_message(code: str) -> str:
    """Say that ``code`` is not a Whisper language and list those that are."""
    return (
        f"language {code!r} is not a Whisper language code; use one of: {', '.join(WHISPER_LANGUAGES)} "
        "(or leave it out to detect the language)"
    )


def size_languages(name: str) -> frozenset[str]:
    """Return the languages of a faster-whisper size name or hub id, read from its name."""
    tail = name.rsplit("/", 1)[-1].lower()
    if tail.endswith(".en") or tail.endswith("-en"):
        return ENGLISH_ONLY
    return _ALL if tail.removeprefix("faster-whisper-") in _HUNDRED_SIZES else _NINETY_NINE


@functools.lru_cache(maxsize=64)
def _vocabulary_size(folder: str, mtime_ns: int) -> int | None:
    del mtime_ns  # part of the cache key: a replaced model is read again
    path = Path(folder)
    vocabulary = path / "vocabulary.txt"
    if vocabulary.is_file():
        with vocabulary.open("rb") as lines:
            return sum(1 for _ in lines)
    tokenizer = path / "tokenizer.json"
    if tokenizer.is_file():
        data = json.loads(tokenizer.read_bytes())
        # the byte-pair vocabulary: GPT-2's 50,257 tokens for English-only models, one more for multilingual
        base = len(data.get("model", {}).get("vocab", {}))
        return _ENGLISH_VOCABULARY if base <= 50257 else _ENGLISH_VOCABULARY + 1 + (base > 50258)
    return None


def folder_languages(folder: Path) -> frozenset[str]:
    """Return the languages of the CTranslate2 Whisper model in ``folder`` (all, when it cannot be told)."""
    try:
        size = _vocabulary_size(str(folder), folder.stat().st_mtime_ns)
    except (OSError, ValueError):
        return _NINETY_NINE
    if size is None:
        return _NINETY_NINE
    if size <= _ENGLISH_VOCABULARY:
        return ENGLISH_ONLY
    return _ALL if size >= _HUNDRED_VOCABULARY else _NINETY_NINE


def wrong_model_message(model: str, language: str, can_do: frozenset[str], multilingual: str | None) -> str:
    """Say that ``model`` cannot transcribe ``language`` and what to ask for instead."""
    listed = ", ".join(code for code in WHISPER_LANGUAGES if code in can_do)
    instead = f"; name a multilingual model such as {multilingual!r}" if multilingual else ""
    return (
        f"model {model!r} cannot transcribe language {language!r}: it knows {listed}{instead}, "
        "or leave `model` out to get the default model for the language"
    )
