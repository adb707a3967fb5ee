import pytest

from state import BrokenReference, DependencyNotReady, StageRecord
from state.references import find_references, is_reference, resolve


def stage(name: str, status: str, output: dict | None = None) -> StageRecord:
    return StageRecord(task_name=name, status=status, input_data={}, input_hash="x", created_at_ms=1, output=output)


STAGES = {
    "ffmpeg.extract_audio": stage(
        "ffmpeg.extract_audio", "SUCCESS", {"audio_path": "a.wav", "sample_rate": 16000, "frames": [{"path": "f0.png"}]}
    ),
    "faster_whisper.transcribe_audio": stage("faster_whisper.transcribe_audio", "RUNNING"),
    "llm.proofread_subtitles": stage("llm.proofread_subtitles", "FAILED"),
}


def test_whole_reference_keeps_the_output_type() -> None:
    value = {"rate": "${{ stages.ffmpeg.extract_audio.output.sample_rate }}"}
    assert resolve(value, STAGES) == {"rate": 16000}


def test_reference_inside_text_is_substituted() -> None:
    assert resolve("in ${{stages.ffmpeg.extract_audio.output.audio_path}}!", STAGES) == "in a.wav!"


def test_list_index_in_path() -> None:
    assert resolve("${{ stages.ffmpeg.extract_audio.output.frames.0.path }}", STAGES) == "f0.png"


def test_unfinished_stage_is_not_ready() -> None:
    with pytest.raises(DependencyNotReady):
        resolve("${{ stages.faster_whisper.transcribe_audio.output.segments_file }}", STAGES)


def test_failed_stage_cannot_be_referenced() -> None:
    with pytest.raises(BrokenReference, match="ended FAILED"):
        resolve("${{ stages.llm.proofread_subtitles.output.subtitle_path }}", STAGES)


def test_unknown_stage_and_field_are_named() -> None:
    with pytest.raises(BrokenReference, match=r"no stage 'nope\.task'"):
        resolve("${{ stages.nope.task.output.x }}", STAGES)
    with pytest.raises(BrokenReference, match="no output field 'missing'"):
        resolve("${{ stages.ffmpeg.extract_audio.output.missing }}", STAGES)


def test_find_and_detect_references() -> None:
    data = {"a": ["${{ stages.x.y.output.z }}"], "b": {"c": "${{ stages.p.output.q }} and more"}, "d": 3}
    assert find_references(data) == {"x.y", "p"}
    assert is_reference(" ${{ stages.x.output.z }} ")
    assert not is_reference("${{ stages.x.output.z }} tail")
