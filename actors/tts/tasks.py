"""``tts.*`` tasks: text to speech, and one dubbed track from subtitles."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import structlog

from actors.errors import EngineFailed, InputError, InputFileError
from actors.ffmpeg.retime import StretchBound, VideoStretch, to_output
from actors.spec import task
from actors.subtitles.formats import Cue as SubtitleCue
from actors.subtitles.formats import read_cues, write_cues
from actors.tts.audio import save, trim_silence
from actors.tts.choice import check_request, engine_name
from actors.tts.dub import Fitting, Line, dub
from actors.tts.engine import Speech, SpeechEngine, VoiceChoice, silence
from actors.tts.engines import choose, cloned, make_engine
from actors.tts.piper_engine import effective_device
from actors.tts.plan import Cue, merge_short
from actors.tts.shorten import llm_endpoint
from actors.tts.speaker_clips import cut_clips
from actors.tts.speakers import assign_voices, candidate_voices
from actors.tts.text import MAX_LINE_CHARS, MAX_TEXT_CHARS, sentences, spoken_line
from actors.tts.voice_maps import MapName, VoiceMap, read_map, write_map
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
    # a stored speaker -> voice map (GET /v1/tts/voice-maps); speakers it lacks are added to it
    voice_map: MapName | None = None
    engine: Engine | None = None
    language: Language | None = None
    fit: Literal["stretch", "none"] = "stretch"
    max_speed: Annotated[float, msgspec.Meta(ge=1.0, le=4.0)] = 1.25
    duration_s: Annotated[float, msgspec.Meta(gt=0, le=86400)] | None = None
    # planning: borrow the silence around cues, merge very short lines of one speaker, shorten with the LLM
    borrow: bool = True
    merge: bool = True
    shorten: bool = True
    llm_provider: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    # the last resort: slow the picture down over a line that fits nowhere else (ffmpeg.mux_audio does it,
    # given this stage's manifest_path), at most max_video_stretch times slower
    allow_video_stretch: bool = False
    max_video_stretch: StretchBound = 1.25
    reference_audio: Annotated[str, StoragePath] | None = None
    prompt_text: PromptText | None = None
    prompt_language: Language | None = None
    # cloning engines: each speaker's voice cloned from a clip of their own clean lines (8-15 s) cut from this
    # audio (the original soundtrack, or better the vocals of audio.separate_vocals); the clips' words come
    # from speaker_subtitle_path (the source-language cues with speakers), by default subtitle_path
    speaker_audio_path: Annotated[str, StoragePath] | None = None
    speaker_subtitle_path: Annotated[str, StoragePath] | None = None


class SynthesizeSubtitlesOutput(msgspec.Struct, kw_only=True):
    """Output of ``tts.synthesize_subtitles``; the manifest has each cue's fitting.

    ``subtitle_path``: the subtitles on the dub's time (the input's own file when no picture was slowed, else
    a copy with every cue moved onto the stretched film); ``duration_s``: the track's length (with
    ``duration_s`` given, the stretched film's); ``video_stretched_s``: the time the slowed spans add.
    """

    audio_path: str
    manifest_path: str
    subtitle_path: str
    duration_s: float
    cues_count: int
    cues_fitted: int
    max_overrun_s: float
    lines_count: int
    lines_shortened: int
    lines_too_long: int
    mean_speed: float
    voices: dict[str, str]
    lines_stretched: int = 0
    video_stretched_s: float = 0.0


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


def _cues(run: TaskRun, params: SynthesizeSubtitlesInput) -> list[Cue]:
    read = sorted(
        read_cues(run.input_path(params.subtitle_path), params.subtitle_path, strict=True), key=lambda c: c.start_s
    )
    if not read:
        raise InputFileError(f"{params.subtitle_path!r} has no cues to speak")
    labels = set(params.voices or {})
    cues = []
    for i, cue in enumerate(read):
        text, speaker = spoken_line(cue.text, cue.speaker, labels)
        if len(text) > MAX_LINE_CHARS:
            raise InputError(
                f"{params.subtitle_path!r}: the cue at {cue.start_s:.3f} s is longer than {MAX_LINE_CHARS} characters"
            )
        cues.append(Cue(start_s=cue.start_s, end_s=cue.end_s, text=text, speaker=speaker, indices=(i,)))
    return merge_short(cues) if params.merge else cues


def _stored_map(
    run: TaskRun, engine: SpeechEngine, name: str, params: SynthesizeSubtitlesInput, speakers: list[str]
) -> dict[str, str]:
    """Return the named map (with the request's ``voices`` over it); speakers it lacks get voices, written back."""
    try:
        stored = read_map(run.root, name) or VoiceMap(engine=engine.name)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError(
            f"the voice map {name!r} cannot be read ({exc}); PUT /v1/tts/voice-maps/{name} again"
        ) from None
    if stored.engine not in (None, engine.name):
        raise InputError(f"the voice map {name!r} is for engine {stored.engine}, this dub uses {engine.name}")
    mapped = {**stored.voices, **(params.voices or {})}
    missing = [s for s in speakers if s not in mapped]
    if missing:
        candidates = candidate_voices(engine.voices(), run.settings.tts, engine.name, params.language)
        unused = [c for c in candidates if c not in mapped.values()]
        added = assign_voices(missing, unused + [c for c in candidates if c not in unused])
        mapped.update(added)
        write_map(run.root, name, VoiceMap(engine=engine.name, voices={**stored.voices, **added}))
        log.info("voice_map_extended", voice_map=name, added=added)
    return mapped


def _voice_map(run: TaskRun, engine: SpeechEngine, params: SynthesizeSubtitlesInput, cues: list[Cue]) -> dict[str, str]:
    """Return the speaker -> voice map: the request's, a stored one, or one filled from the installed voices."""
    speakers = list(dict.fromkeys(c.speaker for c in cues if c.speaker is not None))
    if params.voice_map is not None:
        return _stored_map(run, engine, params.voice_map, params, speakers)
    if params.voices is not None or params.voice is not None or params.reference_audio is not None:
        return dict(params.voices or {})
    if len(speakers) < 2:
        return {}
    mapped = assign_voices(speakers, candidate_voices(engine.voices(), run.settings.tts, engine.name, params.language))
    log.info("dub_voices_assigned", voices=mapped)
    return mapped


def _cloned_speakers(
    run: TaskRun, engine: SpeechEngine, params: SynthesizeSubtitlesInput, cues: list[Cue]
) -> dict[str | None, VoiceChoice]:
    """Return a cloned voice per speaker, from clips of their own lines (cloning engines, speaker_audio_path)."""
    if params.speaker_audio_path is None:
        return {}
    if engine.name != "gpt_sovits":
        raise InputError(f"speaker_audio_path clones each speaker's voice: engine {engine.name} cannot; use gpt_sovits")
    if params.voices is not None or params.voice is not None or params.reference_audio is not None:
        return {}
    source = params.speaker_subtitle_path or params.subtitle_path
    said = read_cues(run.input_path(source), source, strict=True)
    speakers = list(dict.fromkeys(c.speaker for c in cues if c.speaker is not None))
    clips = cut_clips(
        run.input_path(params.speaker_audio_path),
        params.speaker_audio_path,
        said,
        speakers,
        run.output_dir / "speakers",
    )
    language = params.prompt_language or params.language
    choices: dict[str | None, VoiceChoice] = {}
    for speaker, clip in clips.items():
        base = cloned(run, run.rel(clip.path), clip.prompt_text, language)
        choices[speaker] = VoiceChoice(
            voice=msgspec.structs.replace(base.voice, name=f"clone:{speaker}"), reference=base.reference
        )
        log.info("speaker_clip_cut", speaker=speaker, duration_s=clip.duration_s, chars=len(clip.prompt_text))
    return choices


def _lines(run: TaskRun, engine: SpeechEngine, params: SynthesizeSubtitlesInput) -> tuple[list[Line], dict[str, str]]:
    cues = _cues(run, params)
    clones = _cloned_speakers(run, engine, params, cues)
    if clones:
        if any(c.speaker not in clones for c in cues):
            clones[None] = _choice(run, engine, params, params.voice, "$.input_data.voice")
        lines = [Line(cue=c, choice=clones[c.speaker if c.speaker in clones else None]) for c in cues]
        return lines, {k: v.label for k, v in clones.items() if k is not None}
    mapped = _voice_map(run, engine, params, cues)
    choices: dict[str | None, VoiceChoice] = {}
    lines = []
    for cue in cues:
        key = cue.speaker if cue.speaker in mapped else None
        if key not in choices:
            voice = mapped[key] if key is not None else params.voice
            pointer = f"$.input_data.voices.{key}" if key is not None else "$.input_data.voice"
            choices[key] = _choice(run, engine, params, voice, pointer)
        lines.append(Line(cue=cue, choice=choices[key]))
    return lines, mapped


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
    lines, mapped = _lines(run, engine, params)
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
    cues = read_cues(run.input_path(params.subtitle_path), params.subtitle_path, strict=True)
    moved = [
        SubtitleCue(
            start_s=round(to_output(c.start_s, stretches), 3),
            end_s=round(to_output(c.end_s, stretches), 3),
            text=c.text,
            speaker=c.speaker,
        )
        for c in cues
    ]
    suffix = Path(params.subtitle_path).suffix.lower()
    target = run.output_dir / f"subtitles{suffix if suffix in ('.srt', '.vtt', '.ass', '.json') else '.srt'}"
    partial = target.with_name(f".partial{target.name}")
    write_cues(partial, moved)
    partial.replace(target)
    return run.rel(target)
