"""``tts.*`` tasks: text to speech, and one dubbed track from subtitles."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import structlog

from actors.errors import EngineFailed, InputError, InputFileError
from actors.spec import task
from actors.subtitles.formats import read_cues
from actors.tts.audio import save, trim_silence
from actors.tts.choice import check_request, engine_name
from actors.tts.dub import Fitting, Line, dub
from actors.tts.engine import Speech, SpeechEngine, VoiceChoice, silence
from actors.tts.engines import choose, cloned, make_engine
from actors.tts.piper_engine import effective_device
from actors.tts.text import MAX_LINE_CHARS, MAX_TEXT_CHARS, sentences, spoken_line
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun
from config import Settings

log = structlog.get_logger(__name__)

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT_CHARS, pattern=r"\S", description="Text to speak")]
VoiceName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="GET /v1/tts/voices lists them")]
SpeakerLabel = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Language = Annotated[
    str, msgspec.Meta(pattern=r"^([a-z]{2,3}([_-][A-Za-z]{2,4})?|auto)$", description="e.g. en, en_US")
]
PromptText = Annotated[str, msgspec.Meta(max_length=2000, description="What the reference clip says")]
Engine = Literal["piper", "gpt_sovits"]


class SynthesizeInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``tts.synthesize``; ``reference_audio`` (with its words) is for engines that clone a voice."""

    text: Text
    voice: VoiceName | None = None
    engine: Engine | None = None
    language: Language | None = None
    speed: Annotated[float, msgspec.Meta(ge=0.25, le=4.0)] = 1.0
    reference_audio: Annotated[str, StoragePath] | None = None
    prompt_text: PromptText | None = None
    prompt_language: Language | None = None
    format: Literal["wav", "flac", "mp3"] = "wav"


class SynthesizeOutput(msgspec.Struct, kw_only=True):
    """Output of ``tts.synthesize``."""

    audio_path: str
    duration_s: float
    sample_rate: int
    engine: str
    voice: str


class SynthesizeSubtitlesInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``tts.synthesize_subtitles``: SRT, WebVTT, ASS or segments JSON; ``voices`` maps speakers."""

    subtitle_path: Annotated[str, StoragePath]
    voice: VoiceName | None = None
    voices: Annotated[dict[SpeakerLabel, VoiceName], msgspec.Meta(max_length=64)] | None = None
    engine: Engine | None = None
    language: Language | None = None
    fit: Literal["stretch", "none"] = "stretch"
    max_speed: Annotated[float, msgspec.Meta(ge=1.0, le=4.0)] = 1.5
    duration_s: Annotated[float, msgspec.Meta(gt=0, le=86400)] | None = None
    reference_audio: Annotated[str, StoragePath] | None = None
    prompt_text: PromptText | None = None
    prompt_language: Language | None = None


class SynthesizeSubtitlesOutput(msgspec.Struct, kw_only=True):
    """Output of ``tts.synthesize_subtitles``; the manifest has each cue's fitting."""

    audio_path: str
    manifest_path: str
    cues_count: int
    cues_fitted: int
    max_overrun_s: float


def uses_gpu(settings: Settings, params: Any) -> bool:
    """Take the GPU lease when Piper runs on cuda, or for GPT-SoVITS when ``tts.gpt_sovits.gpu_lease``."""
    engine = engine_name(settings.tts, getattr(params, "engine", None), getattr(params, "reference_audio", None))
    if engine == "gpt_sovits":
        return settings.tts.gpt_sovits.gpu_lease
    return effective_device(settings.tts) == "cuda"


def _choice(run: TaskRun, engine: SpeechEngine, params: Any, voice: str | None, pointer: str) -> VoiceChoice:
    if params.reference_audio is not None and voice is None:
        return cloned(run, params.reference_audio, params.prompt_text, params.prompt_language or params.language)
    return choose(run, engine, voice, params.language, pointer)


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
    choice = _choice(run, engine, params, params.voice, "$.input_data.voice")
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


def _lines(run: TaskRun, engine: SpeechEngine, params: SynthesizeSubtitlesInput) -> list[Line]:
    cues = sorted(
        read_cues(run.input_path(params.subtitle_path), params.subtitle_path, strict=True), key=lambda c: c.start_s
    )
    if not cues:
        raise InputFileError(f"{params.subtitle_path!r} has no cues to speak")
    mapped = params.voices or {}
    choices: dict[str | None, VoiceChoice] = {}
    lines = []
    for cue in cues:
        text, speaker = spoken_line(cue.text, cue.speaker, set(mapped))
        if len(text) > MAX_LINE_CHARS:
            raise InputError(
                f"{params.subtitle_path!r}: the cue at {cue.start_s:.3f} s is longer than {MAX_LINE_CHARS} characters"
            )
        key = speaker if speaker in mapped else None
        if key not in choices:
            voice = mapped[key] if key is not None else params.voice
            pointer = f"$.input_data.voices.{key}" if key is not None else "$.input_data.voice"
            choices[key] = _choice(run, engine, params, voice, pointer)
        lines.append(Line(start_s=cue.start_s, end_s=cue.end_s, text=text, speaker=speaker, choice=choices[key]))
    return lines


@task(
    "tts.synthesize_subtitles",
    queue="tts",
    input=SynthesizeSubtitlesInput,
    output=SynthesizeSubtitlesOutput,
    gpu=uses_gpu,
    check=check_request,
)
def synthesize_subtitles(run: TaskRun, params: SynthesizeSubtitlesInput) -> SynthesizeSubtitlesOutput:
    """Dub subtitles into one track: each line at its cue, sped up to fit, never over the next line."""
    engine = make_engine(engine_name(run.settings.tts, params.engine, params.reference_audio), run)
    lines = _lines(run, engine, params)
    how = Fitting(fit=params.fit, max_speed=params.max_speed, duration_s=params.duration_s, language=params.language)
    with tempfile.TemporaryDirectory(prefix="tts-") as work:
        track, manifest = dub(run, engine, lines, how, Path(work))
    target = run.output_dir / "dub.wav"
    manifest_path = run.output_dir / "manifest.json"
    document = {"sample_rate": track.sample_rate, "duration_s": round(track.duration_s, 3), "cues": manifest}
    partial = manifest_path.with_name(".manifest.json.partial")
    partial.write_bytes(msgspec.json.encode(document))
    save(run, track, target, "wav")
    partial.replace(manifest_path)
    fitted = sum(1 for p in manifest if p.overrun_s == 0 and p.cut_s == 0)
    max_overrun_s = max((p.overrun_s for p in manifest), default=0.0)
    log.info(
        "dub_written",
        cues=len(manifest),
        fitted=fitted,
        max_overrun_s=max_overrun_s,
        audio_s=round(track.duration_s, 3),
    )
    return SynthesizeSubtitlesOutput(
        audio_path=run.rel(target),
        manifest_path=run.rel(manifest_path),
        cues_count=len(manifest),
        cues_fitted=fitted,
        max_overrun_s=max_overrun_s,
    )
