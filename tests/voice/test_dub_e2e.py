"""tts.synthesize_subtitles and ffmpeg.mux_audio on real Piper speech and real ffmpeg."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness import Client, System
from tests.media import make_video
from tests.voice.signal import energy, loud_spans

DUB = "tts.synthesize_subtitles"

FIT_SRT = """1
00:00:00,500 --> 00:00:01,500
This sentence is far too long to be spoken in one short second of time.

2
00:00:03,500 --> 00:00:04,500
Another sentence that is much too long for the single second it is given.

3
00:00:05,000 --> 00:00:06,500
Next line.
"""


def write(share: Path, rel: str, text: str) -> str:
    target = share / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return rel


async def test_a_long_line_borrows_the_silence_after_its_cue_and_one_that_cannot_fit_is_reported(
    voice_system: System, voice_client: Client
) -> None:
    srt = write(voice_system.share_dir, "subs/fit.srt", FIT_SRT)
    await voice_client.submit(DUB, {"subtitle_path": srt, "max_speed": 1.5, "merge": False}, task_id="fit")
    record = await voice_client.wait("fit", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][DUB]["output"]
    # no LLM is configured here: the line that does not fit even at 1.5x is reported, not shortened
    assert (out["cues_count"], out["cues_fitted"], out["lines_too_long"], out["lines_shortened"]) == (3, 2, 1, 0)
    manifest = json.loads((voice_system.share_dir / out["manifest_path"]).read_text())
    first, second, last = manifest["cues"]
    # too long for its 1 s cue: it borrows the silence up to 0.1 s before the next line, sped up as little as needed
    assert first["decision"] == "sped_up"
    assert 1.0 < first["speed"] < 1.5
    assert (first["window_start_s"], first["window_end_s"]) == (0.25, 3.4)  # and starts up to 0.25 s early
    assert first["cut_s"] == 0
    assert 0 < first["overrun_s"] <= out["max_overrun_s"]
    assert first["audio_end_s"] <= 3.45
    # this one would need far more than 1.5x: played at 1.5x and cut before the next line
    assert (second["decision"], second["speed"]) == ("too_long", 1.5)
    assert second["cut_s"] > 0
    assert second["audio_end_s"] <= last["start_s"] - 0.05
    assert (last["decision"], last["speed"], last["overrun_s"], last["cut_s"]) == ("natural", 1.0, 0, 0)
    assert abs(manifest["duration_s"] - 6.5) < 0.05
    assert set(manifest["speaking_rates_cps"]) == {"en_US-joe-medium"}

    track = voice_system.share_dir / out["audio_path"]
    assert energy(track, 0.0, 0.2) < 0.005
    assert energy(track, 0.25, first["audio_end_s"]) > 0.03
    assert energy(track, first["audio_end_s"] + 0.05, second["start_s"] - 0.02) < 0.005
    assert energy(track, second["start_s"], second["audio_end_s"]) > 0.03
    assert energy(track, last["audio_end_s"] + 0.05, 6.5) < 0.005


async def test_a_subtitle_file_that_does_not_parse_fails_the_stage_naming_the_line(
    voice_system: System, voice_client: Client
) -> None:
    broken = write(
        voice_system.share_dir,
        "subs/broken.srt",
        "1\n00:00:01,000 --> 00:00:02,000\nHello.\n\n2\n00:00:03 -> 4\nBad.\n",
    )
    await voice_client.submit(DUB, {"subtitle_path": broken}, task_id="broken")
    record = await voice_client.wait("broken", timeout_s=60)
    assert record["status"] == "FAILED", record
    assert record["error"]["type"] == "InputFileError"
    assert "line 6" in record["error"]["message"]
    assert not (voice_system.share_dir / "workflows/broken" / DUB / "dub.wav").exists()


THREE_LINES = """1
00:00:01,000 --> 00:00:02,500
Hello there, my friend.

2
00:00:03,500 --> 00:00:05,000
The meeting is on Friday.

