"""Real recorded speech with known timing: Asterisk's English prompts laid end to end with known gaps.

Debian ``asterisk-core-sounds-en-wav`` ships studio recordings (8 kHz) and ``asterisk-core-sounds-en`` their
transcripts. Each prompt is trimmed to its speech (frames within 40 dB of its loudest frame), resampled to
16 kHz and placed after a gap of known length, so every utterance's start and end are known to the sample.
"""

from __future__ import annotations

import gzip
import random
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

SOUNDS = Path("/usr/share/asterisk/sounds/en")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
RATE = 16000
_FRAME = 80  # 10 ms at 8 kHz


@dataclass(frozen=True)
class Utterance:
    """One prompt in the laid-out audio: its text and where its speech starts and ends, in seconds."""

    name: str
    text: str
    start_s: float
    end_s: float


def transcripts() -> dict[str, str]:
    """Return prompt name -> text for the prompts that are speech (not tones, not bracketed notes)."""
    texts = {}
    with gzip.open(TRANSCRIPTS, "rt", encoding="utf-8", errors="replace") as handle:
        lines = handle.read().splitlines()
    for line in lines:
        name, sep, text = line.partition(":")
        text = text.strip()
        if not sep or line.startswith(";") or "/" in name or not text or "[" in text:
            continue
        if (SOUNDS / f"{name.strip()}.wav").is_file():
            texts[name.strip()] = text
    return texts


def _read_8k(path: Path) -> npt.NDArray[np.float32]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return data.astype(np.float32) / 32768.0


def trimmed(path: Path) -> npt.NDArray[np.float32]:
    """Return the prompt at 16 kHz, cut to the frames within 40 dB of its loudest 10 ms frame."""
    samples = _read_8k(path)
    frames = samples[: len(samples) // _FRAME * _FRAME].reshape(-1, _FRAME)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.flatnonzero(level > level.max() - 40)
    cut = samples[loud[0] * _FRAME : (loud[-1] + 1) * _FRAME]
    # 8 -> 16 kHz by linear interpolation (the recordings carry nothing above 4 kHz)
    x = np.arange(len(cut) * 2, dtype=np.float64) / 2
    return np.interp(x, np.arange(len(cut)), cut).astype(np.float32)


def lay_out(
    count: int, seed: int = 7, gap_s: tuple[float, float] = (0.7, 2.0), noise_db: float = -60.0
) -> tuple[npt.NDArray[np.float32], list[Utterance]]:
    """Return ``count`` prompts (chosen and ordered by ``seed``, repeated if needed) laid end to end.

    Gaps are drawn uniformly from ``gap_s``; a faint white noise (``noise_db`` dBFS) stands for room tone.
    """
    texts = transcripts()
    names = sorted(texts)
    rng = random.Random(seed)
    pieces: list[npt.NDArray[np.float32]] = []
    utterances = []
    at = 0
    for i in range(count):
        if i % len(names) == 0:
            rng.shuffle(names)
        name = names[i % len(names)]
        gap = round(rng.uniform(*gap_s) * RATE)
        speech = trimmed(SOUNDS / f"{name}.wav")
        pieces += [np.zeros(gap, dtype=np.float32), speech]
        utterances.append(Utterance(name, texts[name], (at + gap) / RATE, (at + gap + len(speech)) / RATE))
        at += gap + len(speech)
    tail = round(gap_s[1] * RATE)
    pieces.append(np.zeros(tail, dtype=np.float32))
    audio = np.concatenate(pieces)
    noise = np.random.default_rng(seed).normal(0, 10 ** (noise_db / 20), len(audio)).astype(np.float32)
    return audio + noise, utterances


def write_wav(path: Path, audio: npt.NDArray[np.float32]) -> Path:
    """Write mono 16 kHz 16-bit PCM."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
    return path
