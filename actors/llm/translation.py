"""One language's translation, checked: every cue kept, terms, length budget, language; one re-ask per bad line."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import structlog

from actors.errors import EngineFailed
from actors.llm.checks import unchanged
from actors.llm.engines import Progress, Translator
from actors.llm.glossary import Term, has_target
from actors.llm.lines import BREAK
from actors.llm.prompts import Brief

log = structlog.get_logger(__name__)

# At most this share of the cues (and at least _MIN_FIXES) are asked again one by one.
_FIX_SHARE = 0.25
_MIN_FIXES = 20


class GlossaryMiss(msgspec.Struct, kw_only=True):
    """A cue whose translation lacks a glossary term's required rendering (after one re-ask)."""

    cue: int
    source_term: str
    target_term: str


def line_chars(line: str) -> int:
    """Return the characters a line shows (line-break markers and repeated spaces aside)."""
    return len(" ".join(line.replace(BREAK, " ").split()))


@dataclass
class LineCheck:
    """What is wrong with one line's translation."""

    missing: bool = False
    untranslated: bool = False
    misses: list[Term] = field(default_factory=list)
    over_budget: int = 0  # characters over

    def score(self) -> int:
        """Return how bad the line is: a missing line is worst, a few characters over budget least."""
        return 1000 * self.missing + 100 * self.untranslated + 10 * len(self.misses) + min(self.over_budget, 9)

    def problems(self, budget: int, target: str) -> list[str]:
        """Return the problems as the re-ask states them."""
        out = []
        if self.missing:
            out.append("was missing")
        if self.untranslated:
            out.append(f"was not in {target}")
        for term in self.misses:
            out.append(f"did not translate {term.source!r} as {term.target!r}")
        if self.over_budget:
            out.append(f"was {self.over_budget} characters too long: shorten it to {budget} characters at most")
        return out


@dataclass
class LanguageResult:
    """A language's final lines (source kept where missing) and what the checks found."""

    lines: list[str]
    missing: list[int]
    untranslated: list[int]
    glossary_misses: list[GlossaryMiss]
    over_budget: list[int]

    @property
    def failed_cues(self) -> list[int]:
        """Return the 1-based cues left in the source language (missing or untranslated)."""
        return sorted(set(self.missing) | set(self.untranslated))


Untranslated = Callable[[str, str], bool]


def check_line(source: str, line: str | None, terms: list[Term], budget: int, untranslated: Untranslated) -> LineCheck:
    """Check one translated line against its source, terms and budget."""
    plain = " ".join((line or "").replace(BREAK, " ").split())
    if not any(ch.isalnum() for ch in plain) and any(ch.isalnum() for ch in source.replace(BREAK, " ")):
        return LineCheck(missing=True)  # empty, or only marks ("`<br>`", "..."): no translation of a real line
    return LineCheck(
        untranslated=unchanged(source, plain) or untranslated(source, plain),
        misses=[t for t in terms if not has_target(plain, t)],
        over_budget=max(0, len(plain) - budget) if budget > 0 else 0,
    )


async def translate_checked(
    engine: Translator, brief: Brief, untranslated: Untranslated, progress: Progress
) -> LanguageResult:
    """Translate, check every line, ask each bad line once more alone, and report what stays wrong."""
    lines = await engine.translate(brief, lambda s, line: unchanged(s, line) or untranslated(s, line), progress)
    checks = [
        check_line(s.source, line, s.terms, s.budget, untranslated) for s, line in zip(brief.lines, lines, strict=True)
    ]
    bad = [i for i, c in enumerate(checks) if c.score()]
    cap = max(_MIN_FIXES, math.ceil(_FIX_SHARE * len(lines)))
    bad.sort(key=lambda i: -checks[i].score())  # the worst first, if there are more than the cap
    for index in bad[:cap]:
        spec = brief.lines[index]
        fixed = await engine.fix_line(brief, index, lines, checks[index].problems(spec.budget, brief.target_name))
        if fixed is None:
            continue
        again = check_line(spec.source, fixed, spec.terms, spec.budget, untranslated)
        if not again.untranslated and again.score() < checks[index].score():  # an answer in the source: no better
            lines[index], checks[index] = fixed, again
    if len(bad) > cap:
        log.warning("translation_fixes_capped", bad=len(bad), asked=cap)
    final = [
        line if not c.missing and line else s.source for s, line, c in zip(brief.lines, lines, checks, strict=True)
    ]
    return LanguageResult(
        lines=final,
        missing=[i for i, c in enumerate(checks, start=1) if c.missing],
        untranslated=[i for i, c in enumerate(checks, start=1) if c.untranslated],
        glossary_misses=[
            GlossaryMiss(cue=i, source_term=t.source, target_term=t.target)
            for i, c in enumerate(checks, start=1)
            for t in c.misses
        ],
        over_budget=[i for i, c in enumerate(checks, start=1) if c.over_budget],
    )


def enforce_share(result: LanguageResult, total: int, ratio: float, target: str) -> float:
    """Return the share of cues left in the source language; fail when it is above ``ratio``.

    Raises:
        EngineFailed: too many cues could not be translated; the message gives the share and the cues.
    """
    failed = result.failed_cues
    share = len(failed) / total if total else 0.0
    if failed and share > ratio:
        shown = ", ".join(map(str, failed[:20])) + (", ..." if len(failed) > 20 else "")
        raise EngineFailed(
            f"{len(failed)} of {total} cues ({share:.0%}) could not be translated into {target} after re-asks "
            f"(missing: {len(result.missing)}, still in the source language: {len(result.untranslated)}; cues "
            f"{shown}), more than max_unchanged_ratio ({ratio:g}) allows; try a stronger model, or pass a "
            "higher max_unchanged_ratio"
        )
    return share
