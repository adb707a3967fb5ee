"""``subtitles.generate_files`` through the gateway and a real worker."""

from __future__ import annotations

import json
from pathlib import Path

from actors.subtitles.formats import parse_srt, parse_vtt
from tests.harness import Client

SENTENCE = "good morning everyone the meeting moves to Friday thanks for telling us Friday works for me"
WORDS = SENTENCE.split()


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def transcript_with_words() -> dict[str, object]:
    """Two faster-whisper segments with word times; the speaker changes inside the second one."""
    words = [
        {"word": f" {w}", "start": i * 0.4, "end": i * 0.4 + 0.35, "probability": 0.9} for i, w in enumerate(WORDS)
    ]
    return {
        "language": "en",
        "segments": [
            {"id": 0, "start": 0.0, "end": 2.75, "text": " " + " ".join(WORDS[:7]), "words": words[:7]},
            {"id": 1, "start": 2.8, "end": 6.75, "text": " " + " ".join(WORDS[7:]), "words": words[7:]},
        ],
    }


DIARIZATION = {
    "segments": [
        {"speaker": "SPEAKER_00", "start": 0.0, "end": 4.3},
        {"speaker": "SPEAKER_01", "start": 4.5, "end": 7.0},
    ]
}


async def test_generate_files_with_diarization_writes_all_three_formats_with_speakers(
    lang_client: Client, share: Path
) -> None:
    write_json(share / "gen1" / "segments.json", transcript_with_words())
    write_json(share / "gen1" / "diarization.json", DIARIZATION)

    await lang_client.submit(
        "subtitles.generate_files",
        {
            "segments_file": "gen1/segments.json",
            "diarization_file": "gen1/diarization.json",
            "formats": ["srt", "vtt", "ass"],
            "max_chars_per_line": 30,
        },
        task_id="gen-speakers",
    )
    record = await lang_client.wait("gen-speakers")

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["subtitles.generate_files"]["output"]
    folder = "workflows/gen-speakers/subtitles.generate_files"
    assert out["srt_path"] == f"{folder}/subtitles.srt"
    assert out["vtt_path"] == f"{folder}/subtitles.vtt"
    assert out["ass_path"] == f"{folder}/subtitles.ass"
    assert out["json_path"] == f"{folder}/subtitles.json"

    cues = json.loads((share / out["json_path"]).read_text())["cues"]
    assert out["cues_count"] == len(cues) >= 3
    by_speaker = [(c["speaker"], c["text"].replace("\n", " ")) for c in cues]
    # the second segment (2.8-6.75 s) changes speaker inside it, between "telling" (4.0 s) and "us" (4.4 s)
    spoken = {sp: " ".join(t for s, t in by_speaker if s == sp) for sp in ("SPEAKER_00", "SPEAKER_01")}
    assert spoken == {"SPEAKER_00": " ".join(WORDS[:11]), "SPEAKER_01": " ".join(WORDS[11:])}
    assert [s for s, _ in by_speaker] == sorted(s for s, _ in by_speaker)
    first_of_01 = next(c for c in cues if c["speaker"] == "SPEAKER_01")
    assert first_of_01["start_s"] == 4.4

    srt_text = (share / out["srt_path"]).read_text()
    for cue in parse_srt(srt_text):
        lines = cue.text.split("\n")
        assert len(lines) <= 2, cue
        assert all(len(line) <= 30 for line in lines), cue
    assert "SPEAKER_01: us" in srt_text
    vtt = parse_vtt((share / out["vtt_path"]).read_text())
    assert [c.speaker for c in vtt] == [c["speaker"] for c in cues]
    ass = (share / out["ass_path"]).read_text()
    assert ass.count("Dialogue: ") == len(cues)
    assert ",SPEAKER_01," in ass


async def test_generate_files_without_diarization_writes_srt_vtt_and_splits_long_segments(
    lang_client: Client, share: Path
) -> None:
    long_text = " ".join(f"word{i}" for i in range(60))
    write_json(
        share / "gen2" / "segments.json",
        {
            "segments": [
                {"start": 0.5, "end": 2.0, "text": " Hello there."},
                {"start": 3.0, "end": 23.0, "text": long_text},
            ]
        },
    )

    await lang_client.submit("subtitles.generate_files", {"segments_file": "gen2/segments.json"}, task_id="gen-plain")
    record = await lang_client.wait("gen-plain")

    assert record["status"] == "SUCCESS", record
    out = record["stages"]["subtitles.generate_files"]["output"]
    assert out.get("ass_path") is None
    srt = parse_srt((share / out["srt_path"]).read_text())
    vtt = parse_vtt((share / out["vtt_path"]).read_text())
    assert len(srt) == len(vtt) == out["cues_count"] >= 4
    assert srt[0].text == "Hello there."
    assert (srt[0].start_s, srt[0].end_s) == (0.5, 2.5)  # the last word's end plus the 0.5 s linger
    assert all(c.speaker is None for c in vtt)
    assert all(c.end_s - c.start_s <= 7.0 + 1e-3 for c in srt)
    assert 2.8 <= srt[1].start_s <= 3.0  # a fast cue may start up to 0.2 s before its speech, to be read in time
    assert srt[-1].end_s == 23.5
    assert out["profile"] == "netflix"
    qc = json.loads((share / out["qc_path"]).read_text())
    assert qc["cue_count"] == out["cues_count"]
    assert out["compliant_share"] == qc["compliant_share"] == qc["compliant_cues"] / qc["cue_count"]
    # 60 words in 20 s is about 20.5 characters a second: what cannot be read in time is reported, not hidden
    assert {rule for cue in qc["cues"] for rule in cue["broken"]} <= {"max_cps"}
    assert " ".join(c.text.replace("\n", " ") for c in srt[1:]) == long_text


async def test_generate_files_fails_naming_a_segments_file_of_the_wrong_shape(lang_client: Client, share: Path) -> None:
    write_json(share / "gen3" / "segments.json", {"segments": [{"start": "soon", "end": 1.0, "text": "x"}]})

    await lang_client.submit("subtitles.generate_files", {"segments_file": "gen3/segments.json"}, task_id="gen-bad")
    record = await lang_client.wait("gen-bad")

    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "InputFileError"
    assert "gen3/segments.json" in record["error"]["message"]
    assert "segments[0].start" in record["error"]["message"]
