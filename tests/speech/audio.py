"""Speech fixtures: the committed espeak-ng clips (see clips/make_fixtures.sh) and longer clips built from them."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from actors.ffmpeg.pcm import SAMPLE_RATE, decode_mono

DATA = Path(__file__).resolve().parent / "clips"
MEETING = DATA / "meeting.ogg"  # "Good morning everyone. The budget meeting is moved to Friday afternoon. ..."
TWO_VOICES = DATA / "two_voices.ogg"  # two espeak-ng voices taking turns, about 15.6 s


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """Write mono float samples as a 16 kHz 16-bit WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path


def long_speech(path: Path, seconds: float) -> Path:
    """Write ``seconds`` of speech: both clips in turn, half a second apart.

    Varied text matters: the same sentence over and over compresses so well that Whisper takes it for
    a hallucination and decodes it again at higher temperatures, many times slower.
    """
    gap = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    cycle = np.concatenate([decode_mono(MEETING, MEETING.name), gap, decode_mono(TWO_VOICES, TWO_VOICES.name), gap])
    total = int(seconds * SAMPLE_RATE)
    return write_wav(path, np.tile(cycle, total // cycle.shape[0] + 1)[:total])
