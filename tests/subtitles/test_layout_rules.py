"""Cue layout on hand-made word lists: timing on the speech, reading rules, profiles and the QC report."""

from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.errors import InputError
from actors.subtitles.formats import Cue
from actors.subtitles.layout import Segment, Timing, Turn, Word, build_cues
from actors.subtitles.linebreak import break_lines
from actors.subtitles.profiles import PROFILES, char_budget, resolve_profile
from actors.subtitles.qc import RULES, check_cues

NETFLIX = PROFILES["netflix"]
GAP_25 = 2 / 25


def words_at(text: str, start: float, step: float = 0.3, length: float = 0.25) -> list[Word]:
    return [
        Word(word=f" {w}", start=start + i * step, end=start + i * step + length) for i, w in enumerate(text.split())
    ]


def segment(words: list[Word]) -> Segment:
    return Segment(start=words[0].start, end=words[-1].end, text="".join(w.word for w in words), words=words)


def flat(cue: Cue) -> str:
    return cue.text.replace("\n", " ")


def test_a_pause_longer_than_0_6_s_ends_a_cue_even_when_both_parts_would_fit_one() -> None:
    words = [*words_at("I will be there", 1.0), *words_at("see you soon", 2.2 + 0.7)]
    cues = build_cues([segment(words)], None, NETFLIX)
    assert [flat(c) for c in cues] == ["I will be there", "see you soon"]
    assert cues[1].start_s == 2.9


def test_a_short_pause_keeps_one_cue() -> None:
    words = [*words_at("I will be there", 1.0), *words_at("see you soon", 2.2 + 0.15)]
    assert [flat(c) for c in build_cues([segment(words)], None, NETFLIX)] == ["I will be there see you soon"]


def test_a_cue_starts_at_its_first_word_and_lingers_half_a_second_after_its_last() -> None:
    cues = build_cues([segment(words_at("good evening to you all", 3.0))], None, NETFLIX)
    assert cues[0].start_s == 3.0
    assert cues[0].end_s == pytest.approx(3.0 + 4 * 0.3 + 0.25 + 0.5)


def test_the_linger_never_runs_into_the_next_cue_and_leaves_two_frames() -> None:
    words = [*words_at("first part of it", 0.0), *words_at("second part", 1.15 + 0.65)]
    for fps in (25.0, 24.0):
        cues = build_cues([segment(words)], None, NETFLIX, fps=fps)
        assert len(cues) == 2
        assert cues[1].start_s - cues[0].end_s == pytest.approx(2 / fps, abs=0.002)


def test_a_short_cue_is_extended_into_the_silence_after_it() -> None:
    cues = build_cues([segment(words_at("Yes.", 5.0, length=0.2))], None, NETFLIX)
    assert cues[0].start_s == 5.0
    assert cues[0].end_s - cues[0].start_s >= NETFLIX.min_duration_s - 1e-6
    assert check_cues(cues, NETFLIX).compliant_share == 1.0


def test_a_fast_short_cue_joins_its_neighbour_of_the_same_speaker() -> None:
    # "Okay." alone would need more time than the speech around it leaves; with the next words it reads in time
    words = [*words_at("Okay.", 0.0, length=0.2), *words_at("so we are done here then", 0.45, step=0.22, length=0.2)]
    later = words_at("next one", 3.5)
    cues = build_cues([segment(words), segment(later)], None, NETFLIX)
    assert flat(cues[0]) == "Okay. so we are done here then"
    assert check_cues(cues, NETFLIX).compliant_share == 1.0


def test_a_cue_never_holds_two_speakers() -> None:
    words = words_at("are you coming yes I am", 0.0, step=0.25)
    turns = [Turn(speaker="A", start=0.0, end=0.74), Turn(speaker="B", start=0.76, end=2.0)]
    cues = build_cues([segment(words)], turns, NETFLIX)
    assert [(c.speaker, flat(c)) for c in cues] == [("A", "are you coming"), ("B", "yes I am")]
    assert cues[0].end_s <= cues[1].start_s - GAP_25 + 1e-3


def test_long_speech_is_cut_at_sentence_ends() -> None:
    text = (
        "We moved the meeting to Friday afternoon. The finance team needs two more days to close the books, "
        "and the product group wants to show the dashboard."
    )
    cues = build_cues([segment(words_at(text, 0.0, step=0.33))], None, NETFLIX)
    assert len(cues) >= 2
    assert flat(cues[0]) == "We moved the meeting to Friday afternoon."
    for cue in cues:
        assert len(cue.text.split("\n")) <= 2
        assert all(len(line) <= 42 for line in cue.text.split("\n"))


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("I went to the store yesterday, and then I bought some bread", "I went to the store yesterday,"),
        ("Please enter the number of the account you want to reach now", "Please enter the number of"),
    ],
)
def test_line_breaks_follow_punctuation_and_never_end_on_an_article(text: str, first: str) -> None:
    lines = break_lines(text, 42, 2)
    assert lines is not None
    assert lines[0] == first or not lines[0].endswith((" the", " a", " an", " of the"))
    if "," in text:
        assert lines[0] == first
    assert all(len(line) <= 42 for line in lines)


def test_break_lines_refuses_text_that_needs_more_lines_than_allowed() -> None:
    assert break_lines("word " * 30, 42, 2) is None


def test_the_children_profile_reads_slower_than_netflix() -> None:
    assert PROFILES["children"].max_cps == 17
    assert char_budget(2.0, PROFILES["children"]) == 34
    assert char_budget(10.0, NETFLIX) == 84


def test_an_unknown_profile_name_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(InputError, match="netflix, bbc, children, custom"):
        resolve_profile("youtube")