3
00:00:06,000 --> 00:00:07,500
See you then.
"""
WINDOWS = [(1.0, 2.5), (3.5, 5.0), (6.0, 7.5)]
MUX = "ffmpeg.mux_audio"


def streams(path: Path) -> list[dict]:
    """Describe each stream: type, codec, language, default flag, packet count and a digest of its packets."""
    import hashlib

    import av

    with av.open(str(path)) as container:
        described = [
            {
                "type": s.type,
                "codec": s.codec_context.name,
                "language": s.metadata.get("language"),
                "default": bool(s.disposition & av.stream.Disposition.default),
                "packets": 0,
                "digest": hashlib.sha256(),
            }
            for s in container.streams
        ]
        for packet in container.demux():
            if packet.size:
                described[packet.stream.index]["packets"] += 1
                described[packet.stream.index]["digest"].update(bytes(packet))
    for entry in described:
        entry["digest"] = entry["digest"].hexdigest()
    return described


def mux(mode: str, **extra: object) -> dict:
    return {
        "video_path": "videos/clip.mp4",
        "audio_path": "${{ stages.tts.synthesize_subtitles.output.audio_path }}",
        "mode": mode,
        **extra,
    }


async def test_three_lines_dubbed_onto_a_video_keep_the_picture_and_land_in_their_cue_windows(
    voice_system: System, voice_client: Client
) -> None:
    share = voice_system.share_dir
    video = make_video(share / "videos" / "clip.mp4", 8.0)
    srt = write(share, "subs/three.srt", THREE_LINES)
    for task_id, mode, extra in (
        ("dub", "replace", {}),
        ("mix", "mix", {}),
        ("track", "add_track", {"language": "fra"}),
    ):
        # every line inside its own cue (no borrowed silence), sped up to 1.5x where needed
        fitted = {"subtitle_path": srt, "duration_s": 8.0, "borrow": False, "max_speed": 1.5}
        await voice_client.submit(DUB, fitted, task_id=task_id)
        await voice_client.submit(MUX, mux(mode, **extra), task_id=task_id)
    records = {t: await voice_client.wait(t, timeout_s=90) for t in ("dub", "mix", "track")}
    for record in records.values():
        assert record["status"] == "SUCCESS", record
    dubbed = records["dub"]["stages"][DUB]["output"]
    assert (dubbed["cues_count"], dubbed["cues_fitted"], dubbed["max_overrun_s"]) == (3, 3, 0.0)

    original = streams(video)
    outputs = {t: share / r["stages"][MUX]["output"]["video_path"] for t, r in records.items()}
    for task_id, path in outputs.items():
        assert abs(records[task_id]["stages"][MUX]["output"]["duration_s"] - 8.0) < 0.05
        picture = streams(path)[0]
        assert picture == original[0]  # the same packets: copied, not re-encoded
    replaced = outputs["dub"]
    assert [s["type"] for s in streams(replaced)] == ["video", "audio"]
    spans = loud_spans(replaced)  # a comma's pause may split a line's speech in two
    for start, end in spans:
        assert any(a - 0.05 <= start < end <= b + 0.05 for a, b in WINDOWS), spans
    for a, b in WINDOWS:
        assert any(a - 0.05 <= start < b for start, _ in spans), spans
        assert energy(replaced, a, b) > 0.03
    assert energy(replaced, 0.0, 0.9) < 0.005  # the tone is gone

    # mix: the tone stays under the voice at a fifth of its level
    assert 0.005 < energy(outputs["mix"], 0.1, 0.9) < 0.3 * energy(video, 0.1, 0.9)
    assert energy(outputs["mix"], 1.2, 2.2) > energy(outputs["mix"], 0.1, 0.9)
    tracks = streams(outputs["track"])
    assert [(s["type"], s["language"], s["default"]) for s in tracks[1:]] == [
        ("audio", original[1]["language"], True),
        ("audio", "fra", False),
    ]
    assert tracks[1]["digest"] == original[1]["digest"]


async def test_a_track_longer_than_the_video_is_trimmed_and_a_bad_mode_is_refused(
    voice_system: System, voice_client: Client
) -> None:
    share = voice_system.share_dir
    make_video(share / "videos" / "short.mp4", 2.0)
    await voice_client.submit(
        "tts.synthesize", {"text": "This sentence takes longer than two seconds to say."}, task_id="long"
    )
    await voice_client.submit(
        MUX,
        {"video_path": "videos/short.mp4", "audio_path": "${{ stages.tts.synthesize.output.audio_path }}"},
        task_id="long",
    )
    record = await voice_client.wait("long", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    assert record["stages"]["tts.synthesize"]["output"]["duration_s"] > 2.5
    out = share / record["stages"][MUX]["output"]["video_path"]
    from actors.ffmpeg.media import probe

    audio = next(s for s in probe(out, "out")["streams"] if s["type"] == "audio")
    assert abs(audio["duration_s"] - 2.0) < 0.05

    for bad, pointer in (({"mode": "dub"}, "$.input_data.mode"), ({"language": "fr"}, "$.input_data.language")):
        input_data = {"video_path": "v.mp4", "audio_path": "a.wav", **bad}
        status, body, _ = await voice_client.request(
            "POST", "/v1/tasks", json={"task_name": MUX, "input_data": input_data}
        )
        assert status == 422, body
        assert body["errors"][0]["pointer"] == pointer


OVERLAPPING = """1
00:00:00,500 --> 00:00:03,000
The first speaker goes on and on about the weather.

2
00:00:01,500 --> 00:00:03,500
Someone interrupts.
"""


async def test_overlapping_cues_are_fitted_one_after_the_other_never_over_each_other(
    voice_system: System, voice_client: Client
) -> None:
    srt = write(voice_system.share_dir, "subs/overlap.srt", OVERLAPPING)
    await voice_client.submit(DUB, {"subtitle_path": srt}, task_id="overlap")
    record = await voice_client.wait("overlap", timeout_s=60)
    assert record["status"] == "SUCCESS", record
    out = record["stages"][DUB]["output"]
    first, second = json.loads((voice_system.share_dir / out["manifest_path"]).read_text())["cues"]
    # the first line's window ends 0.1 s before the interruption starts; it cannot fit at 1.25x: reported, cut there
    assert (first["window_end_s"], first["decision"], first["speed"]) == (1.4, "too_long", 1.25)
    assert first["audio_end_s"] <= 1.4 < second["audio_start_s"] == 1.5
    track = voice_system.share_dir / out["audio_path"]
    assert energy(track, first["audio_end_s"] + 0.01, second["audio_start_s"]) < 0.005
    assert energy(track, second["audio_start_s"], second["audio_end_s"]) > 0.03
