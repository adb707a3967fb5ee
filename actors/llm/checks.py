"""How a model's line can be well-formed and still wrong: a translation equal to its source, a proofread unrelated."""

from __future__ import annotations

import difflib

from actors.errors import EngineFailed
from actors.llm.lines import BREAK

# A proofread line less similar than this to its cue is not a proofread of it (a translation, a comment).
MIN_PROOFREAD_SIMILARITY = 0.5
# Lines this short are left alone by both checks: "OK", "Paris", "No." legitimately stay as they are.
_MIN_CHECKED_CHARS = 8


def _norm(text: str) -> str:
    return " ".join(text.replace(BREAK, " ").split()).casefold()


def _checked(source: str) -> bool:
    norm = _norm(source)
    return len(norm) >= _MIN_CHECKED_CHARS and any(ch.isalpha() for ch in norm)


def unchanged(source: str, line: str) -> bool:
    """Return whether a translated line came back as its source (case and spacing aside), or empty."""
    return _checked(source) and _norm(line) in (_norm(source), "")


def unrelated(source: str, line: str) -> bool:
    """Return whether a proofread line no longer resembles its cue."""
    ratio = difflib.SequenceMatcher(None, _norm(source), _norm(line), autojunk=False).ratio()
    return _checked(source) and ratio < MIN_PROOFREAD_SIMILARITY


def suspect_cues(sources: list[str], lines: list[str], test: str) -> list[int]:
    """Return the 1-based numbers of the cues whose line fails ``test`` ("unchanged" or "unrelated")."""
    check = unchanged if test == "unchanged" else unrelated
    return [i for i, (s, line) in enumerate(zip(sources, lines, strict=True), start=1) if check(s, line)]


def enforce(found: list[int], total: int, ratio: float, what: str, setting: str) -> None:
    """Fail when more than ``ratio`` of ``total`` cues are suspect.

    Raises:
        EngineFailed: too many suspect cues; the message names them and the setting.
    """
    if total and len(found) > ratio * total:
        shown = ", ".join(map(str, found[:20])) + (", ..." if len(found) > 20 else "")
        raise EngineFailed(
            f"{len(found)} of {total} cues came back {what} (cues {shown}) after re-asks, more than "
            f"{setting} ({ratio:g}) allows; try a stronger model, or pass a higher {setting.removeprefix('llm.')}"
        )
