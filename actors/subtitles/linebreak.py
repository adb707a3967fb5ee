"""Line breaks a subtitler would choose.

After punctuation, before a conjunction, never after an article or a
preposition when another break exists, the lines of a cue balanced (a longer bottom line is fine).
"""

from __future__ import annotations

import itertools
from functools import cache

# English function words a line should not end on (a break after them splits a phrase from its head)
_NO_BREAK_AFTER = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "my",
        "your",
        "his",
        "her",
        "its",
        "our",
        "their",
        "some",
        "any",
        "no",
        "every",
        "each",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "about",
        "into",
        "onto",
        "over",
        "under",
        "after",
        "before",
        "between",
        "through",
        "during",
        "without",
        "within",
        "upon",
        "than",
        "as",
        "like",
        "per",
        "via",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "if",
    ]
)
# words a line may start with: a new clause
_CLAUSE_START = frozenset(
    [
        "and",
        "but",
        "or",
        "nor",
        "so",
        "because",
        "although",
        "though",
        "while",
        "whereas",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "that",
        "if",
        "unless",
        "until",
        "since",
        "then",
        "however",
        "therefore",
    ]
)
_SENTENCE_END = (".", "?", "!", "…", '."', '?"', '!"')
_CLAUSE_END = (",", ";", ":", "—", "–", ',"')


def _bare(word: str) -> str:
    return word.strip("\"'“”‘’()[]").lower()


def break_score(before: str, after: str | None) -> float:
    """Return the cost of breaking (a line or a cue) between ``before`` and ``after``; lower is better."""
    if after is None:
        return 0.0
    if before.endswith(_SENTENCE_END):
        return -7.0
    if before.endswith(_CLAUSE_END):
        return -5.0
    score = 0.0
    if _bare(after) in _CLAUSE_START:
        score -= 3.0
    if _bare(before) in _NO_BREAK_AFTER:
        score += 10.0
    return score


def ends_sentence(word: str) -> bool:
    """Return whether ``word`` closes a sentence."""
    return word.endswith(_SENTENCE_END)


def _greedy_count(lengths: tuple[int, ...], width: int, first_offset: int) -> int:
    lines, current = 0, -1
    for n in lengths:
        room = width - (first_offset if lines == 0 else 0)
        if current >= 0 and current + 1 + n > room:
            lines += 1
            current = n
        else:
            current = n if current < 0 else current + 1 + n
    return lines + (1 if current >= 0 else 0)


@cache
def _best_breaks(words: tuple[str, ...], width: int, lines: int, first_offset: int) -> tuple[int, ...] | None:
    """Return the word indexes that start lines 2..``lines`` at the least cost, or None when they cannot fit."""
    n = len(words)
    lengths = [len(w) for w in words]
    prefix = [0]
    for length in lengths:
        prefix.append(prefix[-1] + length)

    def width_of(i: int, j: int) -> int:
        return prefix[j] - prefix[i] + (j - i - 1)

    target = (width_of(0, n) + first_offset) / lines
    inf = float("inf")
    # best[k][j]: cost of laying words[:j] on k lines
    best = [[inf] * (n + 1) for _ in range(lines + 1)]
    back = [[0] * (n + 1) for _ in range(lines + 1)]
    best[0][0] = 0.0
    for k in range(1, lines + 1):
        room = width - (first_offset if k == 1 else 0)
        for j in range(k, n + 1):
            for i in range(j - 1, k - 2, -1):
                used = width_of(i, j)
                if used > room:
                    break
                if best[k - 1][i] == inf:
                    continue
                shown = used + (first_offset if k == 1 else 0)
                deviation = shown - target
                if k == lines and lines == 2 and deviation > 0:
                    deviation *= 0.5  # a bottom-heavy pyramid is allowed
                cost = best[k - 1][i] + 0.04 * deviation * deviation
                if j < n:
                    cost += break_score(words[j - 1], words[j])
                if cost < best[k][j]:
                    best[k][j], back[k][j] = cost, i
    if best[lines][n] == inf:
        return None
    starts, j = [], n
    for k in range(lines, 1, -1):
        j = back[k][j]
        starts.append(j)
    return tuple(reversed(starts))


def break_lines(text: str, max_chars: int, max_lines: int | None = None, first_offset: int = 0) -> list[str] | None:
    """Return ``text`` on as few lines of at most ``max_chars`` as it needs, breaking where a reader expects.

    ``first_offset`` reserves room on the first line (a ``Speaker: `` label). Returns None when the text needs
    more than ``max_lines`` lines; a word longer than a line gets a line of its own (and overflows it).
    """
    words = tuple(text.split())
    if not words:
        return []
    needed = _greedy_count(tuple(len(w) for w in words), max_chars, first_offset)
    if max_lines is not None and needed > max_lines:
        return None
    if needed == 1:
        return [" ".join(words)]
    starts = _best_breaks(words, max_chars, needed, first_offset)
    if starts is None:  # an over-long word: fall back to one line per overflow
        return _greedy_lines(words, max_chars, first_offset)
    bounds = [0, *starts, len(words)]
    return [" ".join(words[a:b]) for a, b in itertools.pairwise(bounds)]


def _greedy_lines(words: tuple[str, ...], width: int, first_offset: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in words:
        room = width - (first_offset if not lines else 0)
        candidate = f"{current} {word}" if current else word
        if current and len(candidate) > room:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def line_count(text: str, max_chars: int, first_offset: int = 0) -> int:
    """Return how many lines of at most ``max_chars`` the text needs (a longer word gets its own line)."""
    return _greedy_count(tuple(len(w) for w in text.split()), max_chars, first_offset)


def wrap_balanced(text: str, max_chars: int, first_offset: int = 0) -> list[str]:
    """Wrap text in as few lines of at most ``max_chars`` as possible, balanced and broken at natural points."""
    return break_lines(text, max_chars, None, first_offset) or []
