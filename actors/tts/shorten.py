"""Asking the LLM for a shorter line: the same meaning in at most a measured number of characters."""

from __future__ import annotations

import asyncio

import structlog

from actors.errors import EngineUnavailable
from actors.llm.client import ChatClient, Endpoint, resolve_endpoint
from config.engines import LlmSettings

log = structlog.get_logger(__name__)

_SYSTEM = (
    "You shorten lines of a film's dubbing script so they can be spoken in the time they have. "
    "Rewrite the line in the same language, keeping its meaning and tone, in at most {budget} characters. "
    "Answer with the rewritten line only, without quotes or comments."
)
_QUOTES = "\"'“”«»"


def llm_endpoint(settings: LlmSettings, provider: str | None) -> Endpoint | None:
    """Return the LLM endpoint lines are shortened with, or None when no LLM is configured.

    Raises:
        InputError: ``provider`` names a provider that is not configured.
    """
    try:
        return resolve_endpoint(settings, provider, None)
    except EngineUnavailable:
        return None


def shorter(endpoint: Endpoint, settings: LlmSettings, text: str, budget: int, language: str | None) -> str | None:
    """Return the LLM's shorter version of ``text`` (at most ``budget`` characters asked), or None.

    None when the answer is empty or no shorter than the line. Blocking: it runs its own event loop (the
    dub runs in a worker thread).

    Raises:
        TransientError, EngineUnavailable, EngineFailed: from the LLM client.
    """
    system = _SYSTEM.format(budget=budget)
    if language:
        system += f" The line is in {language}."
    messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]

    async def ask() -> str:
        async with ChatClient(endpoint, settings) as client:
            return await client.complete(messages)

    answer = asyncio.run(ask())
    lines = [line.strip().strip(_QUOTES).strip() for line in answer.strip().splitlines() if line.strip()]
    line = " ".join(lines[0].split()) if lines else ""
    if not line or len(line) >= len(text):
        log.info("line_not_shortened", chars=len(text), budget=budget, answer_chars=len(line))
        return None
    return line
