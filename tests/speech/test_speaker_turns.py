"""Diarization files, pipeline configuration and the torchaudio install fix, without running a pipeline."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from actors.errors import EngineUnavailable, InputFileError
from actors.pyannote_audio.engine import pipeline_source
from actors.pyannote_audio.smooth import smooth_turns
from actors.pyannote_audio.turns import (
    DiarizationFile,
    Limits,
    Turn,
    find_problems,
    read_diarization,
    summarise,
)
from config.engines import PyannoteSettings
from taskgate.torchaudio_cpu import PARKED, fix

LIMITS = Limits(min_segment_s=0.2, max_segment_s=10.0, min_speakers=1, max_speakers=2)


def _file(*turns: tuple[str, float, float], duration_s: float | None = 30.0) -> DiarizationFile:
    return DiarizationFile(segments=[Turn(speaker=s, start=a, end=b) for s, a, b in turns], duration_s=duration_s)


def test_a_plausible_diarization_has_no_problems() -> None:
    assert find_problems(_file(("A", 0.0, 4.0), ("B", 4.0, 9.5), ("A", 10.0, 12.0)), LIMITS) == []


def test_short_long_inverted_and_late_segments_are_each_reported_with_their_index() -> None:
    found = find_problems(_file(("A", 0.0, 0.1), ("B", 1.0, 12.0), ("A", 5.0, 4.0), ("B", 29.0, 31.0)), LIMITS)
    assert [(p.kind, p.index) for p in found] == [
        ("too_short", 0),
        ("too_long", 1),
        ("invalid_times", 2),
        ("past_end", 3),
    ]
    assert "segment 1 (B, 1.000-12.000 s) lasts 11.000 s, over 10.0 s" in found[1].message


def test_speaker_count_out_of_range_and_empty_files_are_problems() -> None:
    found = find_problems(_file(("A", 0, 1), ("B", 1, 2), ("C", 2, 3)), LIMITS)
    assert [p.kind for p in found] == ["speaker_count"]
    assert found[0].message == "3 speakers, expected 1 to 2"
    assert [p.kind for p in find_problems(_file(), LIMITS)] == ["empty"]


def test_summary_counts_segments_and_speech_per_speaker_in_order_of_appearance() -> None:
    summary = summarise(_file(("B", 0, 1.5), ("A", 2, 3), ("B", 4, 5)).segments)
    assert [(s.speaker, s.segments_count, s.speech_s) for s in summary] == [("B", 2, 2.5), ("A", 1, 1.0)]


def test_reading_a_file_that_is_not_a_diarization_names_it(tmp_path: Path) -> None:
    good = tmp_path / "d.json"
    good.write_bytes(msgspec.json.encode({"segments": [{"speaker": "A", "start": 0, "end": 1}]}))
    assert read_diarization(good, "d.json").segments == [Turn(speaker="A", start=0.0, end=1.0)]
    bad = tmp_path / "bad.json"
    bad.write_text('{"turns": []}')
    with pytest.raises(InputFileError, match=r"'bad\.json' is not a diarization file"):
        read_diarization(bad, "bad.json")


def test_pipeline_is_the_bundled_one_by_default_and_others_say_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pipeline_source(PyannoteSettings()) == ("bundled", None)
    with pytest.raises(EngineUnavailable, match=r"set pyannote\.pipeline"):
        pipeline_source(PyannoteSettings(pipeline=""))
    with pytest.raises(EngineUnavailable, match=r"has no config\.yaml"):
        pipeline_source(PyannoteSettings(pipeline=str(tmp_path)))
    with pytest.raises(EngineUnavailable, match="does not exist"):
        pipeline_source(PyannoteSettings(pipeline=str(tmp_path / "gone")))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(EngineUnavailable, match=r"\$HF_TOKEN is not set"):
        pipeline_source(PyannoteSettings(pipeline="pyannote/speaker-diarization-community-1"))
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    assert pipeline_source(PyannoteSettings(pipeline="pyannote/speaker-diarization-community-1")) == (
        "pyannote/speaker-diarization-community-1",
        "hf_x",
    )


def test_local_pipeline_folder_needs_no_token(tiny_pipeline: Path) -> None:
    assert pipeline_source(PyannoteSettings(pipeline=str(tiny_pipeline))) == (str(tiny_pipeline), None)


def test_torchaudio_fix_parks_cuda_linked_libraries_only_for_a_cpu_torch(tmp_path: Path) -> None:
    (tmp_path / "_torchaudio.so").write_bytes(b"\x7fELF...libc10_cuda.so...")
    (tmp_path / "plain.so").write_bytes(b"\x7fELF...libc10.so...")
    assert fix(tmp_path, torch_has_cuda=False) == ["parked _torchaudio.so"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"_torchaudio.so{PARKED}", "plain.so"]
    assert fix(tmp_path, torch_has_cuda=False) == []
    assert fix(tmp_path, torch_has_cuda=True) == ["restored _torchaudio.so"]
    assert (tmp_path / "_torchaudio.so").is_file()


def test_installed_torchaudio_imports_next_to_the_cpu_torch() -> None:
    import torch
    import torchaudio.functional

    assert torchaudio.functional.resample(torch.zeros(1, 16000), 16000, 8000).shape == (1, 8000)


def _turns(*turns: tuple[str, float, float]) -> list[Turn]:
    return [Turn(speaker=s, start=a, end=b) for s, a, b in turns]


def test_an_overlap_onset_goes_to_the_speaker_who_takes_over_and_a_sliver_to_its_neighbour() -> None:
    # B's turn carries on past C's onset (a 0.2 s fragment wrongly given to A) until the split hands over to C
    turns = _turns(("A", 10.0, 15.5), ("B", 16.0, 20.5), ("A", 19.6, 19.8), ("C", 20.5, 21.5), ("B", 21.5, 21.65))
    assert smooth_turns(turns) == _turns(("A", 10.0, 15.5), ("B", 16.0, 20.5), ("C", 19.6, 21.65))


def test_fragments_without_a_newcomer_or_between_two_speakers_stay_as_they_are() -> None:
    far = _turns(("B", 16.0, 22.0), ("A", 19.6, 19.8), ("C", 22.0, 24.0))  # C takes over 2.2 s later
    between = _turns(("A", 1.0, 2.0), ("B", 2.0, 2.2), ("C", 2.2, 3.0))  # a sliver between two other voices
    long_enough = _turns(("A", 1.0, 2.0), ("B", 2.0, 2.4), ("A", 2.4, 3.0))
    for turns in (far, between, long_enough):
        assert smooth_turns(turns) == sorted(turns, key=lambda t: (t.start, t.end))
