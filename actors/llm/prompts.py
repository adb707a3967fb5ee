"""What the model reads when it translates: the rules, the summary, the terms and lengths of a chunk, one-line asks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from actors.llm.glossary import Term
from actors.llm.lines import BREAK, FORMAT_RULES, Chunk


@dataclass
class LineSpec:
    """One cue to translate: its text as one line, its character budget and the glossary terms it holds."""

    source: str
    budget: int
    terms: list[Term] = field(default_factory=list)


@dataclass
class Brief:
    """What every request of one language's translation shares."""

    target: str  # as the client wrote it ("fr", "French")
    target_name: str  # the detector's English name, for the model ("French")
    source_name: str | None
    summary: str | None
    lines: list[LineSpec]
    context_before: int
    context_after: int


def system_prompt(brief: Brief) -> str:
    """Return the system message of a translation."""
    source = f" from {brief.source_name}" if brief.source_name else ""
    target = brief.target if brief.target.casefold() == brief.target_name.casefold() else brief.target_name
    text = (
        f"You translate subtitles{source} into {target}. Translate the meaning naturally, as a professional "
        "subtitler would; keep names as they are. When a line lists required terms, use exactly those "
        f"translations. Keep each line within its character limit. {FORMAT_RULES}"
    )
    if brief.summary:
        text += f"\n\nAbout the video: {brief.summary}"
    return text


def _term_list(terms: Sequence[Term]) -> str:
    return "; ".join(f"{t.source} = {t.target}" for t in terms)


def chunk_extras(brief: Brief, chunk: Chunk) -> str:
    """Return the chunk's section of required terms and character limits, per line number."""
    specs = brief.lines[chunk.start : chunk.end]
    parts = []
    with_terms = [(i, s) for i, s in enumerate(specs, start=1) if s.terms]
    if with_terms:
        parts.append("Required terms:\n" + "\n".join(f"{i}: {_term_list(s.terms)}" for i, s in with_terms))
    limits = " ".join(f"{i}:{s.budget}" for i, s in enumerate(specs, start=1))
    parts.append(f"Character limits (line: at most characters): {limits}")
    return "\n\n".join(parts)


def line_extra_chars(brief: Brief, index: int) -> int:
    """Return what line ``index`` adds to its chunk's extra sections (its limit and its terms)."""
    spec = brief.lines[index]
    return 8 + (len(_term_list(spec.terms)) + 6 if spec.terms else 0)


def single_line_request(brief: Brief, index: int, done: Sequence[str | None], problems: Sequence[str]) -> str:
    """Return the user message asking for one line alone, saying what was wrong with the last answer."""
    spec = brief.lines[index]
    parts = []
    before = [line for line in done[max(0, index - brief.context_before) : index] if line]
    if before:
        parts.append("Previous lines (already translated):\n" + "\n".join(f"- {t}" for t in before))
    after = [s.source for s in brief.lines[index + 1 : index + 1 + brief.context_after]]
    if after:
        parts.append("Next lines (for context):\n" + "\n".join(f"- {t}" for t in after))
    parts.append(f"Translate this one line into {brief.target_name}:\n{spec.source}")
    rules = [f"at most {spec.budget} characters"]
    if spec.terms:
        rules.append(f"use these terms: {_term_list(spec.terms)}")
    parts.append("Rules: " + "; ".join(rules) + ".")
    if problems:
        parts.append("Your last answer " + "; ".join(problems) + ".")
    parts.append(f"Answer with the translated line only, on one line (keep {BREAK} if the line has one).")
    return "\n\n".join(parts)


SUMMARY_FORMAT = (
    'Answer with JSON only: {"topic": "<one sentence>", "register": "<formal, casual, technical...>", '
    '"terms": [<the proper nouns and terms that recur, as written in the text>]}'
)
TERMS_FORMAT = (
    'Answer with JSON only: {"topic": "<one sentence>", "register": "<formal, casual, technical...>", '
    '"terms": [{"source": "<a recurring name or term, as written in the text>", '
    '"target": "<its {target} translation>"}]}'
)


def summary_request(sample: str, target_name: str | None, max_terms: int) -> str:
    """Return the request for a text's topic, register and recurring terms (with translations if a target)."""
    shape = TERMS_FORMAT.replace("{target}", target_name) if target_name else SUMMARY_FORMAT
    return (
        "Read these subtitles and say what the video is about, in which register it speaks, and which proper "
        f"nouns and terms recur (at most {max_terms}). {shape}\n\nSubtitles:\n{sample}"
    )
