"""``faster_whisper.*`` tasks: speech to text with word timestamps."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import msgspec
import structlog

from actors.engine_device import uses_cuda
from actors.errors import EngineUnavailable
from actors.faster_whisper.chunked import ChunkStore, plan_key, transcribe_chunked
from actors.faster_whisper.engine import Options
from actors.faster_whisper.languages import WHISPER_LANGUAGES
from actors.faster_whisper.models import load_model, model_key, resolve_model
from actors.faster_whisper.submit import check_request
from actors.ffmpeg.media import probe_audio
from actors.spec import task
from actors.validation import StoragePath
from actors.worker.runtime import TaskRun
from config import Settings

log = structlog.get_logger(__name__)

_PROGRESS_STEP = 0.01
_DEFAULT_BATCH = {True: 16, False: 1}  # by "runs on cuda"; without the VAD there are no windows: 0 (sequential)

# Whisper's codes are two letters, plus "haw" and "yue"; the model checks the exact list at run time
LanguageCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}\Z", description="Whisper language code, e.g. 'en'")]


class TranscribeInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Input of ``faster_whisper.transcribe_audio``."""

    audio_path: Annotated[str, StoragePath]
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None
    language: LanguageCode | None = None
    # without `language`: the languages the audio may be in, detection picks the likeliest of them (one: that
    # language); unset: the operator's faster_whisper.languages, else any language the model knows
    languages: Annotated[list[LanguageCode], msgspec.Meta(min_length=1, max_length=20)] | None = None
    task: Literal["transcribe", "translate"] = "transcribe"
    word_timestamps: bool = True
    vad_filter: bool = True
    beam_size: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    initial_prompt: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    # > 0: BatchedInferencePipeline, each VAD window (<= 30 s of speech) decoded on its own, this many at once;
    # 0: whisper's sequential loop (needed for vad_filter false). Unset: 16 on cuda, 1 (window by window) on cpu,
    # 0 with vad_filter false
    batch_size: Annotated[int, msgspec.Meta(ge=0, le=64)] | None = None
    # the audio is decoded and transcribed in chunks of about this length, cut at silences; each finished chunk is
    # kept in the stage folder, so that a stage re-run after a lost worker resumes after the last one
    chunk_s: Annotated[float, msgspec.Meta(ge=30, le=3600)] = 600.0
    # move word times onto the speech found in the audio (Silero VAD and signal energy)
    refine_timestamps: bool = True


class TranscribeOutput(msgspec.Struct, kw_only=True):
    """Output of ``faster_whisper.transcribe_audio``; ``model_cache`` says whether this task loaded the model."""

    segments_file: str
    language: str
    language_probability: float
    # the language was detected (no `language` in the request), with a probability under
    # faster_whisper.low_language_probability: the transcript may be in the wrong language
    language_detected: bool
    language_uncertain: bool
    audio_duration_s: float
    segments_count: int
    model: str
    model_cache: Literal["loaded", "reused"]
    transcribe_s: float
    batch_size: int = 0
    chunks: int = 1
    chunks_resumed: int = 0


def default_batch_size(params: TranscribeInput, device: str) -> int:
    """Return the request's ``batch_size``, else 16 on cuda and 1 on cpu (0 when the request turns the VAD off)."""
    if params.batch_size is not None:
        return params.batch_size
    return _DEFAULT_BATCH[device == "cuda"] if params.vad_filter else 0


def expected_languages(params: TranscribeInput, deployment: list[str]) -> tuple[str | None, tuple[str, ...]]:
    """Return the language to decode in (given, or the only one expected) and the languages detection may pick.

    The request's ``language`` wins, then its ``languages``, then the operator's ``faster_whisper.languages``.
    """
    if params.language is not None:
        return params.language, ()
    if params.languages is None:
        unknown = [code for code in deployment if code not in WHISPER_LANGUAGES]
        if unknown:
            raise EngineUnavailable(f"faster_whisper.languages lists {unknown}, which are not Whisper language codes")
    expected = tuple(dict.fromkeys(params.languages if params.languages is not None else deployment))
    if len(expected) == 1:
        return expected[0], ()
    return None, expected


def uses_gpu(settings: Settings, _params: Any) -> bool:
    """Take the GPU lease when faster-whisper runs on cuda."""
    return uses_cuda(settings.faster_whisper.device)


@task(
    "faster_whisper.transcribe_audio",
    queue="faster_whisper",
    input=TranscribeInput,
    output=TranscribeOutput,
    gpu=uses_gpu,
    check=check_request,
)
def transcribe_audio(run: TaskRun, params: TranscribeInput) -> TranscribeOutput:
    """Transcribe (or translate to English) an audio file into segments with word timestamps."""
    source = run.input_path(params.audio_path)
    settings = run.settings.faster_whisper
    language, languages = expected_languages(params, settings.languages)
    model_source, shown_as = resolve_model(params.model, settings, run.root, language)
    duration_s = float(probe_audio(source, params.audio_path)["duration_s"] or 0.0)
    run.checkpoint()
    key = model_key(model_source, settings, run.gpu_device)
    model, loaded = load_model(key, settings)
    run.checkpoint()
    batch_size = default_batch_size(params, key.device)
    options = Options(
        language=language,
        languages=languages,
        detection_segments=settings.language_detection_segments,
        task=params.task,
        word_timestamps=params.word_timestamps,
        vad_filter=params.vad_filter,
        beam_size=params.beam_size,
        initial_prompt=params.initial_prompt,
        batch_size=batch_size,
        refine_timestamps=params.refine_timestamps,
    )
    written = [0.0]

    def on_progress(done_s: float) -> None:
        # segments arrive in bursts, one burst per 30 s window: write each step of 1 % or more at once,
        # so that a burst's last segment is not lost to the runtime's write throttle
        fraction = min(1.0, done_s / duration_s) if duration_s else 1.0
        if fraction - written[0] >= _PROGRESS_STEP:
            written[0] = fraction
            run.progress(fraction, force=True)
        run.checkpoint()

    store = ChunkStore(run.output_dir / "chunks", plan_key(source, shown_as, options, params.chunk_s))
    started = time.perf_counter()
    transcript, resumed = transcribe_chunked(
        model, source, params.audio_path, shown_as, options, store, params.chunk_s, on_progress
    )
    elapsed_s = time.perf_counter() - started
    target = run.output_dir / "segments.json"
    partial = target.with_name(".segments.json.partial")
    partial.write_bytes(msgspec.json.encode(transcript))
    partial.replace(target)
    chunks = len(store.finished())
    log.info(
        "transcribed",
        model=shown_as,
        audio_s=round(transcript.duration_s, 3),
        transcribe_s=round(elapsed_s, 3),
        segments=len(transcript.segments),
        language=transcript.language,
        batch_size=batch_size,
        chunks=chunks,
        chunks_resumed=resumed,
    )
    return TranscribeOutput(
        segments_file=run.rel(target),
        language=transcript.language,
        language_probability=transcript.language_probability,
        language_detected=language is None,
        language_uncertain=language is None and transcript.language_probability < settings.low_language_probability,
        audio_duration_s=transcript.duration_s,
        segments_count=len(transcript.segments),
        model=shown_as,
        model_cache="loaded" if loaded else "reused",
        transcribe_s=round(elapsed_s, 3),
        batch_size=batch_size,
        chunks=chunks,
        chunks_resumed=resumed,
    )
