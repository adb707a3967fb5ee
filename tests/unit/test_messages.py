"""Messages for clients: malformed references, unknown fields with suggestions, no server paths or errno."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.registry import get_spec
from actors.validation import InvalidInput, validate_submit
from state.references import malformed_reference
from state.storage import public_message


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("${{ ffmpeg.extract_audio.audio_path }}", "${{ ffmpeg.extract_audio.audio_path }}"),
        ("${{ stages.ffmpeg.probe.output.duration_s", "${{ stages.ffmpeg.probe.output.duration_s"),
        ("a ${{ stages.x.output.y }} b ${{ oops }}", "${{ oops }}"),
        ("${{ stages.ffmpeg.probe.output.duration_s }}", None),
        ("plain/path.mp4", None),
    ],
)
def test_malformed_references_are_found(value: str, bad: str | None) -> None:
    assert malformed_reference(value) == bad


def test_a_malformed_reference_is_refused_with_the_syntax_and_the_reference_it_meant() -> None:
    spec = get_spec("ffmpeg.probe")
    with pytest.raises(InvalidInput) as caught:
        validate_submit(spec, {"media_path": "${{ ffmpeg.extract_audio.audio_path }}"})
    assert caught.value.pointer == "$.input_data.media_path"
    message = str(caught.value)
    assert "${{ stages.<task_name>.output.<field> }}" in message
    assert "e.g. ${{ stages.ffmpeg.extract_audio.output.audio_path }}" in message


def test_an_unknown_field_next_to_a_reference_gets_the_same_suggestion() -> None:
    spec = get_spec("ffmpeg.probe")
    with pytest.raises(InvalidInput) as caught:
        validate_submit(spec, {"media_pth": "${{ stages.ffmpeg.extract_audio.output.audio_path }}"})
    assert caught.value.pointer == "$.input_data.media_pth"
    assert "did you mean `media_path`?" in str(caught.value)


def test_public_messages_drop_the_root_and_errno_numbers(tmp_path: Path) -> None:
    root = tmp_path / "share"
    root.mkdir()
    raw = f"[Errno 1094995529] Invalid data found when processing input: '{root.resolve()}/videos/a.mp4'"
    assert public_message(raw, root) == "Invalid data found when processing input: 'videos/a.mp4'"
    assert public_message(f"cannot open {root}", root) == "cannot open <storage root>"
