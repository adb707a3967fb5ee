"""Text to speak: sentences of a long text, and the speaker label a subtitle line may start with."""

from __future__ import annotations

import re

MAX_TEXT_CHARS = 20_000
MAX_LINE_CHARS = 2_000
# A sentence longer than this is cut at a comma or a space: engines slow down (or fail) on very long inputs.
MAX_SENTENCE_CHARS = 400

_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+|\n\s*\n")
_SOFT_BREAK = re.compile(r"[,;:，、]\s+|\s+")
# SRT has no speaker field: subtitles.generate_files writes speakers as a ``SPEAKER_00: `` prefix.
_SPEAKER_PREFIX = re.compile(r"^((?:SPEAKER|Speaker)[ _]?\d+):\s+")
_MARKUP = re.compile(r"<[^>]{1,64}>|\{\\[^}]*\}")


def sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
    """Split ``text`` into sentences (long ones cut at a comma or space), whitespace collapsed."""
    out: list[str] = []
    for part in _SENTENCE_END.split(text):
        sentence = " ".join(part.split())
        while len(sentence) > max_chars:
            cut = max((m.end() for m in _SOFT_BREAK.finditer(sentence, 0, max_chars)), default=max_chars)
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            out.append(sentence)
    return out


def spoken_line(text: str, speaker: str | None, labels: set[str]) -> tuple[str, str | None]:
    """Return a cue's words without markup, and its speaker.

    The speaker is the cue's own, a ``SPEAKER_00: `` prefix, or a ``LABEL: `` prefix naming one of
    ``labels`` (the keys of the request's ``voices``).
    """
    words = " ".join(_MARKUP.sub("", text).split())
    if speaker is None:
        match = _SPEAKER_PREFIX.match(words)
        label = match.group(1) if match else words.split(":", 1)[0] if ":" in words else None
        if match or (label is not None and label in labels):
            speaker, words = label, words.split(":", 1)[1].strip()
    return words, speaker
