"""Speak every subtitle line with its voice, plan its room and speed, and lay the lines on one track.

Each line is spoken at natural speed first. Its room is its cue, plus the silence it may borrow after it
(and a little before it); when the speech is longer than the room it is sped up (pitch kept) up to
``max_speed``; when even that is not enough, the LLM is asked for a shorter line within the budget the
voice's measured speaking rate gives, which is spoken again. When the request allows it
(``max_video_stretch``), a line that still does not fit gets a longer window by slowing the picture down
over its span (``stretched``: the factor it needs at ``max_speed``, at most the bound), and every later
line comes that much later. A line that still does not fit is reported (``too_long``): it plays at
``max_speed`` and is cut with a short fade before the next line. The manifest records each line's decision.

The planner works in source time (the cues' times); what is laid on the track is in the stretched film's
time: a line's start plus the time the spans before it added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import structlog

from actors.ffmpeg.retime import VideoStretch, to_output
from actors.llm.client import Endpoint
from actors.tts.audio import retime, trim_silence
from actors.tts.engine import Speech, SpeechEngine, VoiceChoice
from actors.tts.plan import GAP_S, MIN_STRETCH_S, Cue, Room, SpeakingRates, budget_chars, room
from actors.tts.shorten import shorter
from actors.tts.timeline import Placed, fit_samples, samples_at, track_length
from actors.worker.runtime import TaskRun

log = structlog.get_logger(__name__)

_DEFAULT_RATE = 22050


@dataclass(frozen=True)
class Line:
    """One line to speak: its cue (or merged cues), its words and the voice for its speaker."""

    cue: Cue
    choice: VoiceChoice

    @property
    def text(self) -> str:
        """Return the words of the line."""
        return self.cue.text


@dataclass(frozen=True)
class Fitting:
    """How lines are fitted: ``stretch`` (plan and speed up to ``max_speed``) or ``none``; the track's length.

    ``borrow``: lines may use the silence around their cue; ``llm``: the endpoint that shortens lines
    that do not fit (None: they are reported); ``max_video_stretch``: how much slower the picture may play
    over a line that fits nowhere else (None: never).
    """

    fit: str
    max_speed: float
    duration_s: float | None
    language: str | None
    borrow: bool = True
    llm: Endpoint | None = None
    max_video_stretch: float | None = None


@dataclass
class _Take:
    """A line as spoken: its words, samples, room and speed, and the decision that led there."""

    text: str
    speech: Speech | None
    room: Room
    speed: float
    decision: str
    original_text: str | None = None
    stretch: VideoStretch | None = None
    shift_s: float = 0.0  # what the spans before this line added: its place on the stretched film

    @property
    def spoken_s(self) -> float:
        return self.speech.duration_s if self.speech is not None else 0.0

    @property
    def window_s(self) -> float:
        """Return the seconds the line may take on the stretched film."""
        return self.room.length_s + (self.stretch.added_s if self.stretch is not None else 0.0)

    @property
    def start_s(self) -> float:
        """Return where the line starts on the stretched film."""
        return self.room.start_s + self.shift_s


def _speak(engine: SpeechEngine, text: str, choice: VoiceChoice, language: str | None) -> Speech | None:
    if not text:
        return None
    speech = trim_silence(engine.synthesize(text, choice, 1.0, language))
    return speech if speech.samples.size else None


def _next_start(lines: list[Line], i: int, duration_s: float | None) -> float:
    end_s = duration_s if duration_s is not None else math.inf
    return min(lines[i + 1].cue.start_s, end_s) if i + 1 < len(lines) else end_s


class _Planner:
    """Plans one line after another, keeping where the previous line ended and each voice's rate."""

    def __init__(self, run: TaskRun, engine: SpeechEngine, lines: list[Line], how: Fitting) -> None:
        self.run, self.engine, self.lines, self.how = run, engine, lines, how
        self.rates = SpeakingRates()
        self.previous_end_s = -math.inf
        self.stretches: list[VideoStretch] = []
        self.added_s = 0.0

    def _room(self, i: int, needed_s: float) -> Room:
        cue = self.lines[i].cue
        next_s = _next_start(self.lines, i, self.how.duration_s)
        if not self.how.borrow:
            return Room(start_s=cue.start_s, end_s=min(cue.end_s, next_s))
        track_end_s = self.how.duration_s if self.how.duration_s is not None else math.inf
        return room(
            cue, previous_end_s=self.previous_end_s, next_start_s=next_s, track_end_s=track_end_s, needed_s=needed_s
        )

    def _take(self, i: int, text: str, speech: Speech | None) -> _Take:
        cue = self.lines[i].cue
        needed_s = speech.duration_s if speech is not None else 0.0
        where = self._room(i, needed_s)
        speed = 1.0
        if self.how.fit == "stretch" and where.length_s > 0 and needed_s > where.length_s:
            speed = needed_s / where.length_s
        borrowed = where.end_s > cue.end_s + 1e-6 or where.start_s < cue.start_s - 1e-6
        decision = "sped_up" if speed > 1.0 else "borrowed" if borrowed else "natural"
        return _Take(text=text, speech=speech, room=where, speed=speed, decision=decision)

    def plan(self, i: int) -> _Take:
        line = self.lines[i]
        speech = _speak(self.engine, line.text, line.choice, self.how.language)
        self.rates.add(line.choice.label, line.text, speech.duration_s if speech is not None else 0.0)
        take = self._take(i, line.text, speech)
        if take.speed > self.how.max_speed + 1e-6:
            take = self._shortened(i, take)
        if take.speed > self.how.max_speed + 1e-6 and take.decision == "shortened":
            take = self._shortened(i, take)  # once more, to a budget cut by what the first answer still overran
        if take.speed > self.how.max_speed + 1e-6:
            needed_s = take.spoken_s / self.how.max_speed
            take.speed, take.decision = self.how.max_speed, "too_long"
            take.stretch = self._stretch(take, needed_s)
            if take.stretch is not None and take.window_s >= needed_s - 1e-3:
                take.decision = "stretched"
                log.info("dub_line_stretched", index=i, factor=take.stretch.factor, added_s=take.stretch.added_s)
            else:
                log.warning("dub_line_too_long", index=i, start_s=line.cue.start_s, chars=len(take.text))
        take.shift_s = self.added_s
        if take.stretch is not None:
            self.stretches.append(take.stretch)
            self.added_s += take.stretch.added_s
        return take

    def _stretch(self, take: _Take, needed_s: float) -> VideoStretch | None:
        """Return the span to slow down so that the line's window holds ``needed_s`` (at most the bound)."""
        bound = self.how.max_video_stretch
        if bound is None or bound <= 1.0 or self.how.fit != "stretch":
            return None
        start_s = round(max(take.room.start_s, self.stretches[-1].end_s if self.stretches else 0.0), 3)
        end_s = round(take.room.end_s, 3)
        if end_s - start_s < MIN_STRETCH_S:
            return None
        factor = (needed_s - (take.room.length_s - (end_s - start_s))) / (end_s - start_s)
        factor = min(bound, math.ceil(factor * 10_000) / 10_000)
        return VideoStretch(start_s=start_s, end_s=end_s, factor=factor) if factor > 1.0 else None

    def _shortened(self, i: int, take: _Take) -> _Take:
        line = self.lines[i]
        rate = self.rates.rate(line.choice.label)
        if self.how.llm is None or rate is None:
            return take
        budget = budget_chars(rate, take.room.length_s, self.how.max_speed)
        if take.decision == "shortened":  # the first answer, spoken, was still too long: ask for what it overran
            fits = take.room.length_s * self.how.max_speed / max(take.spoken_s, 1e-3)
            budget = min(budget, int(len(take.text) * fits) - 1)
            if budget < 1:
                return take
        text = shorter(self.how.llm, self.run.settings.llm, line.text, budget, self.how.language)
        if text is None:
            return take
        speech = _speak(self.engine, text, line.choice, self.how.language)
        if speech is None or speech.duration_s >= take.spoken_s:
            return take
        again = self._take(i, text, speech)
        again.decision, again.original_text = "shortened", line.text
        log.info("dub_line_shortened", index=i, chars=len(line.text), budget=budget, shortened_chars=len(text))
        return again

    def place(self, i: int, take: _Take, rate: int, work: Path) -> Speech | None:
        """Return the line's samples at ``rate``, sped up and cut so it ends before the next line."""
        if take.speech is None:
            return None
        next_s = _next_start(self.lines, i, self.how.duration_s)
        limit_s = next_s - GAP_S if self.how.borrow else next_s
        limit_s = max(limit_s, take.room.start_s)
        fitted = retime(self.run, take.speech, take.speed, rate, work)
        fits = fitted.duration_s <= take.window_s + 0.05
        keep_s = take.window_s if fits or take.stretch is not None else limit_s - take.room.start_s
        keep = samples_at(take.start_s + keep_s, rate) - samples_at(take.start_s, rate)
        samples = fit_samples(fitted.samples, keep, rate, fade=not fits)
        placed = Speech(samples=samples, sample_rate=rate)
        # in source time: a stretched line holds its whole span
        self.previous_end_s = take.room.end_s if take.stretch is not None else take.room.start_s + placed.duration_s
        return placed


