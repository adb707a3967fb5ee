"""Reference clips for cloning engines: each speaker's own clean lines cut from the film, with their words.

A line is clean when no other speaker's cue overlaps it. The longest clean lines of a speaker are taken
until the clip holds at least 8 s, never more than 15 s (what GPT-SoVITS-style engines want), joined in
time order with 0.2 s pauses; the prompt text is what those lines say, in that order. A speaker with less
clean speech gets what there is (at least 1 s); one with none gets no clip (and the default voice).
"""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

from actors.ffmpeg.pcm import decode_mono
from actors.subtitles.formats import Cue

MIN_S, MAX_S, LEAST_S = 8.0, 15.0, 1.0
_PAUSE_S = 0.2
_RATE = 32000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SpeakerClip:
    """A speaker's reference clip (a file) and what is said in it."""

    path: Path
    prompt_text: str
    duration_s: float


def pick_lines(cues: list[Cue], speaker: str) -> list[Cue]:
    """Return the clean lines of ``speaker`` making 8-15 s (longest first), in time order."""
    others = [c for c in cues if c.speaker != speaker]
    clean = [
        c
        for c in cues
        if c.speaker == speaker
        and c.text.strip()
        and not any(o.start_s < c.end_s and c.start_s < o.end_s for o in others)
    ]
    chosen: list[Cue] = []
    total = 0.0
    for cue in sorted(clean, key=lambda c: c.end_s - c.start_s, reverse=True):
        length = min(cue.end_s - cue.start_s, MAX_S)
        if total >= MIN_S:
            break
        if total + length + _PAUSE_S * len(chosen) > MAX_S:
            continue
        chosen.append(cue)
        total += length
    return sorted(chosen, key=lambda c: c.start_s) if total >= LEAST_S else []


def cut_clips(audio: Path, shown_as: str, cues: list[Cue], speakers: list[str], folder: Path) -> dict[str, SpeakerClip]:
    """Write one reference clip per speaker into ``folder``; speakers without clean speech are left out.

    Raises:
        InputFileError: the audio is not media ffmpeg can read.
    """
    import numpy as np  # noqa: PLC0415

    samples = decode_mono(audio, shown_as, _RATE)
    pause = np.zeros(round(_PAUSE_S * _RATE), dtype=np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    clips: dict[str, SpeakerClip] = {}
    for speaker in speakers:
        lines = pick_lines(cues, speaker)
        if not lines:
            continue
        parts = []
        for cue in lines:
            start = round(cue.start_s * _RATE)
            parts.extend([samples[start : start + round(min(cue.end_s - cue.start_s, MAX_S) * _RATE)], pause])
        clip = np.concatenate(parts[:-1])
        path = folder / f"{_UNSAFE.sub('_', speaker)}.wav"
        pcm = (np.clip(clip, -1.0, 1.0) * 32767).astype("<i2")
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(_RATE)
            out.writeframes(pcm.tobytes())
        text = " ".join(" ".join(c.text.split()) for c in lines)
        clips[speaker] = SpeakerClip(path=path, prompt_text=text, duration_s=round(clip.shape[0] / _RATE, 3))
    return clips
