"""A voice per speaker, chosen automatically from the installed voices when a request maps none.

Speakers get distinct voices in the order they first speak: the default voice first, then the other
voices of the engine (of the dub's language, when one is given), each speaker of a multi-speaker voice
counting as a voice of its own. With more speakers than voices, the voices are reused in turn.
"""

from __future__ import annotations

from actors.tts.voices import Voice, default_voice, voice_names
from config.voice import TtsSettings


def candidate_voices(voices: list[Voice], settings: TtsSettings, engine: str, language: str | None) -> list[str]:
    """Return the voice names speakers are given, the default first."""
    names = voice_names(voices, engine)
    if language and engine == "piper":
        allowed = {v.name for v in voices if v.engine == engine and _speaks(v, language)}
        names = [n for n in names if n.partition(":")[0] in allowed]
    multi = {v.name for v in voices if v.engine == engine and v.speakers}
    names = [n for n in names if n not in multi]  # a multi-speaker voice counts by its speakers
    first = default_voice(voices, settings, engine, language)
    if first in names:
        names.remove(first)
        names.insert(0, first)
    return names


def assign_voices(speakers: list[str], candidates: list[str]) -> dict[str, str]:
    """Return a distinct voice for each speaker (in order), reusing voices when there are more speakers."""
    if not candidates:
        return {}
    return {speaker: candidates[i % len(candidates)] for i, speaker in enumerate(speakers)}


def _speaks(voice: Voice, language: str) -> bool:
    have = (voice.language or "").lower().replace("-", "_")
    wanted = language.lower().replace("-", "_")
    return bool(have) and (have == wanted or have.split("_", maxsplit=1)[0] == wanted.split("_", maxsplit=1)[0])
