"""The engines by name, and the voice choices of a running stage (reference clips resolved to files)."""

from __future__ import annotations

from actors.tts.choice import pick_voice
from actors.tts.engine import Reference, SpeechEngine, VoiceChoice
from actors.tts.gpt_sovits import GptSovitsEngine, server_path
from actors.tts.piper_engine import PiperEngine
from actors.tts.voices import Voice
from actors.worker.runtime import TaskRun


def make_engine(name: str, run: TaskRun) -> SpeechEngine:
    """Return the engine ``name`` for this run (on the leased GPU, if any)."""
    if name == "gpt_sovits":
        return GptSovitsEngine(run.settings.tts)
    return PiperEngine(run.settings.tts, run.gpu_device)


def reference(run: TaskRun, path: str, prompt_text: str | None, prompt_language: str | None) -> Reference:
    """Return a reference clip from the storage root and the words said in it.

    Raises:
        InputFileError: the clip is not in the storage root.
    """
    local = run.input_path(path)
    return Reference(
        local_path=local,
        server_path=server_path(run.settings.tts, run.root, local),
        prompt_text=prompt_text or "",
        prompt_language=prompt_language or "auto",
    )


def choose(
    run: TaskRun, engine: SpeechEngine, requested: str | None, language: str | None, pointer: str
) -> VoiceChoice:
    """Return the voice for a requested name (or the default); a GPT-SoVITS voice brings its clip.

    Raises:
        InvalidInput: the engine has no such voice.
        EngineUnavailable: no voice is named and there is no default.
    """
    voice, speaker = pick_voice(
        engine.voices(), run.settings.tts, engine.name, requested, language=language, pointer=pointer
    )
    if engine.name != "gpt_sovits":
        return VoiceChoice(voice=voice, speaker=speaker)
    cloned = run.settings.tts.gpt_sovits.voices[voice.name]
    clip = reference(run, cloned.reference_audio, cloned.prompt_text, cloned.prompt_language)
    return VoiceChoice(voice=voice, reference=clip)


def cloned(run: TaskRun, path: str, prompt_text: str | None, prompt_language: str | None) -> VoiceChoice:
    """Return the choice of a request that brings its own reference clip."""
    voice = Voice(name="reference", engine="gpt_sovits", language=prompt_language, source=path)
    return VoiceChoice(voice=voice, reference=reference(run, path, prompt_text, prompt_language))
