"""The lines of a dub: its cues (merged when short), and each speaker's voice (a map, a stored map or clones)."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog

from actors.errors import InputError, InputFileError
from actors.subtitles.formats import read_cues
from actors.tts.dub import Line
from actors.tts.engine import SpeechEngine, VoiceChoice
from actors.tts.engines import choose, cloned
from actors.tts.plan import Cue, merge_short
from actors.tts.requests import SynthesizeSubtitlesInput
from actors.tts.speaker_clips import cut_clips
from actors.tts.speakers import assign_voices, candidate_voices
from actors.tts.text import MAX_LINE_CHARS, spoken_line
from actors.tts.voice_maps import VoiceMap, read_map, write_map
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)


def voice_choice(run: TaskRun, engine: SpeechEngine, params: Any, voice: str | None, pointer: str) -> VoiceChoice:
    """Return the voice a request names, or the clone of its reference clip when it names none."""
    if params.reference_audio is not None and voice is None:
        return cloned(run, params.reference_audio, params.prompt_text, params.prompt_language or params.language)
    return choose(run, engine, voice, params.language, pointer)


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


def dub_lines(
    run: TaskRun, engine: SpeechEngine, params: SynthesizeSubtitlesInput
) -> tuple[list[Line], dict[str, str]]:
    """Return the lines to speak, each with its voice, and the speaker -> voice map used."""
    cues = _cues(run, params)
    clones = _cloned_speakers(run, engine, params, cues)
    if clones:
        if any(c.speaker not in clones for c in cues):
            clones[None] = voice_choice(run, engine, params, params.voice, "$.input_data.voice")
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
            choices[key] = voice_choice(run, engine, params, voice, pointer)
        lines.append(Line(cue=cue, choice=choices[key]))
    return lines, mapped
