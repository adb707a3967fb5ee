"""Cue layout from segments: wrapping, cue length and speakers, called directly (pure functions)."""

from __future__ import annotations

import itertools

import msgspec

from actors.subtitles.layout import Segment, Turn, Word, build_cues, line_count, wrap_balanced
from actors.subtitles.profiles import PROFILES

NETFLIX = PROFILES["netflix"]
LONG_TEXT = (
    "the quarterly meeting moved to Friday afternoon because the finance team needs two more days to close "
    "the books and the product group wants to show the new dashboard to everyone before the review starts "
    "so please bring your laptops and your questions and we will try to finish before five"
)


def timed_words(text: str, start: float, step: float) -> list[Word]:
    return [
        Word(word=f" {w}", start=start + i * step, end=start + (i + 1) * step - 0.05)
        for i, w in enumerate(text.split())
    ]


def test_wrap_balanced_evens_out_two_lines_within_the_limit() -> None:
    lines = wrap_balanced("we will meet again on Friday afternoon in the big room", 42)
    assert len(lines) == 2
    assert all(len(line) <= 42 for line in lines)
    assert abs(len(lines[0]) - len(lines[1])) <= 8


def test_wrap_balanced_leaves_room_for_a_speaker_prefix_on_the_first_line() -> None:
    lines = wrap_balanced("a" * 10 + " " + "b" * 25 + " " + "c" * 5, 42, first_offset=12)
    assert len(lines[0]) + 12 <= 42


def test_long_segment_without_words_is_split_into_cues_of_at_most_max_duration() -> None:
    cues = build_cues([Segment(start=10.0, end=40.0, text=LONG_TEXT)], None, NETFLIX)

    assert len(cues) >= 5
    assert cues[0].start_s == 10.0
    assert 40.0 - 0.01 < cues[-1].end_s <= 40.5 + 1e-6  # the last word's end plus at most the linger
    for cue in cues:
        assert cue.end_s - cue.start_s <= 7.0 + 1e-6
        lines = cue.text.split("\n")
        assert len(lines) <= 2
        assert all(len(line) <= 42 for line in lines)
    for a, b in itertools.pairwise(cues):
        assert a.end_s <= b.start_s + 1e-6
    assert " ".join(c.text.replace("\n", " ") for c in cues) == LONG_TEXT


def test_cues_never_hold_more_lines_than_max_lines() -> None:
    one_line = msgspec.structs.replace(NETFLIX, max_chars_per_line=20, max_lines=1, max_duration_s=60.0)
    cues = build_cues([Segment(start=0.0, end=60.0, text=LONG_TEXT)], None, one_line)
    assert all("\n" not in c.text and len(c.text) <= 20 for c in cues)


def test_words_take_their_own_speaker_so_a_turn_change_mid_segment_splits_the_cue() -> None:
    words = timed_words("hello everyone thanks for coming yes thanks for having me", 0.0, 0.5)
    segment = Segment(start=0.0, end=5.0, text="unused when words are present", words=words)
    turns = [Turn(speaker="SPEAKER_00", start=0.0, end=2.4), Turn(speaker="SPEAKER_01", start=2.6, end=5.0)]

    cues = build_cues([segment], turns, NETFLIX)

    assert [(c.speaker, c.text.replace("\n", " ")) for c in cues] == [
        ("SPEAKER_00", "hello everyone thanks for coming"),
        ("SPEAKER_01", "yes thanks for having me"),
    ]
    assert cues[0].start_s == 0.0
    assert cues[1].start_s == 2.5


def test_segment_without_words_takes_the_speaker_who_talks_most_during_it() -> None:
    turns = [Turn(speaker="A", start=0.0, end=1.0), Turn(speaker="B", start=1.0, end=4.0)]
    cues = build_cues([Segment(start=0.0, end=4.0, text="a short sentence")], turns, NETFLIX)
    assert [c.speaker for c in cues] == ["B"]


def test_word_in_a_gap_between_turns_takes_the_nearest_speaker() -> None:
    words = [Word(word="late", start=10.0, end=10.4)]
    turns = [Turn(speaker="A", start=0.0, end=3.0), Turn(speaker="B", start=10.6, end=12.0)]
    cues = build_cues([Segment(start=10.0, end=10.4, text="late", words=words)], turns, NETFLIX)
    assert cues[0].speaker == "B"


def test_line_count_counts_a_word_longer_than_the_line_as_its_own_line() -> None:
    assert line_count("x" * 50 + " tail", 42) == 2
