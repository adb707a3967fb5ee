"""Rewrite numbered lines with an LLM: chunks sized to its context, overlap, concurrency and re-asks."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from actors.errors import EngineFailed
from actors.llm.answers import count_numbered, parse_lines
from actors.llm.client import ChatClient, Endpoint
from config.engines import LlmSettings

log = structlog.get_logger(__name__)

# A line break inside one cue travels as this marker, so that one cue is one numbered line.
BREAK = "<br>"
CHARS_PER_TOKEN = 3
# Room for the answer, as a multiple of the lines sent (translations run longer than their source).
ANSWER_FACTOR = 1.5
_LINE_OVERHEAD_CHARS = 6
# The headings of a chunk's extra sections (required terms, character limits).
_EXTRAS_HEADINGS_CHARS = 80

FORMAT_RULES = (
    "You get numbered lines, one per subtitle cue, written `<number>| <text>`. Answer with exactly the same "
    "numbers in the same order, one line each, written `<number>| <text>`, and nothing else: never merge, "
    f'split, skip or add lines. Keep `{BREAK}` where a line break belongs. Lines under a "Context" heading '
    "only help you understand the text; do not answer them."
)


@dataclass(frozen=True)
class Chunk:
    """Cues ``start`` (inclusive) to ``end`` (exclusive), with the texts around them sent as context."""

    start: int
    end: int
    before: list[str]
    after: list[str]

    @property
    def size(self) -> int:
        """Return how many lines the answer must have."""
        return self.end - self.start

    def span(self) -> str:
        """Return the cue numbers, 1-based, for messages."""
        return f"cues {self.start + 1}-{self.end}"


def estimate_tokens(text: str) -> int:
    """Estimate a text's tokens (about three characters each)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def plan_chunks(  # noqa: PLR0917  (the plan's inputs)
    texts: list[str],
    settings: LlmSettings,
    fixed_chars: int,
    before: int | None = None,
    after: int | None = None,
    extra_chars: list[int] | None = None,
) -> list[Chunk]:
    """Split lines into chunks whose request and answer fit ``llm.context_tokens``.

    ``fixed_chars`` is what every request carries besides the lines (instructions, headings); ``before`` and
    ``after`` are the context lines each side (default ``llm.chunk_overlap_cues``); ``extra_chars`` is what a
    line adds to the request besides its text (its terms and limit).
    A single line too long for the budget still gets a chunk of its own.
    """
    budget = settings.context_tokens * CHARS_PER_TOKEN - fixed_chars
    overlap = settings.chunk_overlap_cues if before is None else before
    after = overlap if after is None else after
    chunks, start = [], 0
    sizes = [len(t) + _LINE_OVERHEAD_CHARS + (extra_chars[i] if extra_chars else 0) for i, t in enumerate(texts)]
    while start < len(texts):
        before_chars = sum(sizes[max(0, start - overlap) : start])
        end, lines_chars = start + 1, sizes[start]
        while end < len(texts) and end - start < settings.max_chunk_cues:
            after_chars = sum(sizes[end + 1 : end + 1 + after])
            if before_chars + after_chars + (lines_chars + sizes[end]) * (1 + ANSWER_FACTOR) > budget:
                break
            lines_chars += sizes[end]
            end += 1
        chunks.append(Chunk(start, end, texts[max(0, start - overlap) : start], texts[end : end + after]))
        start = end
    return chunks


def request_text(
    chunk: Chunk, texts: list[str], verb: str, done: dict[int, str] | None = None, extras: str = ""
) -> str:
    """Return the user message for a chunk: context before, the numbered lines, ``extras``, context after.

    Context lines before the chunk that ``done`` holds are sent as their answer (the translation so far).
    """
    parts = []
    if chunk.before:
        first = chunk.start - len(chunk.before)
        shown = [(done or {}).get(first + i, t) for i, t in enumerate(chunk.before)]
        parts.append("Context before (do not answer):\n" + "\n".join(f"- {t}" for t in shown))
    numbered = "\n".join(f"{i}| {t}" for i, t in enumerate(texts[chunk.start : chunk.end], start=1))
    parts.append(f"Lines to {verb} ({chunk.size}):\n{numbered}")
    if extras:
        parts.append(extras)
    if chunk.after:
        parts.append("Context after (do not answer):\n" + "\n".join(f"- {t}" for t in chunk.after))
    return "\n\n".join(parts)


def parse_answer(answer: str, expected: int) -> tuple[list[str] | None, int]:
    """Return the answer's lines in order (None unless it has all of 1..expected) and how many it had."""
    found = parse_lines(answer, expected)
    if len(found) != expected:
        return None, max(len(found), count_numbered(answer))
    return [found[i] for i in range(1, expected + 1)], expected


@dataclass
class LineJob:
    """One rewrite: the system prompt, the lines, and how progress and cancellation are reported.

    ``suspect`` tells a well-formed answer line that is still wrong for the job (a translation equal to its
    source); such lines are asked again with ``suspect_note`` and the answer with the fewest is kept.
    With ``partial`` a chunk whose answers kept missing lines gives the lines it got (None for the others)
    instead of failing; ``extras`` adds a section to a chunk's request (terms, lengths); ``done`` collects
    answers as chunks end, so later chunks see the translated lines before them as context.
    """

    system: str
    verb: str
    texts: list[str] = field(default_factory=list)
    on_chunk_done: Callable[[int, int], None] = lambda _done, _total: None
    suspect: Callable[[str, str], bool] = lambda _source, _line: False
    suspect_note: str = ""
    partial: bool = False
    extras: Callable[[Chunk], str] = lambda _chunk: ""
    context_before: int | None = None
    context_after: int | None = None
    done: dict[int, str] = field(default_factory=dict)
    line_extra_chars: Callable[[int], int] = lambda _index: 0
    in_order: bool = False

    def suspects(self, start: int, lines: dict[int, str]) -> list[int]:
        """Return the 1-based numbers, within a chunk starting at ``start``, of suspect answer lines."""
        return sorted(n for n, line in lines.items() if self.suspect(self.texts[start + n - 1], line))


