"""The three-voice conversation, built once and stored: a stable measuring stick for diarization.

``clips/conversation.flac`` (16 kHz mono, 16-bit FLAC) and ``clips/conversation.rttm`` (its truth) are
written by ``build_conversation`` (recordings.py: Allison in English, Carlo in Italian, Piper's joe, two
overlaps). Piper's synthesis differs slightly between processes, so a fresh build is not the same audio;
the bench and the e2e test read the stored copy, and their DER compares across runs.

Remake it (needs asterisk-core-sounds-en/it, piper-tts and the joe voice; the tests need none of them):
    .venv/bin/python -m tests.speech.conversation
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from actors.ffmpeg.pcm import SAMPLE_RATE, decode_mono
from tests.media import run_ffmpeg
from tests.speech.recordings import Conversation, build_conversation

CLIPS = Path(__file__).resolve().parent / "clips"
AUDIO = CLIPS / "conversation.flac"
TRUTH = CLIPS / "conversation.rttm"
_URI = "conversation"


def read_rttm(path: Path) -> list[tuple[str, float, float]]:
    """Return the ``(speaker, start_s, end_s)`` turns of an RTTM file."""
    turns = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            turns.append((fields[7], start, round(start + duration, 3)))
    return turns


def write_rttm(path: Path, turns: list[tuple[str, float, float]]) -> Path:
    """Write ``(speaker, start_s, end_s)`` turns as RTTM."""
    lines = [
        f"SPEAKER {_URI} 1 {start:.3f} {end - start:.3f} <NA> <NA> {speaker} <NA> <NA>" for speaker, start, end in turns
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def stored_conversation() -> Conversation:
    """Return the committed conversation (its FLAC and RTTM truth)."""
    turns = read_rttm(TRUTH)
    duration_s = len(decode_mono(AUDIO, AUDIO.name)) / SAMPLE_RATE
    return Conversation(path=AUDIO, turns=turns, speakers=len({s for s, _, _ in turns}), duration_s=duration_s)


def main() -> int:
    """Build the conversation afresh and store it as FLAC + RTTM next to the other clips."""
    with tempfile.TemporaryDirectory() as folder:
        built = build_conversation(Path(folder) / "conversation.wav")
        run_ffmpeg("-i", str(built.path), "-c:a", "flac", "-compression_level", "12", str(AUDIO))
    write_rttm(TRUTH, built.turns)
    print(f"{AUDIO} ({AUDIO.stat().st_size} bytes, {built.duration_s:.1f} s), {TRUTH} ({len(built.turns)} turns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
