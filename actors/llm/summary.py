"""Before translating: the video's topic, register and recurring terms, asked of the model once (VideoLingo's step)."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog

from actors.llm.answers import repair_json
from actors.llm.client import ChatClient, Endpoint
from actors.llm.glossary import Term, terms_in
from actors.llm.lines import BREAK, CHARS_PER_TOKEN
from actors.llm.prompts import summary_request
from config.engines import LlmSettings

log = structlog.get_logger(__name__)

_MAX_TEXT = 300


class Summary(msgspec.Struct, kw_only=True):
    """What the model found: topic, register, recurring terms (only those the text holds), and their translations."""

    topic: str = ""
    register: str = ""
    terms: list[str] = msgspec.field(default_factory=list)
    glossary: dict[str, str] = msgspec.field(default_factory=dict)

    def text(self) -> str | None:
        """Return the summary as the translation prompt states it (None when the model gave nothing usable)."""
        parts = []
        if self.topic:
            parts.append(f"Topic: {self.topic}")
        if self.register:
            parts.append(f"Register: {self.register}")
        if self.terms:
            parts.append("Recurring names and terms: " + ", ".join(self.terms))
        return ". ".join(parts) + "." if parts else None


def sample_text(texts: list[str], settings: LlmSettings) -> str:
    """Return the lines that fit half the model's context, one a line."""
    limit, out, used = settings.context_tokens * CHARS_PER_TOKEN // 2, [], 0
    for text in texts:
        line = text.replace(BREAK, " ")
        if used + len(line) + 1 > limit:
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _clip(value: Any) -> str:
    return " ".join(str(value).split())[:_MAX_TEXT] if isinstance(value, str | int | float) else ""


def read_summary(answer: str, texts: list[str], max_terms: int) -> Summary:
    """Read the model's JSON (repaired); keep only terms that occur in the text, so invented ones are dropped."""
    data = repair_json(answer)
    if not isinstance(data, dict):
        return Summary()
    whole = "\n".join(texts)
    names: list[str] = []
    glossary: dict[str, str] = {}
    for item in data.get("terms") or []:
        source = _clip(item.get("source") if isinstance(item, dict) else item)
        target = _clip(item.get("target")) if isinstance(item, dict) else ""
        if not source or source in names or not terms_in(whole, [Term(source=source, target=target or source)]):
            continue
        names.append(source)
        if target:
            glossary[source] = target
    return Summary(
        topic=_clip(data.get("topic", "")),
        register=_clip(data.get("register", "")),
        terms=names[:max_terms],
        glossary={k: v for k, v in glossary.items() if k in names[:max_terms]},
    )


async def summarize(
    endpoint: Endpoint, settings: LlmSettings, texts: list[str], target_name: str | None, max_terms: int = 30
) -> Summary:
    """Ask the model for the text's topic, register and recurring terms (with translations into ``target_name``)."""
    messages = [
        {"role": "system", "content": "You prepare subtitles for translation. You answer with JSON only."},
        {"role": "user", "content": summary_request(sample_text(texts, settings), target_name, max_terms)},
    ]
    async with ChatClient(endpoint, settings) as client:
        answer = await client.complete(messages)
    summary = read_summary(answer, texts, max_terms)
    log.info("llm_summary_read", terms=len(summary.terms), topic=bool(summary.topic), translated=len(summary.glossary))
    return summary
