"""``llm.*`` tasks: proofread and translate subtitles through any OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated

import msgspec
import structlog

from actors.llm.checks import enforce, suspect_cues, unchanged, unrelated
from actors.llm.client import resolve_endpoint
from actors.llm.lines import BREAK, FORMAT_RULES, LineJob, rewrite_lines
from actors.spec import task
from actors.subtitles.formats import Cue, read_cues, write_cues
from actors.subtitles.layout import wrap_balanced
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)

Language = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="A language name or code")]
ModelName = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
ProviderName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="A key of llm.providers")]
Ratio = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]

# SRT has no speaker field: generate_files writes speakers as a ``SPEAKER_00: `` prefix.
_SPEAKER_PREFIX = re.compile(r"^((?:SPEAKER|Speaker)[ _]?\d+):\s+")
_BREAK_SPLIT = re.compile(rf"\s*{re.escape(BREAK)}\s*", re.IGNORECASE)


class ProofreadInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``llm.proofread_subtitles``."""

    subtitle_path: Annotated[str, StoragePath]
    language: Language | None = None
    model: ModelName | None = None
    provider: ProviderName | None = None
    instructions: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    # share of cues whose answer may not resemble them (kept as they were) before the stage fails
    max_unrelated_ratio: Ratio | None = None


class ProofreadOutput(msgspec.Struct, kw_only=True):
    """Output of ``llm.proofread_subtitles``; ``unrelated_cues`` kept their text (1-based numbers)."""

    subtitle_path: str
    changed_cues: int
    unrelated_cues: list[int]


class TranslateInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``llm.translate_subtitles``."""

    subtitle_path: Annotated[str, StoragePath]
    target_language: Language
    source_language: Language | None = None
    model: ModelName | None = None
    provider: ProviderName | None = None
    max_chars_per_line: Annotated[int, msgspec.Meta(ge=10, le=200)] = 42
    # share of cues that may come back untranslated before the stage fails (default llm.max_unchanged_ratio)
    max_unchanged_ratio: Ratio | None = None


class TranslateOutput(msgspec.Struct, kw_only=True):
    """Output of ``llm.translate_subtitles``; ``unchanged_cues`` came back as their source (1-based numbers)."""

    subtitle_path: str
    unchanged_cues: list[int]


def _split_speaker(cue: Cue) -> Cue:
    if cue.speaker is None:
        match = _SPEAKER_PREFIX.match(cue.text)
        if match:
            return Cue(start_s=cue.start_s, end_s=cue.end_s, text=cue.text[match.end() :], speaker=match.group(1))
    return cue


def _as_line(text: str) -> str:
    return f" {BREAK} ".join(part.strip() for part in text.splitlines() if part.strip())


def _pieces(line: str) -> list[str]:
    return [p for p in _BREAK_SPLIT.split(line) if p]


def _rewrite(run: TaskRun, params: ProofreadInput | TranslateInput, job: LineJob) -> tuple[list[Cue], list[str]]:
    """Read the input's cues and return them with the model's new line for each (``job`` gets their texts)."""
    cues = [_split_speaker(c) for c in read_cues(run.input_path(params.subtitle_path), params.subtitle_path)]
    endpoint = resolve_endpoint(run.settings.llm, params.provider, params.model)
    run.checkpoint()

    def chunk_done(done: int, total: int) -> None:
        run.progress(done / total, force=done == total)
        run.checkpoint()

    job.texts, job.on_chunk_done = [_as_line(c.text) for c in cues], chunk_done
    lines = asyncio.run(rewrite_lines(endpoint, run.settings.llm, job))
    log.info("llm_lines_rewritten", cues=len(cues), provider=endpoint.provider, model=endpoint.model)
    return cues, lines


def _target(run: TaskRun, source: str, tag: str) -> Path:
    path = Path(source)
    suffix = path.suffix.lower() if path.suffix.lower() in (".srt", ".vtt", ".json") else ".srt"
    safe_tag = re.sub(r"[^A-Za-z0-9_-]+", "_", tag).strip("_") or "out"
    return run.output_dir / f"{path.stem}.{safe_tag}{suffix}"


@task("llm.proofread_subtitles", queue="llm", input=ProofreadInput, output=ProofreadOutput)
def proofread_subtitles(run: TaskRun, params: ProofreadInput) -> ProofreadOutput:
    """Fix speech-recognition errors in subtitles; cue count and times stay as they are."""
    language = f" in {params.language}" if params.language else ""
    system = (
        f"You proofread subtitles made by automatic speech recognition{language}. Fix misheard words, spelling, "
        "punctuation and casing; otherwise keep the wording, language and meaning; never translate or "
        f"summarise. {FORMAT_RULES}"
    )
    if params.instructions:
        system += f"\n\nAdditional instructions: {params.instructions}"
    note = "do not resemble their cue; proofread each line, keeping its wording and language"
    job = LineJob(system=system, verb="proofread", suspect=unrelated, suspect_note=note)
    cues, lines = _rewrite(run, params, job)
    off = suspect_cues(job.texts, lines, "unrelated")
    ratio = run.settings.llm.max_unrelated_ratio if params.max_unrelated_ratio is None else params.max_unrelated_ratio
    enforce(off, len(cues), ratio, "unrelated to their cue", "llm.max_unrelated_ratio")
    kept = set(off)
    fixed = [
        c
        if i in kept or not _pieces(line)
        else Cue(start_s=c.start_s, end_s=c.end_s, text="\n".join(_pieces(line)), speaker=c.speaker)
        for i, (c, line) in enumerate(zip(cues, lines, strict=True), start=1)
    ]
    changed = sum(" ".join(a.text.split()) != " ".join(b.text.split()) for a, b in zip(cues, fixed, strict=True))
    target = _target(run, params.subtitle_path, "proofread")
    write_cues(target, fixed)
    return ProofreadOutput(subtitle_path=run.rel(target), changed_cues=changed, unrelated_cues=off)


@task("llm.translate_subtitles", queue="llm", input=TranslateInput, output=TranslateOutput)
def translate_subtitles(run: TaskRun, params: TranslateInput) -> TranslateOutput:
    """Translate subtitles into another language; cue count and times stay as they are."""
    source = f" from {params.source_language}" if params.source_language else ""
    system = f"You translate subtitles{source} into {params.target_language}. {FORMAT_RULES}"
    note = f"are not translated; translate every line into {params.target_language}"
    job = LineJob(system=system, verb="translate", suspect=unchanged, suspect_note=note)
    cues, lines = _rewrite(run, params, job)
    lines = [line if _pieces(line) else text for line, text in zip(lines, job.texts, strict=True)]  # never a blank cue
    same = suspect_cues(job.texts, lines, "unchanged")
    ratio = run.settings.llm.max_unchanged_ratio if params.max_unchanged_ratio is None else params.max_unchanged_ratio
    enforce(same, len(cues), ratio, f"unchanged (not in {params.target_language})", "llm.max_unchanged_ratio")
    width = params.max_chars_per_line
    translated = [
        Cue(
            start_s=c.start_s,
            end_s=c.end_s,
            speaker=c.speaker,
            text="\n".join(wrap_balanced(" ".join(_pieces(line)), width, len(c.speaker) + 2 if c.speaker else 0)),
        )
        for c, line in zip(cues, lines, strict=True)
    ]
    target = _target(run, params.subtitle_path, params.target_language)
    write_cues(target, translated)
    return TranslateOutput(subtitle_path=run.rel(target), unchanged_cues=same)
