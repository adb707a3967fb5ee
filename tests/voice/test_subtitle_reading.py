"""Reading the subtitle files a dub starts from: ASS as generate_files writes it, and strict SRT/WebVTT."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.errors import InputFileError
from actors.subtitles.formats import Cue, parse_ass, read_cues, to_ass
from actors.tts.text import sentences, spoken_line


def test_ass_written_by_generate_files_reads_back_with_speakers_and_times() -> None:
    cues = [
        Cue(start_s=1.0, end_s=2.5, text="Hello there,\nfriend.", speaker="SPEAKER_00"),
        Cue(start_s=3.25, end_s=4.0, text="{\\i1}Bye{\\i0}."),
    ]
    back = parse_ass(to_ass(cues))
    assert [(c.start_s, c.end_s, c.speaker) for c in back] == [(1.0, 2.5, "SPEAKER_00"), (3.25, 4.0, None)]
    assert [c.text for c in back] == ["Hello there,\nfriend.", "Bye."]


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("a.srt", "1\n00:00:01,000 --> 00:00:02,000\nHi.\n\n2\n00:00:03 -> 4\nBad.\n", "line 6"),
        ("b.srt", "1\n00:00:05,000 --> 00:00:02,000\nBackwards.\n", "line 2"),
        ("c.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi.\n\nno timing here\nBad.\n", "line 6"),
        ("d.ass", "[Events]\nDialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,Hi\n", "line 2"),
        (
            "e.ass",
            "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
            "Dialogue: 0,soon,0:00:02.00,Default,,0,0,0,,Hi\n",
            "line 3",
        ),
    ],
)
def test_strict_reading_names_the_line_that_does_not_parse(tmp_path: Path, name: str, text: str, line: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputFileError, match=line):
        read_cues(path, name, strict=True)


def test_lenient_reading_still_skips_blocks_without_timing(tmp_path: Path) -> None:
    path = tmp_path / "a.srt"
    path.write_text("1\n00:00:01,000 --> 00:00:02,000\nHi.\n\nstray text\n")
    assert [c.text for c in read_cues(path, "a.srt")] == ["Hi."]


def test_long_text_is_split_into_sentences_and_speaker_prefixes_pick_the_speaker() -> None:
    assert sentences("One. Two? Three!\n\nFour") == ["One.", "Two?", "Three!", "Four"]
    long = sentences("word, " * 200, max_chars=100)
    assert all(len(s) <= 100 for s in long)
    assert " ".join(long).split() == ("word, " * 200).split()
    assert spoken_line("SPEAKER_01: <i>Hi</i> there", None, set()) == ("Hi there", "SPEAKER_01")
    assert spoken_line("Ana: Hola", None, {"Ana"}) == ("Hola", "Ana")
    assert spoken_line("Note: this stays", None, {"Ana"}) == ("Note: this stays", None)