def _reask(chunk: Chunk, count: int, suspects: list[int], job: LineJob) -> str:
    if count != chunk.size:
        return (
            f"Your answer had {count} numbered lines; it must have exactly "
            f"{chunk.size}, numbered 1 to {chunk.size}, one per line. Answer again."
        )
    numbers = ", ".join(map(str, suspects))
    return f"Lines {numbers} {job.suspect_note}. Answer again with all {chunk.size} lines, numbered 1 to {chunk.size}."


def _merge(best: dict[int, str], bad: set[int], found: dict[int, str], suspects: list[int]) -> None:
    """Keep, per line, the first good answer; a suspect line only fills a gap."""
    for number, line in found.items():
        if number not in best or (number in bad and number not in suspects):
            best[number] = line
            if number in suspects:
                bad.add(number)
            else:
                bad.discard(number)


async def _ask_chunk(client: ChatClient, job: LineJob, chunk: Chunk, reask_attempts: int) -> list[str | None]:
    messages = [
        {"role": "system", "content": job.system},
        {"role": "user", "content": request_text(chunk, job.texts, job.verb, job.done, job.extras(chunk))},
    ]
    count, best, bad = 0, dict[int, str](), set[int]()
    for ask in range(reask_attempts + 1):
        answer = await client.complete(messages)
        found = parse_lines(answer, chunk.size)
        count = len(found) if len(found) == chunk.size else max(len(found), count_numbered(answer))
        suspects = job.suspects(chunk.start, found)
        if job.partial:
            _merge(best, bad, found, suspects)
        elif len(found) == chunk.size and (not best or len(suspects) < len(bad)):
            best, bad = dict(found), set(suspects)
        if len(best) == chunk.size and not bad:
            break
        if len(found) != chunk.size:
            log.warning("llm_answer_line_count_wrong", chunk=chunk.span(), expected=chunk.size, got=count, ask=ask + 1)
        else:
            log.warning("llm_answer_lines_suspect", chunk=chunk.span(), lines=suspects, ask=ask + 1)
        messages += [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": _reask(chunk, count, suspects, job)},
        ]
    if len(best) < chunk.size and not job.partial:
        raise EngineFailed(
            f"the model answered {count} lines instead of {chunk.size} for {chunk.span()}, {reask_attempts + 1} "
            "times; try a stronger model or a smaller llm.max_chunk_cues"
        )
    lines = [best.get(n) for n in range(1, chunk.size + 1)]
    job.done.update({chunk.start + i: line for i, line in enumerate(lines) if line is not None})
    return lines


async def rewrite_lines(endpoint: Endpoint, settings: LlmSettings, job: LineJob) -> list[str | None]:
    """Send every chunk (up to ``llm.max_concurrency`` at once) and return the new lines in order.

    Lines are None only for a ``partial`` job, where the model never gave them.

    Raises:
        EngineFailed: a chunk's answer kept the wrong number of lines after every re-ask (unless ``partial``).
        TransientError: the endpoint stayed unreachable or busy.
    """
    extra = [job.line_extra_chars(i) for i in range(len(job.texts))]
    fixed = len(job.system) + len(job.verb) + 120 + (_EXTRAS_HEADINGS_CHARS if any(extra) else 0)
    chunks = plan_chunks(job.texts, settings, fixed, job.context_before, job.context_after, extra)
    log.info("llm_chunks_planned", lines=len(job.texts), chunks=len(chunks), model=endpoint.model)
    results: list[list[str | None]] = [[] for _ in chunks]
    gate, finished = asyncio.Semaphore(settings.max_concurrency), 0

    async def section(indexes: range) -> None:
        nonlocal finished
        for index in indexes:
            async with gate:
                results[index] = await _ask_chunk(client, job, chunks[index], settings.reask_attempts)
            finished += 1
            job.on_chunk_done(finished, len(chunks))

    async with ChatClient(endpoint, settings) as client:
        pending = [
            asyncio.create_task(section(s)) for s in sections(len(chunks), settings.max_concurrency, job.in_order)
        ]
        try:
            for task in asyncio.as_completed(pending):
                await task
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
    return [line for lines in results for line in lines]


def sections(count: int, concurrency: int, in_order: bool) -> list[range]:
    """Return the runs of chunks sent one after another; the runs go in parallel (``llm.max_concurrency``).

    ``in_order`` makes ``concurrency`` contiguous runs, so that every chunk but each run's first is sent after
    the one before it and sees its answer as context; otherwise each chunk is a run of its own, at most
    ``concurrency`` at once.
    """
    if not in_order:
        return [range(i, i + 1) for i in range(count)]
    size = max(1, math.ceil(count / concurrency))
    return [range(i, min(i + size, count)) for i in range(0, count, size)]
