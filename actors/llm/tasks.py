"""``llm.proofread_subtitles``: fix speech-recognition errors through any OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec
import structlog

from actors.llm.checks import enforce, suspect_cues, unrelated
from actors.llm.client import resolve_endpoint
from actors.llm.cues import as_line, pieces, split_speaker, target_path
from actors.llm.lines import FORMAT_RULES, LineJob, rewrite_lines
from actors.spec import task
from actors.subtitles.formats import Cue, read_cues, write_cues
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)

Language = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="A language name or code")]
ModelName = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
ProviderName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="A key of llm.providers")]
Ratio = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


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


def _rewrite(run: TaskRun, params: ProofreadInput, job: LineJob) -> tuple[list[Cue], list[str]]:
    """Read the input's cues and return them with the model's new line for each (``job`` gets their texts)."""
    cues = [split_speaker(c) for c in read_cues(run.input_path(params.subtitle_path), params.subtitle_path)]
    endpoint = resolve_endpoint(run.settings.llm, params.provider, params.model)
    run.checkpoint()

    def chunk_done(done: int, total: int) -> None:
        run.progress(done / total, force=done == total)
        run.checkpoint()

    job.texts, job.on_chunk_done = [as_line(c.text) for c in cues], chunk_done
    lines = asyncio.run(rewrite_lines(endpoint, run.settings.llm, job))
    log.info("llm_lines_rewritten", cues=len(cues), provider=endpoint.provider, model=endpoint.model)
    return cues, [line or "" for line in lines]  # not a partial job: every line is there


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
        if i in kept or not pieces(line)
        else Cue(start_s=c.start_s, end_s=c.end_s, text="\n".join(pieces(line)), speaker=c.speaker)
        for i, (c, line) in enumerate(zip(cues, lines, strict=True), start=1)
    ]
    changed = sum(" ".join(a.text.split()) != " ".join(b.text.split()) for a, b in zip(cues, fixed, strict=True))
    target = target_path(run, params.subtitle_path, "proofread")
    write_cues(target, fixed)
    return ProofreadOutput(subtitle_path=run.rel(target), changed_cues=changed, unrelated_cues=off)