def _entry(i: int, line: Line, take: _Take, fitted: Speech | None, stretches: list[VideoStretch]) -> Placed:
    start_s = take.start_s
    audio_end_s = start_s + (fitted.duration_s if fitted is not None else 0.0)
    natural_end_s = start_s + take.spoken_s / take.speed
    cue_end_s = to_output(line.cue.end_s, stretches)
    return Placed(
        index=i,
        cues=list(line.cue.indices),
        start_s=round(to_output(line.cue.start_s, stretches), 3),
        end_s=round(cue_end_s, 3),
        text=take.text,
        original_text=take.original_text,
        speaker=line.cue.speaker,
        voice=line.choice.label if line.text else None,
        spoken_s=round(take.spoken_s, 3),
        speed=round(take.speed, 4),
        decision=take.decision if take.speech is not None else "silent",
        window_start_s=round(start_s, 3),
        window_end_s=round(start_s + take.window_s, 3),
        audio_start_s=round(start_s, 3),
        audio_end_s=round(audio_end_s, 3),
        overrun_s=round(max(0.0, audio_end_s - cue_end_s), 3),
        cut_s=round(max(0.0, natural_end_s - audio_end_s), 3) if fitted is not None else 0.0,
        shift_s=round(take.shift_s, 3),
        video_stretch=take.stretch,
    )


