"""The adapter shape every speech engine fills, and what a request's voice resolves to.

An engine turns text into mono float32 samples at its own rate; the tasks do the rest (sentences,
fitting, files). Adding an engine (IndexTTS, F5...) is one class with ``voices`` and ``synthesize``,
and an entry in ``actors.tts.engines``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from actors.tts.voices import Voice

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True)
class Speech:
    """Synthesized audio: mono float32 samples in [-1, 1] and their rate."""

    samples: npt.NDArray[np.float32]
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Return the length in seconds."""
        return self.samples.shape[0] / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True)
class Reference:
    """A clip to clone a voice from: where the worker and the engine's server see it, and its words."""

    local_path: Path
    server_path: str
    prompt_text: str
    prompt_language: str


@dataclass(frozen=True)
class VoiceChoice:
    """The voice a line is spoken with: a catalogue entry, a speaker of it, or a reference clip."""

    voice: Voice
    speaker: str | None = None
    reference: Reference | None = None

    @property
    def label(self) -> str:
        """Return the name outputs show (``NAME:SPEAKER`` for a speaker of a multi-speaker voice)."""
        return f"{self.voice.name}:{self.speaker}" if self.speaker else self.voice.name


class SpeechEngine(Protocol):
    """A text-to-speech engine behind one small interface."""

    name: str

    def voices(self) -> list[Voice]:
        """Return the voices this engine can speak with."""
        ...

    def synthesize(self, text: str, voice: VoiceChoice, speed: float, language: str | None) -> Speech:
        """Speak ``text`` (one sentence or a few) with ``voice`` at ``speed`` (1.0 = natural).

        Raises:
            EngineUnavailable: the engine or its model is not installed or not configured.
            EngineFailed: the engine ran and failed on this text.
            TransientError: a remote engine did not answer; a retry may succeed.
        """
        ...


def silence(seconds: float, sample_rate: int) -> Any:
    """Return ``seconds`` of silence as float32 samples."""
    import numpy as np  # noqa: PLC0415

    return np.zeros(max(0, round(seconds * sample_rate)), dtype=np.float32)
