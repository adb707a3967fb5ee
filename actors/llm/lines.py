"""Rewrite numbered lines with an LLM: chunks sized to its context, overlap, concurrency and re-asks."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from actors.errors import EngineFailed
from actors.llm.client import ChatClient, Endpoint
from config.engines import LlmSettings

log = structlog.get_logger(__name__)

# A line break inside one cue travels as this marker, so that one cue is one numbered line.
BREAK = "<br>"
CHARS_PER_TOKEN = 3
# Room for the answer, as a multiple of the lines sent (translations run longer than their source).
ANSWER_FACTOR = 1.5
_LINE_OVERHEAD_CHARS = 6
_NUMBERED = re.compile(r"^\s*(\d+)\s*[|:.)\]]\s?(.*)$")

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


def plan_chunks(texts: list[str], settings: LlmSettings, fixed_chars: int) -> list[Chunk]:
    """Split lines into chunks whose request and answer fit ``llm.context_tokens``.

    ``fixed_chars`` is what every request carries besides the lines (instructions, headings).
    A single line too long for the budget still gets a chunk of its own.
    """
    budget = settings.context_tokens * CHARS_PER_TOKEN - fixed_chars
    overlap, chunks, start = settings.chunk_overlap_cues, [], 0
    sizes = [len(t) + _LINE_OVERHEAD_CHARS for t in texts]
    while start < len(texts):
        before_chars = sum(sizes[max(0, start - overlap) : start])
        end, lines_chars = start + 1, sizes[start]
        while end < len(texts) and end - start < settings.max_chunk_cues:
            after_chars = sum(sizes[end + 1 : end + 1 + overlap])
            if before_chars + after_chars + (lines_chars + sizes[end]) * (1 + ANSWER_FACTOR) > budget:
                break
            lines_chars += sizes[end]
            end += 1
        chunks.append(Chunk(start, end, texts[max(0, start - overlap) : start], texts[end : end + overlap]))
        start = end
    return chunks


def request_text(chunk: Chunk, texts: list[str], verb: str) -> str:
    """Return the user message for a chunk: context before, the numbered lines, context after."""
    parts = []
    if chunk.before:
        parts.append("Context before (do not answer):\n" + "\n".join(f"- {t}" for t in chunk.before))
    numbered = "\n".join(f"{i}| {t}" for i, t in enumerate(texts[chunk.start : chunk.end], start=1))
    parts.append(f"Lines to {verb} ({chunk.size}):\n{numbered}")
    if chunk.after:
        parts.append("Context after (do not answer):\n" + "\n".join(f"- {t}" for t in chunk.after))
    return "\n\n".join(parts)


def parse_answer(answer: str, expected: int) -> tuple[list[str] | None, int]:
    """Return the answer's lines in order (None unless numbered exactly 1..expected) and how many it had."""
    found: dict[int, str] = {}
    count = 0
    for line in answer.splitlines():
        match = _NUMBERED.match(line)
        if match:
            count += 1
            found.setdefault(int(match.group(1)), match.group(2).strip())
    if count != expected or sorted(found) != list(range(1, expected + 1)):
        return None, count
    return [found[i] for i in range(1, expected + 1)], count


@dataclass
class LineJob:
    """One rewrite: the system prompt, the lines, and how progress and cancellation are reported.

    ``suspect`` tells a well-formed answer line that is still wrong for the job (a translation equal to its
    source); such lines are asked again with ``suspect_note`` and the answer with the fewest is kept.
    """

    system: str
    verb: str
    texts: list[str] = field(default_factory=list)
    on_chunk_done: Callable[[int, int], None] = lambda _done, _total: None
    suspect: Callable[[str, str], bool] = lambda _source, _line: False
    suspect_note: str = ""

    def suspects(self, start: int, lines: list[str]) -> list[int]:
        """Return the 1-based numbers, within a chunk starting at ``start``, of suspect answer lines."""
        return [i for i, line in enumerate(lines, start=1) if self.suspect(self.texts[start + i - 1], line)]


def _reask(chunk: Chunk, count: int, suspects: list[int], job: LineJob) -> str:
    if not suspects:
        return (
            f"Your answer had {count} numbered lines; it must have exactly "
            f"{chunk.size}, numbered 1 to {chunk.size}, one per line. Answer again."
        )
    numbers = ", ".join(map(str, suspects))
    return f"Lines {numbers} {job.suspect_note}. Answer again with all {chunk.size} lines, numbered 1 to {chunk.size}."


async def _ask_chunk(client: ChatClient, job: LineJob, chunk: Chunk, reask_attempts: int) -> list[str]:
    messages = [
        {"role": "system", "content": job.system},
        {"role": "user", "content": request_text(chunk, job.texts, job.verb)},
    ]
    count, best, best_suspects = 0, None, chunk.size + 1
    for ask in range(reask_attempts + 1):
        answer = await client.complete(messages)
        lines, count = parse_answer(answer, chunk.size)
        suspects = job.suspects(chunk.start, lines) if lines is not None else []
        if lines is not None and len(suspects) < best_suspects:
            best, best_suspects = lines, len(suspects)
        if lines is not None and not suspects:
            return lines
        if lines is None:
            log.warning("llm_answer_line_count_wrong", chunk=chunk.span(), expected=chunk.size, got=count, ask=ask + 1)
        else:
            log.warning("llm_answer_lines_suspect", chunk=chunk.span(), lines=suspects, ask=ask + 1)
        messages += [
            {"role": "assistant", "content": answer},
            {"role": "user", "content": _reask(chunk, count, suspects, job)},
        ]
    if best is not None:
        return best
    raise EngineFailed(
        f"the model answered {count} lines instead of {chunk.size} for {chunk.span()}, {reask_attempts + 1} "
        "times; try a stronger model or a smaller llm.max_chunk_cues"
    )


async def rewrite_lines(endpoint: Endpoint, settings: LlmSettings, job: LineJob) -> list[str]:
    """Send every chunk (up to ``llm.max_concurrency`` at once) and return the new lines in order.

    Raises:
        EngineFailed: a chunk's answer kept the wrong number of lines after every re-ask.
        TransientError: the endpoint stayed unreachable or busy.
    """
    fixed = len(job.system) + len(job.verb) + 120
    chunks = plan_chunks(job.texts, settings, fixed)
    log.info("llm_chunks_planned", lines=len(job.texts), chunks=len(chunks), model=endpoint.model)
    gate = asyncio.Semaphore(settings.max_concurrency)
    results: list[list[str]] = [[] for _ in chunks]

    async def one(index: int, chunk: Chunk) -> int:
        async with gate:
            results[index] = await _ask_chunk(client, job, chunk, settings.reask_attempts)
        return index

    async with ChatClient(endpoint, settings) as client:
        pending = [asyncio.create_task(one(i, c)) for i, c in enumerate(chunks)]
        try:
            for done, finished in enumerate(asyncio.as_completed(pending), start=1):
                await finished
                job.on_chunk_done(done, len(chunks))
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
    return [line for lines in results for line in lines]
