"""Long audio cut into chunks at silences, in a stream, the same way again when a run resumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actors.faster_whisper.alignment import speech_regions
from actors.faster_whisper.chunked import cut_chunks, stream_samples
from tests.subtitles.prompts import lay_out, write_wav


def _blocks(audio: np.ndarray, size: int = 16000 * 7):
    for i in range(0, len(audio), size):
        yield audio[i : i + size]


def test_chunks_are_cut_in_silences_near_their_target_length_and_cover_the_audio() -> None:
    audio, _ = lay_out(30, seed=5)
    chunks = list(cut_chunks(_blocks(audio), chunk_s=40.0))

    assert len(chunks) >= 3
    assert np.array_equal(np.concatenate([c for _, c in chunks]), audio)
    assert [first for first, _ in chunks] == [0, *np.cumsum([len(c) for _, c in chunks[:-1]]).tolist()]
    for first, samples in chunks[:-1]:
        cut = first + len(samples)
        assert 10.0 <= len(samples) / 16000 <= 40.0
        around = audio[cut - 800 : cut + 800]
        assert 10 * np.log10(np.mean(around**2)) < -55, cut / 16000  # a silence (the room tone is at -60 dBFS)


def test_a_resumed_run_cuts_where_the_first_run_did(tmp_path: Path) -> None:
    audio, _ = lay_out(30, seed=5)
    path = write_wav(tmp_path / "long.wav", audio)
    whole = [(first, len(c)) for first, c in cut_chunks(stream_samples(path, "long.wav"), chunk_s=40.0)]
    resumed = [(first, len(c)) for first, c in cut_chunks(stream_samples(path, "long.wav"), 40.0, whole[1][0])]
    assert resumed == whole[1:]


def test_speech_regions_start_within_a_few_milliseconds_of_each_utterance() -> None:
    audio, utterances = lay_out(8, seed=2)
    starts = [r.start for r in speech_regions(audio)]
    errors = [min(abs(s - u.start_s) for s in starts) for u in utterances]
    assert max(errors) < 0.1, errors
    assert sorted(errors)[len(errors) // 2] < 0.03, errors
