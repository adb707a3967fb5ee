"""``llm.extract_terms``: the topic, register and recurring terms of subtitles, as a glossary the client edits."""

from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec
import structlog

from actors.llm import langid
from actors.llm.client import resolve_endpoint
from actors.llm.cues import as_line, split_speaker
from actors.llm.summary import summarize
from actors.llm.tasks import Language, ModelName, ProviderName
from actors.spec import task
from actors.subtitles.formats import read_cues
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)


class ExtractTermsInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``llm.extract_terms``; with ``target_language`` the terms come with translations."""

    subtitle_path: Annotated[str, StoragePath]
    target_language: Language | None = None
    model: ModelName | None = None
    provider: ProviderName | None = None
    max_terms: Annotated[int, msgspec.Meta(ge=1, le=200)] = 30


class ExtractTermsOutput(msgspec.Struct, kw_only=True):
    """Output of ``llm.extract_terms``: pass ``glossary`` (edited) or ``glossary_path`` to translate_subtitles."""

    summary: str | None
    topic: str
    register: str
    terms: list[str]  # recurring names and terms, as the text writes them
    glossary: dict[str, str]  # term -> translation (with target_language; terms the model gave none for left out)
    glossary_path: str  # the same glossary as a JSON file in storage


@task("llm.extract_terms", queue="llm", input=ExtractTermsInput, output=ExtractTermsOutput)
def extract_terms(run: TaskRun, params: ExtractTermsInput) -> ExtractTermsOutput:
    """Ask the model for the topic, register and recurring terms of subtitles (and their translations)."""
    target = langid.name_of(langid.resolve(params.target_language)) if params.target_language else None
    cues = [split_speaker(c) for c in read_cues(run.input_path(params.subtitle_path), params.subtitle_path)]
    texts = [as_line(c.text) for c in cues]
    endpoint = resolve_endpoint(run.settings.llm, params.provider, params.model)
    run.checkpoint()
    found = asyncio.run(summarize(endpoint, run.settings.llm, texts, target, params.max_terms))
    path = run.output_dir / "glossary.json"
    path.write_bytes(msgspec.json.encode({"terms": found.glossary}))
    log.info("terms_extracted", terms=len(found.terms), translated=len(found.glossary))
    return ExtractTermsOutput(
        summary=found.text(),
        topic=found.topic,
        register=found.register,
        terms=found.terms,
        glossary=found.glossary,
        glossary_path=run.rel(path),
    )
