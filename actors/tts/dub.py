"""Speak every subtitle line with its voice, fit it to its cue and lay the lines on one track."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import structlog

from actors.tts.audio import retime, trim_silence
from actors.tts.engine import Speech, SpeechEngine, VoiceChoice
from actors.tts.timeline import Placed, fit_samples, plan_line, samples_at, track_length
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)

_DEFAULT_RATE = 22050


@dataclass(frozen=True)
class Line:
    """One cue to speak: its window, its words and the voice for its speaker."""

    start_s: float
    end_s: float
    text: str
    speaker: str | None
    choice: VoiceChoice


@dataclass(frozen=True)
class Fitting:
    """How lines are fitted: ``stretch`` (speed up to ``max_speed``) or ``none``; the track's length."""

    fit: str
    max_speed: float
    duration_s: float | None
    language: str | None


def _speak(engine: SpeechEngine, line: Line, language: str | None) -> Speech | None:
    if not line.text:
        return None
    speech = trim_silence(engine.synthesize(line.text, line.choice, 1.0, language))
    return speech if speech.samples.size else None


def _limit(lines: list[Line], i: int, duration_s: float | None) -> float:
    end_s = duration_s if duration_s is not None else math.inf
    return min(lines[i + 1].start_s, end_s) if i + 1 < len(lines) else end_s


def _place(
    run: TaskRun, line: Line, speech: Speech | None, rate: int, *, limit_s: float, how: Fitting, work: Path
) -> tuple[Speech | None, float, float]:
    """Return the fitted samples of one line, the speed applied and the seconds cut at the next line."""
    if speech is None:
        return None, 1.0, 0.0
    plan = plan_line(speech.duration_s, line.start_s, line.end_s, limit_s=limit_s, fit=how.fit, max_speed=how.max_speed)
    fitted = retime(run, speech, plan.speed, rate, work)
    keep = samples_at(line.start_s + plan.keep_s, rate) - samples_at(line.start_s, rate)
    samples = fit_samples(fitted.samples, keep, rate, fade=plan.cut_s > 0)
    return Speech(samples=samples, sample_rate=rate), plan.speed, plan.cut_s


def _entry(i: int, line: Line, speech: Speech | None, fitted: Speech | None, *, speed: float, cut_s: float) -> Placed:
    audio_end_s = line.start_s + (fitted.duration_s if fitted is not None else 0.0)
    return Placed(
        index=i,
        start_s=round(line.start_s, 3),
        end_s=round(line.end_s, 3),
        text=line.text,
        speaker=line.speaker,
        voice=line.choice.label if line.text else None,
        spoken_s=round(speech.duration_s if speech is not None else 0.0, 3),
        speed=speed,
        audio_start_s=round(line.start_s, 3),
        audio_end_s=round(audio_end_s, 3),
        overrun_s=round(max(0.0, audio_end_s - line.end_s), 3),
        cut_s=cut_s,
    )


def dub(run: TaskRun, engine: SpeechEngine, lines: list[Line], how: Fitting, work: Path) -> tuple[Speech, list[Placed]]:
    """Return the dubbed track and the manifest of every cue.

    Raises:
        TaskCancelled: the stage was cancelled (checked before each line).
        EngineFailed, EngineUnavailable, TransientError: from the engine.
    """
    import numpy as np  # noqa: PLC0415

    rate: int | None = None
    pieces: list[tuple[int, Speech]] = []
    manifest: list[Placed] = []
    for i, line in enumerate(lines):
        run.checkpoint()
        speech = _speak(engine, line, how.language)
        rate = rate or (speech.sample_rate if speech is not None else None)
        limit_s = _limit(lines, i, how.duration_s)
        fitted, speed, cut_s = _place(run, line, speech, rate or _DEFAULT_RATE, limit_s=limit_s, how=how, work=work)
        if fitted is not None:
            pieces.append((samples_at(line.start_s, fitted.sample_rate), fitted))
        manifest.append(_entry(i, line, speech, fitted, speed=speed, cut_s=cut_s))
        run.progress((i + 1) / len(lines))
    rate = rate or _DEFAULT_RATE
    last_end = max((p.audio_end_s for p in manifest), default=0.0)
    total_s = track_length(lines[-1].end_s if lines else 0.0, how.duration_s, last_end)
    track = np.zeros(samples_at(total_s, rate), dtype=np.float32)
    for start, piece in pieces:
        chunk = piece.samples[: max(0, track.shape[0] - start)]
        track[start : start + chunk.shape[0]] = chunk
    return Speech(samples=track, sample_rate=rate), manifest