@pytest.mark.parametrize(
    ("numbers", "message"),
    [
        ({"min_duration_s": 8.0, "max_duration_s": 7.0}, "min_duration_s .* is above max_duration_s"),
        ({"max_lines": 5}, "max_lines"),
        ({"max_cps": 20.0, "speed": 3}, "speed"),
    ],
)
def test_contradictory_custom_numbers_are_refused(numbers: dict[str, float], message: str) -> None:
    base = {"max_chars_per_line": 40, "max_lines": 2, "min_duration_s": 1.0, "max_duration_s": 6.0, "max_cps": 15}
    with pytest.raises(InputError, match=message):
        resolve_profile("custom", {**base, **numbers})


def test_a_custom_profile_takes_every_number() -> None:
    numbers = {"max_chars_per_line": 32, "max_lines": 1, "min_duration_s": 1.0, "max_duration_s": 5.0, "max_cps": 15}
    profile = resolve_profile("custom", numbers)
    assert (profile.name, profile.max_chars_per_line, profile.max_lines, profile.max_cps) == ("custom", 32, 1, 15.0)
    cues = build_cues([segment(words_at("one two three four five six seven eight nine ten", 0.0, 0.4))], None, profile)
    assert all("\n" not in c.text and len(c.text) <= 32 for c in cues)


def test_the_report_names_each_broken_rule_per_cue_and_counts_them() -> None:
    cues = [
        Cue(start_s=0.0, end_s=0.5, text="Far too quick to read here"),  # short and fast
        Cue(start_s=0.52, end_s=3.0, text="x" * 43),  # too long a line; the gap before it is too short
        Cue(start_s=4.0, end_s=12.0, text="one\ntwo\nthree"),  # too long on screen, three lines
    ]
    report = check_cues(cues, NETFLIX)
    assert [c.broken for c in report.cues] == [
        ["min_duration_s", "max_cps", "min_gap_frames"],
        ["max_chars_per_line"],
        ["max_lines", "max_duration_s"],
    ]
    assert report.rules == {
        "max_chars_per_line": 1,
        "max_lines": 1,
        "min_duration_s": 1,
        "max_duration_s": 1,
        "max_cps": 1,
        "min_gap_frames": 1,
    }
    assert (report.cue_count, report.compliant_cues, report.compliant_share) == (3, 0, 0.0)


def test_an_empty_transcript_gives_no_cues_and_a_report_that_says_so() -> None:
    cues = build_cues([], None, NETFLIX)
    report = check_cues(cues, NETFLIX)
    assert cues == []
    assert (report.cue_count, report.compliant_share) == (0, 1.0)
    assert report.note is not None
    assert "no cues" in report.note


_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)


@st.composite
def spoken(draw: st.DrawFn) -> tuple[list[Segment], list[Turn] | None]:
    """Words with random lengths, durations and pauses (some over 0.6 s), optional punctuation and speakers."""
    count = draw(st.integers(1, 60))
    at = draw(st.floats(0, 5))
    words = []
    for _ in range(count):
        text = draw(_WORD) + draw(st.sampled_from(["", "", "", ",", "."]))
        length = draw(st.floats(0.05, 1.2))
        words.append(Word(word=f" {text}", start=round(at, 3), end=round(at + length, 3)))
        at += length + draw(st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.7, 1.5]))
    turns = None
    if draw(st.booleans()):
        cuts = sorted(draw(st.lists(st.floats(0, at), max_size=4)))
        edges = [0.0, *cuts, at + 1]
        turns = [Turn(speaker=f"S{i % 2}", start=a, end=b) for i, (a, b) in enumerate(itertools.pairwise(edges))]
    return [segment(words)], turns


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spoken(), st.sampled_from(["netflix", "bbc", "children"]), st.sampled_from([23.976, 25.0, 30.0]))
def test_any_word_list_yields_cues_that_keep_every_rule_or_are_reported(
    data: tuple[list[Segment], list[Turn] | None], name: str, fps: float
) -> None:
    segments, turns = data
    profile = PROFILES[name]
    timing = Timing()
    cues = build_cues(segments, turns, profile, timing, fps)
    words = [w for s in segments for w in s.words or []]

    # every word shows once, in order; cues follow each other with the frame gap
    assert " ".join(flat(c) for c in cues).split() == [w.word.strip() for w in words]
    for a, b in itertools.pairwise(cues):
        assert b.start_s - a.end_s >= 2 / fps - 0.002
    report = check_cues(cues, profile, fps)
    assert set(report.rules) == set(RULES)
    assert report.compliant_cues == sum(1 for c in report.cues if not c.broken)
    for i, (cue, row) in enumerate(zip(cues, report.cues, strict=True)):
        # what the layout controls always holds; a word longer than the line is the one exception
        long_word = any(len(w) > profile.max_chars_per_line - 12 for w in flat(cue).split())
        assert long_word or not {"max_chars_per_line", "max_lines", "min_gap_frames"} & set(row.broken)
        # what the speech decides (too short, too fast, too long) is reported only when no silence was left
        following = cues[i + 1].start_s if i + 1 < len(cues) else float("inf")
        squeezed = cue.end_s >= following - 2 / fps - 0.002
        full = cue.end_s - cue.start_s >= profile.max_duration_s - 0.002
        single = len(flat(cue).split()) == 1
        if {"min_duration_s", "max_cps"} & set(row.broken):
            assert squeezed or full, (cue, row)
        if "max_duration_s" in row.broken:
            assert single, (cue, row)


def test_profiles_are_frozen_and_named_after_their_key() -> None:
    for name, profile in PROFILES.items():
        assert profile.name == name
        with pytest.raises((AttributeError, TypeError)):
            profile.max_cps = 99  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(NETFLIX), type=type(NETFLIX)) == NETFLIX
