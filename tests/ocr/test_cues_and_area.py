"""Merging per-frame text into cues, and finding the subtitle band, on hand-made inputs."""

from __future__ import annotations

from actors.paddleocr.cue_merge import frames_to_cues
from actors.paddleocr.ocr_pass import FrameText
from actors.paddleocr.subtitle_area import find_band


def frames(texts: list[str], step: float = 0.1) -> list[FrameText]:
    return [FrameText(time_s=round(i * step, 3), text=t, score=0.9, ocr=True) for i, t in enumerate(texts)]


def test_consecutive_frames_with_noisy_readings_become_one_cue_with_the_majority_text() -> None:
    texts = ["", "Hello world"] + ["Hello world"] * 5 + ["He1lo world", "Hello  world"] + ["", "", "Bye now"] * 1
    texts += ["Bye now"] * 4
    cues = frames_to_cues(frames(texts), 0.1)
    assert [(c.start_s, c.end_s, c.text) for c in cues] == [(0.1, 0.9, "Hello world"), (1.1, 1.6, "Bye now")]


def test_a_single_misread_frame_neither_makes_a_cue_nor_splits_one() -> None:
    texts = ["Same subtitle here"] * 5 + ["#@!"] + ["Same subtitle here"] * 5
    cues = frames_to_cues(frames(texts), 0.1)
    assert [(c.start_s, c.end_s, c.text) for c in cues] == [(0.0, 1.1, "Same subtitle here")]


def test_cues_come_out_sorted_even_from_unsorted_frames() -> None:
    unsorted = list(reversed(frames(["First one"] * 4 + ["", "Second one"] * 1 + ["Second one"] * 3)))
    assert [c.text for c in frames_to_cues(unsorted, 0.1)] == ["First one", "Second one"]


def test_frames_without_text_give_no_cues() -> None:
    assert frames_to_cues(frames(["", "  ", ""]), 0.1) == []


def test_the_band_is_where_text_recurs_not_a_one_off_title() -> None:
    subtitle = (100.0, 210.0, 380.0, 240.0)
    title = (50.0, 20.0, 430.0, 60.0)
    keyframes = [[subtitle], [subtitle, title], [], [(120.0, 212.0, 360.0, 241.0)], [subtitle]]
    guess = find_band(keyframes, 480, 270)
    assert guess is not None
    x1, y1, x2, y2 = guess.area
    assert (x1, x2) == (0, 480)
    assert 195 <= y1 <= 210
    assert 241 <= y2 <= 255
    assert guess.frames_with_text == 4
    assert guess.confidence == 1.0


def test_no_text_boxes_means_no_band() -> None:
    assert find_band([[], [(0.0, 0.0, 479.0, 269.0)]], 480, 270) is None  # a whole-frame box is not a text line