@dataclass(frozen=True)
class Dubbed:
    """A dub: the track, the manifest of every line, each voice's speaking rate (chars/s), the slowed spans."""

    track: Speech
    manifest: list[Placed]
    rates: dict[str, float]
    stretches: list[VideoStretch]


def dub(run: TaskRun, engine: SpeechEngine, lines: list[Line], how: Fitting, work: Path) -> Dubbed:
    """Return the dubbed track (on the stretched film's time), the manifest and what was learnt on the way.

    Raises:
        TaskCancelled: the stage was cancelled (checked before each line).
        EngineFailed, EngineUnavailable, TransientError: from the engine or the LLM.
    """
    import numpy as np  # noqa: PLC0415

    planner = _Planner(run, engine, lines, how)
    rate: int | None = None
    pieces: list[tuple[int, Speech]] = []
    manifest: list[Placed] = []
    for i, line in enumerate(lines):
        run.checkpoint()
        take = planner.plan(i)
        rate = rate or (take.speech.sample_rate if take.speech is not None else None)
        fitted = planner.place(i, take, rate or _DEFAULT_RATE, work)
        if fitted is not None:
            pieces.append((samples_at(take.start_s, fitted.sample_rate), fitted))
        manifest.append(_entry(i, line, take, fitted, planner.stretches))
        run.progress((i + 1) / len(lines))
    rate = rate or _DEFAULT_RATE
    last_end = max((p.audio_end_s for p in manifest), default=0.0)
    duration_s = how.duration_s + planner.added_s if how.duration_s is not None else None
    total_s = track_length(to_output(lines[-1].cue.end_s, planner.stretches) if lines else 0.0, duration_s, last_end)
    track = np.zeros(samples_at(total_s, rate), dtype=np.float32)
    for start, piece in pieces:
        chunk = piece.samples[: max(0, track.shape[0] - start)]
        track[start : start + chunk.shape[0]] = chunk
    return Dubbed(Speech(samples=track, sample_rate=rate), manifest, planner.rates.summary(), planner.stretches)
