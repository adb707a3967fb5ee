"""``tts.*`` tasks: text to speech, and one dubbed track from subtitles."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import msgspec
import structlog

from actors.engine_device import uses_cuda
from actors.errors import EngineFailed, InputError
from actors.ffmpeg.retime import VideoStretch, moved_cues
from actors.spec import task
from actors.subtitles.formats import read_cues, write_cues
from actors.tts.audio import save, trim_silence
from actors.tts.choice import check_request, engine_name
from actors.tts.dub import Fitting, dub
from actors.tts.dub_lines import dub_lines, voice_choice
from actors.tts.engine import Speech, SpeechEngine, VoiceChoice, silence
from actors.tts.engines import make_engine
from actors.tts.requests import (
    SynthesizeInput,
    SynthesizeOutput,
    SynthesizeSubtitlesInput,
    SynthesizeSubtitlesOutput,
)
from actors.tts.shorten import llm_endpoint
from actors.tts.text import sentences
from actors.worker.runtime import TaskRun
from config import Settings

log = structlog.get_logger(__name__)


def uses_gpu(settings: Settings, params: Any) -> bool:
    """Take the GPU lease when Piper runs on cuda, or for GPT-SoVITS when ``tts.gpt_sovits.gpu_lease``."""
    engine = engine_name(settings.tts, getattr(params, "engine", None), getattr(params, "reference_audio", None))
    if engine == "gpt_sovits":
        return settings.tts.gpt_sovits.gpu_lease
    return uses_cuda(settings.tts.device)


def _speak_text(run: TaskRun, engine: SpeechEngine, choice: VoiceChoice, params: SynthesizeInput) -> Speech:
    import numpy as np  # noqa: PLC0415

    parts: list[Any] = []
    rate = 0
    pieces = sentences(params.text)
    for i, sentence in enumerate(pieces):
        run.checkpoint()
        speech = trim_silence(engine.synthesize(sentence, choice, params.speed, params.language))
        if rate and speech.sample_rate != rate:
            raise EngineFailed(f"{engine.name} changed its sample rate mid-text ({rate} -> {speech.sample_rate})")
        rate = speech.sample_rate
        if parts:
            parts.append(silence(run.settings.tts.sentence_pause_s, rate))
        parts.append(speech.samples)
        run.progress((i + 1) / len(pieces))
    samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    if not samples.size:
        raise InputError(f"the text has nothing {engine.name} can speak: {params.text[:80]!r}")
    return Speech(samples=samples.astype(np.float32), sample_rate=rate)


@task(
    "tts.synthesize",
    queue="tts",
    input=SynthesizeInput,
    output=SynthesizeOutput,
    gpu=uses_gpu,
    check=check_request,
)
def synthesize(run: TaskRun, params: SynthesizeInput) -> SynthesizeOutput:
    """Speak a text (split into sentences) with a voice, or clone the voice of a reference clip."""
    engine = make_engine(engine_name(run.settings.tts, params.engine, params.reference_audio), run)
    choice = voice_choice(run, engine, params, params.voice, "$.input_data.voice")
    speech = _speak_text(run, engine, choice, params)
    target = run.output_dir / f"speech.{params.format}"
    save(run, speech, target, params.format)
    log.info("speech_written", engine=engine.name, voice=choice.label, audio_s=round(speech.duration_s, 3))
    return SynthesizeOutput(
        audio_path=run.rel(target),
        duration_s=round(speech.duration_s, 3),
        sample_rate=speech.sample_rate,
        engine=engine.name,
        voice=choice.label,
    )


@task(
    "tts.synthesize_subtitles",
    queue="tts",
    input=SynthesizeSubtitlesInput,
    output=SynthesizeSubtitlesOutput,
    gpu=uses_gpu,
    check=check_request,
)
def synthesize_subtitles(run: TaskRun, params: SynthesizeSubtitlesInput) -> SynthesizeSubtitlesOutput:
    """Dub subtitles into one track: each line planned into its room, sped up or shortened, never over the next."""
    engine = make_engine(engine_name(run.settings.tts, params.engine, params.reference_audio), run)
    lines, mapped = dub_lines(run, engine, params)
    how = Fitting(
        fit=params.fit,
        max_speed=params.max_speed,
        duration_s=params.duration_s,
        language=params.language,
        borrow=params.borrow,
        llm=llm_endpoint(run.settings.llm, params.llm_provider) if params.shorten and params.fit == "stretch" else None,
        max_video_stretch=params.max_video_stretch if params.allow_video_stretch else None,
    )
    with tempfile.TemporaryDirectory(prefix="tts-") as work:
        dubbed = dub(run, engine, lines, how, Path(work))
    track, manifest, stretches = dubbed.track, dubbed.manifest, dubbed.stretches
    added_s = round(sum(s.added_s for s in stretches), 3)
    target = run.output_dir / "dub.wav"
    manifest_path = run.output_dir / "manifest.json"
    document = {
        "sample_rate": track.sample_rate,
        "duration_s": round(track.duration_s, 3),
        "max_speed": params.max_speed,
        "speaking_rates_cps": dubbed.rates,
        "voices": mapped,
        "video_stretches": stretches,
        "video_stretched_s": added_s,
        "cues": manifest,
    }
    subtitles = _retimed_subtitles(run, params, stretches)
    partial = manifest_path.with_name(".manifest.json.partial")
    partial.write_bytes(msgspec.json.encode(document))
    save(run, track, target, "wav")
    partial.replace(manifest_path)
    spoken = [p for p in manifest if p.decision != "silent"]
    too_long = sum(1 for p in manifest if p.decision == "too_long" or p.cut_s > 0)
    fitted = sum(len(p.cues) for p in manifest if p.decision != "too_long" and p.cut_s == 0)
    max_overrun_s = max((p.overrun_s for p in manifest), default=0.0)
    mean_speed = round(sum(p.speed for p in spoken) / len(spoken), 3) if spoken else 1.0
    log.info(
        "dub_written",
        lines=len(manifest),
        fitted=fitted,
        too_long=too_long,
        mean_speed=mean_speed,
        max_overrun_s=max_overrun_s,
        audio_s=round(track.duration_s, 3),
        stretched=len(stretches),
        video_stretched_s=added_s,
    )
    return SynthesizeSubtitlesOutput(
        audio_path=run.rel(target),
        manifest_path=run.rel(manifest_path),
        subtitle_path=subtitles,
        duration_s=round(track.duration_s, 3),
        cues_count=sum(len(p.cues) for p in manifest),
        cues_fitted=fitted,
        max_overrun_s=max_overrun_s,
        lines_count=len(manifest),
        lines_shortened=sum(1 for p in manifest if p.decision == "shortened"),
        lines_too_long=too_long,
        mean_speed=mean_speed,
        voices=mapped,
        lines_stretched=sum(1 for p in manifest if p.decision == "stretched"),
        video_stretched_s=added_s,
    )


def _retimed_subtitles(run: TaskRun, params: SynthesizeSubtitlesInput, stretches: list[VideoStretch]) -> str:
    """Return the subtitles on the stretched film: the input's path, or a copy with every cue moved."""
    if not stretches:
        return params.subtitle_path
    moved = moved_cues(read_cues(run.input_path(params.subtitle_path), params.subtitle_path, strict=True), stretches)
    suffix = Path(params.subtitle_path).suffix.lower()
    target = run.output_dir / f"subtitles{suffix if suffix in ('.srt', '.vtt', '.ass', '.json') else '.srt'}"
    partial = target.with_name(f".partial{target.name}")
    write_cues(partial, moved)
    partial.replace(target)
    return run.rel(target)
