"""The requests and answers of the ``tts.*`` tasks (msgspec Structs; the gateway validates against them)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from actors.ffmpeg.retime import StretchBound
from actors.tts.text import MAX_TEXT_CHARS
from actors.tts.voice_maps import MapName
from actors.validation import StoragePath

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
